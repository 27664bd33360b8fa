"""The chance level: a random ranking's expected metrics, checked against hand-computed values."""
import os

import pytest

from fastreid_multimodal.reproduction.chance import random_image_ranking, random_text_ranking
from fastreid_multimodal.reproduction.paper_tables import format_comparison, TABLES

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_random_image_ranking_matches_the_expected_average_precision():
    # one true match among two gallery images: AP is 1 or 1/2 with equal odds -> 75 %; R1 50 %
    query = [("q.jpg", 0, 0)]
    gallery = [("same.jpg", 0, 1), ("other.jpg", 1, 1)]
    metrics = random_image_ranking(query, gallery, draws=2000)
    assert metrics["mAP"] == pytest.approx(75, abs=2) and metrics["Rank-1"] == pytest.approx(50, abs=3)
    # FastReID drops the query identity's same-camera images: adding one changes nothing
    with_junk = random_image_ranking(query, gallery + [("junk.jpg", 0, 0)], draws=2000)
    assert with_junk["mAP"] == pytest.approx(75, abs=2)


def test_random_text_ranking_matches_the_expected_average_precision():
    queries = [("a woman in red", 0, 0), ("a man in blue", 1, 0)]
    gallery = [("a.jpg", 0, 1), ("b.jpg", 1, 1), ("c.jpg", 2, 1)]
    metrics = random_text_ranking(queries, gallery, draws=2000)
    # one match among three: AP = 1, 1/2, 1/3 with equal odds
    assert metrics["text2image/mAP"] == pytest.approx(100 * (1 + 1 / 2 + 1 / 3) / 3, abs=2)
    assert metrics["text2image/Rank-1"] == pytest.approx(100 / 3, abs=3)


def test_reference_rows_follow_the_table():
    table = TABLES["dmf-2"]
    text = format_comparison(table, {}, reference={"chance": {"CUHK03": {"Rank-1": 1.25}}})
    assert text.splitlines()[-1] == "| chance | 1.2 |  |  | - |  |  | - |  |  | - |  |  |"


def test_chance_levels_of_a_synthperson_target(tmp_path, monkeypatch):
    from fastreid_multimodal.engine import load_config
    from fastreid_multimodal.reproduction.chance import chance_levels
    monkeypatch.setenv("FASTREID_DATASETS", str(tmp_path))
    cfg = load_config(os.path.join(REPO, "configs", "Demo", "mmet_synth.yml"), [
        "DATASETS.SYNTH.NUM_IDS", "8", "DATASETS.SYNTH.TEST_IDS", "4",
        "DATASETS.SYNTH.IMAGES_PER_ID", "4",
        "DATASETS.SYNTH.SIZE", "[64, 32]"])
    levels = chance_levels(cfg, ["SynthPersonCampus"])["SynthPersonCampus"]
    assert set(levels) == {"mAP", "Rank-1", "text2image/mAP", "text2image/Rank-1"}
    assert all(0 < value < 100 for value in levels.values())
