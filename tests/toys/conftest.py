"""The toy problems train for a few hundred steps: one thread, so that they take the same path (and
the same float rounding) on every machine, and leave the other cores to whatever runs beside."""
import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
