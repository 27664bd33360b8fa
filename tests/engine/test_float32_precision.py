"""SOLVER.TF32: TF32 matmuls and convolutions while training on CUDA, full float32 in evaluation."""
import pytest
import torch
from fastreid.engine import DefaultTrainer

import fastreid_multimodal  # noqa: F401
from fastreid_multimodal.engine.defaults import load_config
from fastreid_multimodal.engine.trainer import MultimodalTrainer, float32_precision


@pytest.fixture(autouse=True)
def restore_precision():
    before = torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32
    yield
    torch.set_float32_matmul_precision(before[0])
    torch.backends.cudnn.allow_tf32 = before[1]


def precision():
    return torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32


def test_the_block_sets_and_restores():
    torch.set_float32_matmul_precision("medium")
    torch.backends.cudnn.allow_tf32 = True
    with float32_precision(tf32=False):
        assert precision() == ("highest", False)
        with float32_precision(tf32=True):
            assert precision() == ("high", True)
        assert precision() == ("highest", False)
    assert precision() == ("medium", True)


@pytest.mark.parametrize("device,tf32,expected", [("cuda", True, ("high", True)),
                                                  ("cuda", False, ("highest", False)),
                                                  ("cpu", True, ("highest", False))])
def test_training_uses_tf32_only_on_cuda_when_asked(monkeypatch, device, tf32, expected):
    seen = []
    monkeypatch.setattr(DefaultTrainer, "train", lambda self: seen.append(precision()))
    trainer = object.__new__(MultimodalTrainer)
    trainer.cfg = load_config("", ["SOLVER.TF32", str(tf32)], check_files=False)
    trainer.cfg.defrost()
    trainer.cfg.MODEL.DEVICE = device  # load_config would fall back to the CPU here
    trainer.train()
    assert seen == [expected]


def test_evaluation_runs_in_full_float32_inside_tf32_training(monkeypatch):
    seen = []
    monkeypatch.setattr(DefaultTrainer, "test", classmethod(lambda cls, cfg, model: seen.append(precision()) or {}))
    cfg = load_config("", ["DATASETS.TESTS", "()"], check_files=False)
    with float32_precision(tf32=True):
        MultimodalTrainer.test(cfg, model=None)
        assert precision() == ("high", True)  # training goes on in TF32 after the evaluation
    assert seen == [("highest", False)]
