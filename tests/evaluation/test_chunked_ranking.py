"""The chunked ranking gives FastReID's evaluate_rank metrics exactly (Python and Cython)."""
import numpy as np
import pytest
import torch
from fastreid.evaluation import rank as fastreid_rank
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
    # evaluate_rank(use_cython=True) silently runs the Python ranking when the extension is missing
    if use_cython and not fastreid_rank.IS_CYTHON_AVAI:
        pytest.skip("fastreid's Cython ranking is not built (python -m fastreid_multimodal.build_rank_cylib)")
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


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("use_cython", [False, True])
def test_queries_without_a_valid_match_are_skipped(metric, use_cython):
    q, g, q_pids, g_pids, q_cams, g_cams = planted(num_q=20, num_g=60)
    q_pids = q_pids.copy()
    q_pids[:5] = 999  # not in the gallery
    g_cams = g_cams.copy()
    g_cams[g_pids == q_pids[5]] = q_cams[5]  # only same-camera matches: removed, so skipped
    got = compare(q, g, q_pids, g_pids, q_cams, g_cams, metric, use_cython)
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


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("use_cython", [False, True])
def test_exact_distance_ties_within_an_identity(metric, use_cython):
    got = compare(*tied(cross_identity=False), metric, use_cython, chunk_size=4, max_rank=10)
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


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("use_cython", [False, True])
def test_one_image_gallery(metric, use_cython):
    q, g, q_pids, g_pids, q_cams, g_cams = planted(num_q=5, num_g=1)
    q_pids[:] = g_pids[0]
    q_cams[:] = g_cams[0] + 1
    compare(q, g, q_pids, g_pids, q_cams, g_cams, metric, use_cython, max_rank=1)


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


def demo_cfg(*opts):
    from fastreid_multimodal.engine import load_config
    return load_config("configs/Demo/dmf_stage2_synth.yml", list(opts), check_files=False)


def stock_and_chunked(cfg, num_q=30, num_g=120):
    """The results of FastReID's ReidEvaluator and ours on the same planted features."""
    from fastreid.evaluation import ReidEvaluator
    from fastreid_multimodal.evaluation.chunked_evaluator import ChunkedReidEvaluator
    q, g, q_pids, g_pids, q_cams, g_cams = planted(num_q=num_q, num_g=num_g)
    feats = torch.cat([q, g])
    pids = torch.tensor(np.concatenate([q_pids, g_pids]))
    cams = torch.tensor(np.concatenate([q_cams, g_cams]))
    results = []
    for evaluator in (ReidEvaluator(cfg, num_q), ChunkedReidEvaluator(cfg, num_q, chunk_size=8)):
        for start in range(0, len(feats), 50):  # batches, as the inference loop feeds them
            evaluator.process({"targets": pids[start:start + 50],
                               "camids": cams[start:start + 50]}, feats[start:start + 50])
        results.append(evaluator.evaluate())
    return results


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("aqe", ["False", "True"])
def test_evaluator_gives_the_stock_results_and_keys(metric, aqe):
    stock, ours = stock_and_chunked(demo_cfg("TEST.AQE.ENABLED", aqe, "TEST.METRIC", metric))
    assert list(stock) == list(ours) == ["Rank-1", "Rank-5", "Rank-10", "mAP", "mINP", "metric"]
    for key in stock:
        assert ours[key] == pytest.approx(stock[key], abs=1e-4), key


@pytest.mark.parametrize("option", ["TEST.RERANK.ENABLED", "TEST.ROC.ENABLED"])
def test_rerank_and_roc_fall_back_to_the_stock_path_with_one_log_line(option):
    import logging
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    project_logger = logging.getLogger("fastreid.multimodal")
    project_logger.addHandler(handler)
    level = project_logger.level
    project_logger.setLevel(logging.INFO)
    try:
        stock, ours = stock_and_chunked(demo_cfg(option, "True", "TEST.RERANK.K1", "6",
                                                 "TEST.RERANK.K2", "2"))
    finally:
        project_logger.removeHandler(handler)
        project_logger.setLevel(level)
    assert ours == stock  # the stock computation itself, re-ranked distances / TPR@FPR keys included
    if option == "TEST.ROC.ENABLED":
        assert any(key.startswith("TPR@FPR") for key in ours)
    fallback = [r for r in records if "stock" in r.getMessage()]
    assert len(fallback) == 1 and option.rsplit(".", 2)[0] in fallback[0].getMessage()


def test_trainer_uses_the_chunked_evaluator_unless_the_config_selects_fastreids(monkeypatch):
    from fastreid.evaluation import ReidEvaluator
    from fastreid_multimodal.engine.trainer import MultimodalTrainer
    from fastreid_multimodal.errors import ConfigError
    from fastreid_multimodal.evaluation.chunked_evaluator import ChunkedReidEvaluator
    monkeypatch.setattr(MultimodalTrainer, "build_test_loader",
                        classmethod(lambda cls, cfg, name, once=False: ("loader", 30)))
    _, default = MultimodalTrainer.build_evaluator(demo_cfg("TEST.CHUNK_SIZE", "64"), "SynthPerson")
    assert type(default) is ChunkedReidEvaluator and default.chunk_size == 64
    _, stock = MultimodalTrainer.build_evaluator(demo_cfg("TEST.EVALUATOR", "fastreid"), "SynthPerson")
    assert type(stock) is ReidEvaluator
    with pytest.raises(ConfigError, match="TEST.EVALUATOR"):
        MultimodalTrainer.build_evaluator(demo_cfg("TEST.EVALUATOR", "faiss"), "SynthPerson")


def test_text_to_image_metrics_are_fastreids_on_cosine_distances():
    # text->image retrieval ranks through the same engine: captions are queries on camera 0,
    # images the gallery on camera 1 (nothing removed), pids of any hashable type
    from fastreid_multimodal.evaluation.text_retrieval import text_to_image_metrics
    q, g, q_pids, g_pids, _, _ = planted(num_q=25, num_g=90)
    got = text_to_image_metrics(q, [f"id{p}" for p in q_pids], g, [f"id{p}" for p in g_pids])
    cmc, ap, inp = evaluate_rank(build_dist(q, g, "cosine"), q_pids, g_pids, np.zeros(25, int),
                                 np.ones(90, int), max_rank=10, use_cython=False)
    want = {"Rank-1": cmc[0], "Rank-5": cmc[4], "Rank-10": cmc[9], "mAP": np.mean(ap),
            "mINP": np.mean(inp)}
    assert got == pytest.approx({k: v * 100 for k, v in want.items()}, abs=1e-4)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_chunked_topk_is_the_head_of_the_full_sorted_distances(metric):
    from fastreid_multimodal.evaluation.chunked_ranking import chunked_topk
    q, g = planted(num_q=23, num_g=80)[:2]
    dist, idx = chunked_topk(q, g, 12, metric, chunk_size=5)
    full = build_dist(q, g, metric)
    np.testing.assert_allclose(dist.numpy(), np.sort(full, axis=1)[:, :12], atol=1e-5)
    np.testing.assert_array_equal(idx.numpy(), np.argsort(full, axis=1, kind="stable")[:, :12])
