"""fastreid's evaluation: each defect reproduced with fastreid's original code, then fixed."""
import subprocess

import numpy as np
import pytest
import torch

import fastreid_multimodal  # noqa: F401
from fastreid_multimodal import build_rank_cylib, compat
from fastreid_multimodal.engine import load_config


def _random_ranking_inputs(seed=0):
    rng = np.random.default_rng(seed)
    dist = rng.random((6, 20)).astype(np.float32)
    q_pids, g_pids = np.arange(6), np.repeat(np.arange(10), 2)
    q_cams, g_cams = np.zeros(6, np.int64), np.tile([0, 1], 10)
    return dist, q_pids, g_pids, q_cams, g_cams


def test_evaluator_does_not_exit_when_cython_build_fails(monkeypatch):
    from fastreid.evaluation import rank_cylib, reid_evaluation
    from fastreid.evaluation.rank import evaluate_py

    class Failed:
        returncode = 2

    monkeypatch.setattr(subprocess, "run", lambda *a, **k: Failed())
    with pytest.raises(SystemExit):  # fastreid's compile helper kills the process
        compat.original(rank_cylib, "compile_helper")()
    monkeypatch.setattr(build_rank_cylib, "cython_ranking_available", lambda: False)
    monkeypatch.setattr(reid_evaluation.ReidEvaluator, "_compile_attempted", False, raising=False)
    cfg = load_config()
    reid_evaluation.ReidEvaluator(cfg, num_query=1)  # logs the fallback, does not exit
    assert reid_evaluation.ReidEvaluator._compile_attempted
    # the Python fallback ranks exactly like the Cython build
    from fastreid.evaluation.rank_cylib.rank_cy import evaluate_cy
    args = _random_ranking_inputs()
    cmc_py, ap_py, _ = evaluate_py(*args, max_rank=10, use_metric_cuhk03=False)
    cmc_cy, ap_cy, _ = evaluate_cy(*args, 10, False)
    np.testing.assert_allclose(cmc_py, cmc_cy, atol=1e-6)
    np.testing.assert_allclose(ap_py, ap_cy, atol=1e-6)


def test_rerank_runs_on_cpu(no_cuda):
    from fastreid.utils import compute_dist
    feats = torch.nn.functional.normalize(torch.randn(30, 8), dim=1)
    with pytest.raises(Exception):
        compat.original(compute_dist, "compute_jaccard_distance")(feats, k1=5, k2=3)
    dist = compute_dist.build_dist(feats[:10], feats[10:], metric="jaccard", k1=5, k2=3)
    assert dist.shape == (10, 20) and np.isfinite(dist).all()


def _tiny_baseline():
    from fastreid.modeling.meta_arch import build_model
    cfg = load_config(opts=["MODEL.BACKBONE.DEPTH", "18x", "MODEL.BACKBONE.FEAT_DIM", "512",
                            "MODEL.HEADS.NUM_CLASSES", "3", "MODEL.HEADS.WITH_BNNECK", "True"])
    torch.manual_seed(0)
    return build_model(cfg).eval()


def test_flip_test_normalises_once():
    model = _tiny_baseline()
    images = torch.rand(2, 3, 64, 32) * 255
    with torch.no_grad():
        expected = model({"images": images.flip(dims=[3]).clone()})

        def flip_pass():  # what fastreid's inference_on_dataset does with TEST.FLIP
            inputs = {"images": images.clone()}
            model(inputs)
            inputs["images"] = inputs["images"].flip(dims=[3])
            return model(inputs)

        from fastreid.modeling.meta_arch.baseline import Baseline
        with compat.unpatched(Baseline, "preprocess_image"):
            assert not torch.allclose(flip_pass(), expected, atol=1e-4)
        torch.testing.assert_close(flip_pass(), expected)
