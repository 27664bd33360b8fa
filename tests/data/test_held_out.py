"""Identity splits of a real set's training split: *Subset trains on some identities, *Val holds
others out, all-vs-all, for choosing settings without the set's test data."""
import os
import shutil

import pytest
from fastreid.data.datasets import DATASET_REGISTRY

import fastreid_multimodal  # noqa: F401
from fastreid_multimodal.engine import load_config
from fastreid_multimodal.errors import ConfigError


def _held_out(val_ids, train_ids=0, seed=0, training_seed=0):
    return load_config(opts=["DATASETS.HELD_OUT.VAL_IDS", str(val_ids), "DATASETS.HELD_OUT.TRAIN_IDS",
                             str(train_ids), "DATASETS.HELD_OUT.SEED", str(seed),
                             "SEED", str(training_seed)])


def test_market_subset_and_val_never_share_an_identity(market_root):
    cfg = _held_out(val_ids=4, train_ids=5)
    stock = DATASET_REGISTRY.get("Market1501")(root=market_root)
    subset = DATASET_REGISTRY.get("Market1501Subset")(root=market_root, dataset_cfg=cfg)
    val = DATASET_REGISTRY.get("Market1501Val")(root=market_root, dataset_cfg=cfg)
    train_pids = {pid for _, pid, _ in subset.train}
    val_pids = {pid for _, pid, _ in val.query}
    assert len(train_pids) == 5 and len(val_pids) == 4
    assert not {f"market1501_{pid}" for pid in val_pids} & train_pids
    assert {f"market1501_{pid}" for pid in val_pids} <= {pid for _, pid, _ in stock.train}
    # the subset tests on the set's own query/gallery; the val set is all-vs-all, int labels
    assert subset.query == stock.query and subset.gallery == stock.gallery
    assert val.train == [] and val.query == val.gallery and len(val.query) == 4 * 3 * 2
    assert all(isinstance(pid, int) and isinstance(cam, int) for _, pid, cam in val.query)
    stock_val = {path for path, pid, _ in stock.train if int(pid.split("_")[1]) in val_pids}
    assert {path for path, _, _ in val.query} == stock_val


def test_the_split_is_fixed_by_its_own_seed_not_by_the_training_seed(market_root):
    def val_pids(cfg):
        return {pid for _, pid, _ in DATASET_REGISTRY.get("Market1501Val")(
            root=market_root, dataset_cfg=cfg).query}
    one = val_pids(_held_out(val_ids=4))
    assert val_pids(_held_out(val_ids=4, training_seed=7)) == one
    assert val_pids(_held_out(val_ids=4, seed=1)) != one
    # all remaining identities train when TRAIN_IDS is 0
    subset = DATASET_REGISTRY.get("Market1501Subset")(root=market_root, dataset_cfg=_held_out(4))
    assert len({pid for _, pid, _ in subset.train}) == 12 - 4


def test_duke_names_parse(tmp_path, market_root):
    duke = tmp_path / "DukeMTMC-reID"
    for split in ("bounding_box_train", "query", "bounding_box_test"):
        source = os.path.join(market_root, "Market-1501-v15.09.15", split)
        os.makedirs(duke / split)
        for name in sorted(os.listdir(source)):
            pid, cam = name[:4], name[6]
            shutil.copy(os.path.join(source, name), duke / split / f"{pid}_c{cam}_f{name[9:15]}.jpg")
    cfg = _held_out(val_ids=3, train_ids=2)
    subset = DATASET_REGISTRY.get("DukeMTMCSubset")(root=str(tmp_path), dataset_cfg=cfg)
    val = DATASET_REGISTRY.get("DukeMTMCVal")(root=str(tmp_path), dataset_cfg=cfg)
    assert len({pid for _, pid, _ in subset.train}) == 2 and len({p for _, p, _ in val.query}) == 3
    assert {cam for _, _, cam in val.query} <= {0, 1, 2}


@pytest.mark.parametrize("val_ids,train_ids,named", [(12, 0, "VAL_IDS is 12"), (4, 9, "TRAIN_IDS is 9")])
def test_splits_larger_than_the_set_are_refused(market_root, val_ids, train_ids, named):
    with pytest.raises(ConfigError, match=named) as error:
        DATASET_REGISTRY.get("Market1501Subset")(root=market_root, dataset_cfg=_held_out(val_ids, train_ids))
    assert "Market1501Subset" in str(error.value)
