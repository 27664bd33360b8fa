"""All-vs-all test sets (query = gallery = every test image, SynthPerson): each image's features
are computed once, the query's own copy is dropped by the same-identity-same-camera rule, the
numbers equal FastReID's on the doubled list, and the per-query APs average to the mAP."""
import numpy as np
import pytest
import torch
from fastreid.evaluation.rank import evaluate_rank
from fastreid.utils.compute_dist import build_dist

from fastreid_multimodal.data.protocol import each_test_image, is_all_vs_all
from fastreid_multimodal.engine import MultimodalTrainer, load_config
from fastreid_multimodal.evaluation.chunked_evaluator import ChunkedReidEvaluator

TINY = ["DATASETS.SYNTH.NUM_IDS", "4", "DATASETS.SYNTH.TEST_IDS", "3",
        "DATASETS.SYNTH.IMAGES_PER_ID", "3", "DATASETS.SYNTH.SIZE", "[64, 32]",
        "INPUT.SIZE_TEST", "[64, 32]", "DATALOADER.NUM_WORKERS", "0"]


def _evaluate_once(feats, pids, cams, cfg=None):
    cfg = cfg or load_config()
    evaluator = ChunkedReidEvaluator(cfg, len(pids), chunk_size=3, gallery_is_query=True)
    evaluator.process({"targets": torch.as_tensor(pids), "camids": torch.as_tensor(cams)},
                      torch.as_tensor(feats, dtype=torch.float32))
    return evaluator, evaluator.evaluate()


def test_the_query_itself_is_not_a_match():
    # q0 and q1 are identity 1 (cameras 1, 2), q2 and q3 identity 2. q0's nearest image is itself
    # (dropped: same identity, same camera), then q2, q3, and its match q1 comes third: AP 1/3.
    # q2: q0, then its match q3: AP 1/2. Had the query's own copy counted, every AP would be 1.
    # Eight distractors (identities seen once, far away: ranked last, their queries skipped)
    # give the gallery the 10 images Rank-10 needs.
    feats = [[1, 0], [0, 1], [1, 0.1], [0.1, 1]] + [[-1, -0.1 * k] for k in range(8)]
    pids = np.array([1, 1, 2, 2] + list(range(10, 18)))
    cams = np.array([1, 2, 1, 2] + [1] * 8)
    evaluator, results = _evaluate_once(feats, pids, cams)
    assert evaluator.per_query_ap == pytest.approx([100 / 3, 100 / 3, 50, 50])
    assert results["mAP"] == pytest.approx((1 / 3 + 1 / 3 + 1 / 2 + 1 / 2) / 4 * 100)
    assert results["Rank-1"] == 0


def test_features_once_equal_fastreid_on_the_doubled_list():
    rng = np.random.default_rng(0)
    n, ids = 60, 12
    pids, cams = rng.integers(0, ids, n), rng.integers(0, 3, n)
    pids[-1], cams[-1] = ids, 0  # an identity seen once: no match, the query is skipped
    feats = rng.normal(size=(ids + 1, 8))[pids] + rng.normal(size=(n, 8))
    evaluator, results = _evaluate_once(feats, pids, cams)
    f = torch.as_tensor(feats, dtype=torch.float32)
    cmc, all_ap, all_inp = evaluate_rank(build_dist(f, f, "cosine"), pids, pids, cams, cams,
                                         max_rank=50, use_cython=False)
    assert results["mAP"] == pytest.approx(np.mean(all_ap) * 100, abs=1e-9)
    assert results["Rank-1"] == pytest.approx(cmc[0] * 100, abs=1e-6)
    assert results["mINP"] == pytest.approx(np.mean(all_inp) * 100, abs=1e-9)
    assert evaluator.per_query_ap == pytest.approx([ap * 100 for ap in all_ap])
    assert len(evaluator.per_query_ap) < n  # queries without a cross-camera match are skipped
    assert np.mean(evaluator.per_query_ap) == pytest.approx(results["mAP"])


def test_protocol_helpers():
    a, b = ("x.jpg", 1, 1), ("y.jpg", 2, 1)
    assert is_all_vs_all([a, b], [a, b]) and not is_all_vs_all([a], [a, b])
    assert not is_all_vs_all([], [])

    class Data:
        query, gallery = [a, b], [a, b]
    assert each_test_image(Data) == [a, b]


def test_trainer_feeds_each_test_image_once(tmp_path, monkeypatch):
    import fastreid.data.build as fastreid_build
    monkeypatch.setattr(fastreid_build, "_root", str(tmp_path))  # FastReID reads it at import
    cfg = load_config("configs/Demo/baseline_synth.yml", TINY)
    loader, evaluator = MultimodalTrainer.build_evaluator(cfg, "SynthPersonCampus")
    items = loader.dataset.img_items
    assert evaluator.gallery_is_query and evaluator._num_query == len(items) == 3 * 3
    assert len({path for path, _, _ in items}) == len(items)
    # FastReID's own evaluator gets the doubled list it expects
    cfg = load_config("configs/Demo/baseline_synth.yml", TINY + ["TEST.EVALUATOR", "fastreid"])
    loader, evaluator = MultimodalTrainer.build_evaluator(cfg, "SynthPersonCampus")
    assert len(loader.dataset) == 2 * evaluator._num_query == 2 * 9


def test_a_run_writes_per_query_ap_that_averages_to_its_map(tmp_path, monkeypatch):
    import json
    import os

    import fastreid.data.build as fastreid_build
    from tiny_checkpoint import CONFIG
    from tiny_checkpoint import TINY as TINY_DMF
    monkeypatch.setattr(fastreid_build, "_root", str(tmp_path / "data"))
    monkeypatch.setenv("FASTREID_DATASETS", str(tmp_path / "data"))
    torch.manual_seed(0)
    cfg = load_config(CONFIG, TINY_DMF + ["MODEL.HEADS.NUM_CLASSES", "8", "MODEL.BACKBONE.PRETRAIN",
                                          "False", "DATASETS.TESTS", '("SynthPersonCampus",)',
                                          "DATALOADER.NUM_WORKERS", "0",
                                          "OUTPUT_DIR", str(tmp_path / "out")])
    model = MultimodalTrainer.build_model(cfg).eval()
    MultimodalTrainer.test(cfg, model)
    results = json.load(open(tmp_path / "out" / "results.json"))["SynthPersonCampus"]
    per_query = json.load(open(tmp_path / "out" / "results_per_query.json"))["SynthPersonCampus"]
    assert len(per_query["mAP"]) == 4 * 4  # TEST_IDS 4 x IMAGES_PER_ID 4: every image a query
    assert np.mean(per_query["mAP"]) == pytest.approx(results["mAP"], abs=1e-3)
    assert os.path.isfile(tmp_path / "out" / "results.md")
