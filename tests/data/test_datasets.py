"""Registered datasets: what they load, how they sample, and how they treat bad input."""
import json
import logging
import os
import shutil

import numpy as np
import pytest
from fastreid.data.datasets import DATASET_REGISTRY
from PIL import Image

import fastreid_multimodal  # noqa: F401
from fastreid_multimodal.data.samples import Caption
from fastreid_multimodal.data.synth import generate_domain
from fastreid_multimodal.engine import MultimodalTrainer, load_config

TINY = ["DATASETS.SYNTH.NUM_IDS", "8", "DATASETS.SYNTH.TEST_IDS", "4",
        "DATASETS.SYNTH.IMAGES_PER_ID", "6", "DATASETS.SYNTH.SIZE", "[64, 32]"]


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("synthroot"))


@pytest.fixture
def finegpr_root(tmp_path, synth_root):
    """A FineGPR folder (12 images for each of 6 ids) made with the renderer."""
    src = generate_domain(synth_root, "source", num_ids=6, images_per_id=12, seed=3, size=(64, 32))
    shutil.copytree(src, tmp_path / "FineGPR")
    return str(tmp_path)


def test_finegpr_draws_images_per_identity_with_a_seed(finegpr_root):
    cfg = load_config(opts=["DATASETS.FINEGPR.IMAGES_PER_ID", "11"])
    data = DATASET_REGISTRY.get("FineGPR")(root=finegpr_root, dataset_cfg=cfg)
    pids = [pid for _, pid, _ in data.train]
    assert len(data.train) == 66 and all(pids.count(p) == 11 for p in set(pids))
    path, pid, camid = data.train[0]
    assert os.path.isfile(path) and pid.startswith("finegpr_") and camid.startswith("finegpr_")
    again = DATASET_REGISTRY.get("FineGPR")(root=finegpr_root, dataset_cfg=cfg)
    assert again.train == data.train
    other = load_config(opts=["DATASETS.FINEGPR.IMAGES_PER_ID", "11", "DATASETS.FINEGPR.SEED", "5"])
    assert DATASET_REGISTRY.get("FineGPR")(root=finegpr_root, dataset_cfg=other).train != data.train


def test_finegpr_caption_from_file_and_generated(finegpr_root):
    cfg = load_config(opts=["DATASETS.FINEGPR.IMAGES_PER_ID", "0"])
    data = DATASET_REGISTRY.get("FineGPRCaption")(root=finegpr_root, dataset_cfg=cfg)
    assert len(data.texts) == len(data.train) == 72
    caption, pid, camid = data.texts[0]
    assert isinstance(caption, Caption) and caption.image in data.caption_of
    assert (pid, camid) == data.train[[p for p, _, _ in data.train].index(caption.image)][1:]
    first_line = open(os.path.join(finegpr_root, "FineGPR", "captions.txt")).readline()
    assert first_line.split(", the caption is: ")[1].strip() in data.caption_of.values()

    os.remove(os.path.join(finegpr_root, "FineGPR", "captions.txt"))
    generated = DATASET_REGISTRY.get("FineGPRCaption")(root=finegpr_root, dataset_cfg=cfg)
    attrs = json.load(open(os.path.join(finegpr_root, "FineGPR", "attributes.json")))
    for caption, pid, _ in generated.texts[:10]:
        record = attrs["identities"]["%04d" % int(pid.split("_")[1])]
        assert record["upper"] in caption.text.lower()


def _captions_file(root):
    return os.path.join(root, "FineGPR", "captions.txt")


