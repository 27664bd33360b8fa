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


def test_the_process_gets_its_gpu_before_the_first_collective(monkeypatch):
    import torch
    import torch.distributed as dist
    from fastreid.utils import comm
    calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", lambda rank: calls.append(f"set_device {rank}"))
    monkeypatch.setattr(dist, "init_process_group", lambda **kw: calls.append(kw["backend"]))
    monkeypatch.setattr(comm, "synchronize", lambda: calls.append("barrier"))
    monkeypatch.setattr(dist, "new_group", lambda ranks: object())
    monkeypatch.setattr(comm, "_LOCAL_PROCESS_GROUP", None)
    distributed.distributed_worker(1, lambda: calls.append("main"), 2, 2, 0, "tcp://127.0.0.1:1", ())
    assert calls == ["set_device 1", "nccl", "barrier", "main"]


def ranks_running_means(*flags):
    import json
    import os
    import subprocess
    import sys
    probe = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ddp_buffers_probe.py")
    run = subprocess.run([sys.executable, probe, *flags], capture_output=True, text=True,
                         timeout=900, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_ranks_evaluate_with_rank_0s_batchnorm_statistics_through_defaulttrainers_ddp():
    rank0, rank1 = ranks_running_means()
    assert rank0 == rank1
    rank0, rank1 = ranks_running_means("--fastreid")  # fastreid's broadcast_buffers=False
    assert max(abs(a - b) for a, b in zip(rank0, rank1)) > 0.1
