"""A machine without CUDA, also on one with a GPU: the condition most fastreid defects need."""
import pytest
import torch


def _no_driver(*args, **kwargs):
    raise RuntimeError("Found no NVIDIA driver on your system (tests/compat no_cuda fixture)")


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    for name in ("Stream", "set_device", "current_stream"):
        monkeypatch.setattr(torch.cuda, name, _no_driver)
    monkeypatch.setattr(torch.Tensor, "cuda", _no_driver)
