"""The chunked ranking gives FastReID's evaluate_rank metrics exactly (Python and Cython)."""
import numpy as np
import pytest
import torch
from fastreid.evaluation.rank import evaluate_rank
from fastreid.utils.compute_dist import build_dist

from fastreid_multimodal.evaluation import chunked_ranking
from fastreid_multimodal.evaluation.chunked_ranking import chunked_evaluate_rank


@pytest.fixture(autouse=True, params=["compiled", "torch"])
def ranking_path(request, monkeypatch):
    """Every test runs on the compiled one-pass kernel and on the torch path (GPU / not built)."""
    if request.param == "compiled":
        if chunked_ranking._compiled_match_ranks is None:
            pytest.skip("the _match_ranks extension is not built (make install builds it)")
    else:
        monkeypatch.setattr(chunked_ranking, "_compiled_match_ranks", None)
    return request.param


def planted(num_q=40, num_g=300, ids=30, cams=4, dim=16, seed=0, noise=1.0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(ids, dim))
    q_pids, g_pids = rng.integers(0, ids, num_q), rng.integers(0, ids, num_g)
    q = centres[q_pids] + noise * rng.normal(size=(num_q, dim))
    g = centres[g_pids] + noise * rng.normal(size=(num_g, dim))
    return (torch.tensor(q, dtype=torch.float32), torch.tensor(g, dtype=torch.float32), q_pids,
            g_pids, rng.integers(0, cams, num_q), rng.integers(0, cams, num_g))


def compare(q, g, q_pids, g_pids, q_cams, g_cams, metric, use_cython, chunk_size=7, max_rank=50):
    dist = build_dist(q, g, metric)
    want = evaluate_rank(dist, q_pids, g_pids, q_cams, g_cams, max_rank=max_rank,
                         use_cython=use_cython)
    got = chunked_evaluate_rank(q, g, q_pids, g_pids, q_cams, g_cams, metric=metric,
                                max_rank=max_rank, chunk_size=chunk_size)
    np.testing.assert_allclose(got[0], want[0], atol=1e-6)
    assert len(got[1]) == len(want[1])
    np.testing.assert_allclose(got[1], want[1], atol=1e-6)
    np.testing.assert_allclose(got[2], want[2], atol=1e-6)
    return got


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("use_cython", [False, True])
def test_random_features_with_same_camera_positives(metric, use_cython):
    data = planted()
    compare(*data, metric, use_cython)
    q_pids, q_cams = data[2], data[4]
    assert ((q_pids[:, None] == data[3][None]) & (q_cams[:, None] == data[5][None])).any()


@pytest.mark.parametrize("use_cython", [False, True])
def test_queries_without_a_valid_match_are_skipped(use_cython):
    q, g, q_pids, g_pids, q_cams, g_cams = planted(num_q=20, num_g=60)
    q_pids = q_pids.copy()
    q_pids[:5] = 999  # not in the gallery
    g_cams = g_cams.copy()
    g_cams[g_pids == q_pids[5]] = q_cams[5]  # only same-camera matches: removed, so skipped
    got = compare(q, g, q_pids, g_pids, q_cams, g_cams, "cosine", use_cython)
    assert len(got[1]) < 15


def tied(cross_identity, seed=3):
    """Features on a few grid points: many exact distance ties. With ``cross_identity`` False
    every point belongs to one identity, so ties never mix a match with a non-match."""
    rng = np.random.default_rng(seed)
    base = torch.tensor(rng.integers(-2, 3, size=(6, 4)), dtype=torch.float32)
    g_point, q_point = rng.integers(0, 6, 40), rng.integers(0, 6, 9)
    if cross_identity:
        g_pids, q_pids = rng.integers(0, 4, 40), rng.integers(0, 4, 9)
    else:
        g_pids, q_pids = g_point, q_point
    return base[q_point], base[g_point], q_pids, g_pids, np.zeros(9, int), np.ones(40, int)


@pytest.mark.parametrize("use_cython", [False, True])
def test_exact_distance_ties_within_an_identity(use_cython):
    got = compare(*tied(cross_identity=False), "euclidean", use_cython, chunk_size=4, max_rank=10)
    assert got[1]


def test_exact_distance_ties_across_identities_follow_gallery_order(monkeypatch):
    # a match and a non-match at the same distance: FastReID's order is numpy's (unstable) sort,
    # i.e. arbitrary; ours is gallery order, which is FastReID's algorithm on a stable sort
    import fastreid.evaluation.rank as rank
    stable = rank.np.argsort

    class StableNumpy:
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def argsort(a, axis=-1):
            return stable(a, axis=axis, kind="stable")

    monkeypatch.setattr(rank, "np", StableNumpy())
    compare(*tied(cross_identity=True), "euclidean", use_cython=False, chunk_size=4, max_rank=10)


@pytest.mark.parametrize("use_cython", [False, True])
def test_one_image_gallery(use_cython):
    q, g, q_pids, g_pids, q_cams, g_cams = planted(num_q=5, num_g=1)
    q_pids[:] = g_pids[0]
    q_cams[:] = g_cams[0] + 1
    compare(q, g, q_pids, g_pids, q_cams, g_cams, "cosine", use_cython, max_rank=1)


def test_hand_computed_ranking():
    # one query, gallery distances 0.1 (match), 0.2 (other), 0.3 (same camera match: removed),
    # 0.4 (match): kept order = match, other, match -> AP = (1/1 + 2/3) / 2, INP = 2/3
    q = torch.tensor([[0.0]])
    g = torch.tensor([[0.1], [0.2], [0.3], [0.4]])
    cmc, ap, inp = chunked_evaluate_rank(q, g, np.array([1]), np.array([1, 2, 1, 1]),
                                         np.array([0]), np.array([1, 1, 0, 1]),
                                         metric="euclidean", max_rank=3)
    assert ap == pytest.approx([(1 + 2 / 3) / 2]) and inp == pytest.approx([2 / 3])
    assert cmc.tolist() == [1.0, 1.0, 1.0]


def test_evaluator_gives_the_stock_results_and_keys():
    from fastreid.evaluation import ReidEvaluator
    from fastreid_multimodal.engine import load_config
    from fastreid_multimodal.evaluation.chunked_evaluator import ChunkedReidEvaluator
    q, g, q_pids, g_pids, q_cams, g_cams = planted(num_q=30, num_g=120)
    for aqe in ("False", "True"):
        cfg = load_config("configs/Demo/dmf_stage2_synth.yml", ["TEST.AQE.ENABLED", aqe],
                          check_files=False)
        results = []
        for evaluator in (ReidEvaluator(cfg, 30), ChunkedReidEvaluator(cfg, 30, chunk_size=8)):
            feats = torch.cat([q, g])
            pids = torch.tensor(np.concatenate([q_pids, g_pids]))
            cams = torch.tensor(np.concatenate([q_cams, g_cams]))
            for start in range(0, 150, 50):  # batches, as the inference loop feeds them
                evaluator.process({"targets": pids[start:start + 50],
                                   "camids": cams[start:start + 50]}, feats[start:start + 50])
            results.append(evaluator.evaluate())
        assert list(results[0]) == list(results[1])
        for key in results[0]:
            assert results[1][key] == pytest.approx(results[0][key], abs=1e-4), key
