"""Shared fixtures: a tiny generated data set in FastReID's Market1501 layout, and a runner for
tools/ scripts in a subprocess (the way a user runs them)."""
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import fastreid_multimodal  # noqa: F401  (patches fastreid before any test imports it)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def fixed_global_random_state():
    """Every test starts from the same global random state (random, numpy, torch), whatever ran
    before it: FastReID's samplers, for one, draw their seed from numpy's global generator."""
    import random

    import torch
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def project_logs_reach_caplog():
    """The project logs to "fastreid.multimodal", a child of FastReID's logger, which stops
    propagation once FastReID's setup_logger ran in this process; caplog listens at the root."""
    fastreid_logger = logging.getLogger("fastreid")
    before = fastreid_logger.propagate
    fastreid_logger.propagate = True
    yield
    fastreid_logger.propagate = before


def make_market_like(root, num_train_ids=12, num_test_ids=8, cams=3, per_cam=2, size=(64, 32), seed=0):
    """Write a Market-1501-v15.09.15 folder of generated people under ``root``.

    Each identity is an upper/lower colour pair plus a stripe pattern; every image adds its own
    brightness, shift and noise, so identities are learnable but not pixel-identical."""
    rng = np.random.default_rng(seed)
    base = os.path.join(root, "Market-1501-v15.09.15")
    h, w = size
    for split in ("bounding_box_train", "query", "bounding_box_test"):
        os.makedirs(os.path.join(base, split), exist_ok=True)
    pids = list(range(1, num_train_ids + num_test_ids + 1))
    looks = {pid: (rng.integers(0, 256, 3), rng.integers(0, 256, 3), int(rng.integers(2, 6)))
             for pid in pids}
    frame = 0
    for pid in pids:
        upper, lower, stripe = looks[pid]
        for cam in range(1, cams + 1):
            for k in range(per_cam):
                img = np.zeros((h, w, 3), np.float32) + rng.integers(0, 256, 3)  # background
                top, mid, bottom = h // 8, h // 2, h - h // 10
                left, right = w // 4 + rng.integers(-2, 3), 3 * w // 4 + rng.integers(-2, 3)
                img[top:mid, left:right] = upper
                img[mid:bottom, left:right] = lower
                img[top:mid:stripe * 2, left:right] *= 0.6
                img *= rng.uniform(0.7, 1.3)
                img += rng.normal(0, 8, img.shape)
                frame += 1
                name = f"{pid:04d}_c{cam}s1_{frame:06d}_00.jpg"
                if pid <= num_train_ids:
                    split = "bounding_box_train"
                else:
                    split = "query" if (cam == 1 and k == 0) else "bounding_box_test"
                Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(
                    os.path.join(base, split, name), quality=95)
    return root


@pytest.fixture(scope="session")
def market_root(tmp_path_factory):
    return make_market_like(str(tmp_path_factory.mktemp("datasets")))


def run_tool(script, *args, env=None, timeout=600):
    """Run ``python tools/<script> args`` from the repository; returns CompletedProcess."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("OMP_NUM_THREADS", "2")
    return subprocess.run([sys.executable, os.path.join(REPO, "tools", script), *map(str, args)],
                          cwd=REPO, env=full_env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def tool():
    return run_tool


@pytest.fixture(scope="session")
def tool_runner():
    """``tool`` for module- and session-scoped fixtures."""
    return run_tool
