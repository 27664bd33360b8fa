"""fastreid's multi-process launch without CUDA."""
import importlib

import pytest

import fastreid_multimodal  # noqa: F401
from fastreid_multimodal import compat
from fastreid_multimodal.compat import distributed


def test_distributed_worker_needs_no_cuda(no_cuda):
    launch = importlib.import_module("fastreid.engine.launch")
    with pytest.raises(AssertionError, match="cuda"):
        compat.original(launch, "_distributed_worker")(0, print, 2, 2, 0, "tcp://127.0.0.1:1", ())
    assert launch._distributed_worker is distributed.distributed_worker
