"""SynthPersonSourceVal: the source domain's distribution, identities SynthPersonSource never
trains on, all test, all-vs-all; and the targets' DATASETS.SYNTH.TEST_IDS."""
import json
import os

import pytest

import fastreid_multimodal  # noqa: F401
from fastreid_multimodal.data.build import build_dataset
from fastreid_multimodal.engine import load_config
from fastreid_multimodal.errors import ConfigError

TINY = ["DATASETS.SYNTH.NUM_IDS", "6", "DATASETS.SYNTH.IMAGES_PER_ID", "3",
        "DATASETS.SYNTH.SIZE", "[64, 32]", "DATASETS.SYNTH.TEST_IDS", "5",
        "DATASETS.SYNTH.VAL_IDS", "4"]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("synth_val"))
    old = os.environ.get("FASTREID_DATASETS")
    os.environ["FASTREID_DATASETS"] = path
    yield path
    if old is None:
        del os.environ["FASTREID_DATASETS"]
    else:
        os.environ["FASTREID_DATASETS"] = old


def test_source_val_ids_are_disjoint_from_the_source_training_ids(root):
    cfg = load_config(opts=TINY)
    source = build_dataset(cfg, "SynthPersonSource")
    val = build_dataset(cfg, "SynthPersonSourceVal")
    train_ids = {int(pid.rsplit("_", 1)[1]) for _, pid, _ in source.train}
    val_ids = {pid for _, pid, _ in val.query}
    assert len(train_ids) == 6 and len(val_ids) == 4 and not train_ids & val_ids
    assert val.train == [] and val.query == val.gallery and len(val.query) == 4 * 3
    meta = json.load(open(os.path.join(root, "SynthPerson", "source_val", "meta.json")))
    assert meta["params"]["domain"] == "source"  # the source domain's renderer distribution
    assert len(val.text_queries) == len(val.query)


def test_targets_test_on_test_ids_and_train_on_half_num_ids(root):
    cfg = load_config(opts=TINY)
    campus = build_dataset(cfg, "SynthPersonCampus")
    assert len({pid for _, pid, _ in campus.train}) == 3  # round(6 * 0.5)
    assert len({pid for _, pid, _ in campus.query}) == 5
    assert campus.query == campus.gallery


@pytest.mark.parametrize("key, value", [("TEST_IDS", "0"), ("VAL_IDS", "-1")])
def test_bad_counts_are_one_clear_error(root, key, value):
    cfg = load_config(opts=TINY + [f"DATASETS.SYNTH.{key}", value])
    with pytest.raises(ConfigError, match=f"DATASETS.SYNTH.{key} must be a positive integer"):
        build_dataset(cfg, "SynthPersonCampus" if key == "TEST_IDS" else "SynthPersonSourceVal")