def test_bad_caption_lines(finegpr_root, caplog):
    path = _captions_file(finegpr_root)
    lines = open(path).read().splitlines()
    lines.insert(3, "ImageName:9999_c01_w01_l01_p01.jpg, the caption is: a ghost")
    open(path, "w").write("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING, logger="fastreid.multimodal"):
        data = DATASET_REGISTRY.get("FineGPRCaption")(root=finegpr_root)
    assert data.skipped["captions naming an image that does not exist"] == 1
    assert f"{path}:4" in caplog.text

    lines.insert(5, "this line has no image name")
    open(path, "w").write("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=f"{path}:6"):
        DATASET_REGISTRY.get("FineGPRCaption")(root=finegpr_root)


def test_undecodable_image_is_skipped_and_counted(finegpr_root):
    images = os.path.join(finegpr_root, "FineGPR", "images", "0000")  # SynthPerson's <pid>/
    broken = sorted(os.listdir(images))[0]
    open(os.path.join(images, broken), "wb").write(b"not a jpeg")
    data = DATASET_REGISTRY.get("FineGPRCaption")(root=finegpr_root)
    assert data.skipped["images that fail to decode"] == 1
    assert all(not p.endswith(broken) for p, _, _ in data.train)
    assert all(not c.image.endswith(broken) for c, _, _ in data.texts)


def test_single_image_identity_is_kept_and_counted(finegpr_root, caplog):
    images = os.path.join(finegpr_root, "FineGPR", "images", "0000")
    for name in sorted(os.listdir(images))[1:]:
        os.remove(os.path.join(images, name))
    with caplog.at_level(logging.INFO, logger="fastreid.multimodal"):
        data = DATASET_REGISTRY.get("FineGPRCaption")(root=finegpr_root)
    assert [pid for _, pid, _ in data.train].count("finegprcaption_0") == 1
    assert "1 training identities have a single image" in caplog.text
    assert data.skipped["captions naming an image that does not exist"] == 11


def test_synthperson_split_integrity_and_fastreid_loaders(synth_root, monkeypatch):
    import fastreid.data.build
    monkeypatch.setattr(fastreid.data.build, "_root", synth_root)
    cfg = load_config(opts=TINY + ["DATASETS.NAMES", '("SynthPersonCampus",)',
                                   "SOLVER.IMS_PER_BATCH", "8", "DATALOADER.NUM_WORKERS", "0",
                                   "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]"])
    data = DATASET_REGISTRY.get("SynthPersonCampus")(root=synth_root, dataset_cfg=cfg)
    train_pids = {int(pid.split("_")[1]) for _, pid, _ in data.train}
    assert train_pids and data.query and data.gallery
    assert not train_pids & {pid for _, pid, _ in data.query + data.gallery}
    for _, pid, cam in data.query:
        assert any(g_pid == pid and g_cam != cam for _, g_pid, g_cam in data.gallery)

    batch = next(iter(MultimodalTrainer.build_train_loader(cfg)))
    assert batch["images"].shape == (8, 3, 64, 32) and batch["targets"].shape == (8,)
    assert int(batch["targets"].max()) < len(train_pids)
    loader, num_query = MultimodalTrainer.build_test_loader(cfg, "SynthPersonCampus")
    assert num_query == len(data.query)
    assert len(loader.dataset) == len(data.query) + len(data.gallery)


def test_cuhkpedes(tmp_path):
    folder = tmp_path / "CUHK-PEDES"
    (folder / "imgs" / "cam").mkdir(parents=True)
    records = []
    for i in range(8):
        name = f"cam/{i}.png"
        Image.fromarray(np.full((16, 8, 3), i * 20, np.uint8)).save(folder / "imgs" / name)
        records.append({"file_path": name, "id": i // 2, "split": "train" if i < 4 else "test",
                        "captions": [f"person {i} in red", f"person {i} walking"]})
    records.append({"file_path": "cam/missing.png", "id": 9, "split": "test", "captions": ["x"]})
    (folder / "reid_raw.json").write_text(json.dumps(records))
    data = DATASET_REGISTRY.get("CUHKPEDES")(root=str(tmp_path))
    assert len(data.train) == 4 and len(data.texts) == 8
    assert [pid for _, pid, _ in data.query] == [2, 3] and len(data.gallery) == 2
    assert len(data.text_queries) == 8 and len(data.text_gallery) == 4


def test_randperson(tmp_path):
    folder = tmp_path / "RandPerson" / "images"
    folder.mkdir(parents=True)
    for pid in range(3):
        for cam in range(2):
            Image.new("RGB", (8, 16)).save(folder / f"{pid:08d}_s01_c{cam:02d}_f000001.jpg")
    (folder / "readme.txt").write_text("not an image")
    data = DATASET_REGISTRY.get("RandPerson")(root=str(tmp_path))
    assert len(data.train) == 6 and data.query == [] and data.train[0][1] == "randperson_0"


def test_missing_finegpr_names_layout(tmp_path):
    from fastreid_multimodal.errors import DatasetNotFoundError
    with pytest.raises(DatasetNotFoundError, match="captions.txt"):
        DATASET_REGISTRY.get("FineGPRCaption")(root=str(tmp_path))
