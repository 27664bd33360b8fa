"""FineGPR-C caption files: every caption of an image is kept (one drawn per training image,
seeded; all of them text queries), and an image is named with or without its identity folder."""
import json
import os

from fastreid.data.datasets import DATASET_REGISTRY
from PIL import Image

import fastreid_multimodal  # noqa: F401
from fastreid_multimodal.engine import load_config

TRAIN_IDS, TEST_IDS, CAMERAS = (0, 1), (2, 3), (1, 2, 3)


def name(pid, cam):
    return f"{pid:04d}_c{cam:02d}_w01_l01_p01.jpg"


def captions_of(pid, cam):
    return [f"person {pid} seen by camera {cam}, caption {k}." for k in range(4)]


def write_folder(root):
    """FineGPR/images + splits.json + a caption file with four captions an image, half the lines
    naming the image with its identity folder, plus one line of a wrong folder and one repeat."""
    folder = os.path.join(root, "FineGPR")
    os.makedirs(os.path.join(folder, "images"))
    lines = []
    for pid in TRAIN_IDS + TEST_IDS:
        for cam in CAMERAS:
            Image.new("RGB", (16, 32), (40 * pid, 30 * cam, 9)).save(
                os.path.join(folder, "images", name(pid, cam)))
            for k, caption in enumerate(captions_of(pid, cam)):
                shown = f"{pid:04d}/{name(pid, cam)}" if k % 2 else name(pid, cam)
                lines.append(f"ImageName:{shown}, the caption is: {caption}")
    lines.append(f"ImageName:0003/{name(0, 1)}, the caption is: a folder that is not its identity")
    lines.append(f"ImageName:{name(0, 1)}, the caption is: {captions_of(0, 1)[0]}")
    with open(os.path.join(folder, "captions.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    test = [name(pid, cam) for pid in TEST_IDS for cam in CAMERAS]
    with open(os.path.join(folder, "splits.json"), "w") as f:
        json.dump({"train": [name(p, c) for p in TRAIN_IDS for c in CAMERAS],
                   "query": [n for n in test if "_c01_" in n],
                   "gallery": [n for n in test if "_c01_" not in n]}, f)
    return folder


def build(root, seed=0):
    cfg = load_config(opts=["DATASETS.FINEGPR.IMAGES_PER_ID", "0",
                            "DATASETS.FINEGPR.SEED", str(seed)])
    return DATASET_REGISTRY.get("FineGPRCaption")(root=str(root), dataset_cfg=cfg)


def test_every_caption_of_an_image_is_kept_with_or_without_its_folder(tmp_path):
    write_folder(str(tmp_path))
    data = build(tmp_path)
    for path, captions in data.captions_of.items():
        base = os.path.basename(path)
        assert captions == captions_of(int(base[:4]), int(base[6:8]))  # file order, all four
    assert data.skipped["captions naming an image that does not exist"] == 1
    assert data.skipped["repeated captions of an image"] == 1


def test_one_caption_drawn_per_training_image_with_the_seed(tmp_path):
    write_folder(str(tmp_path))
    data = build(tmp_path)
    assert len(data.texts) == len(data.train) == len(TRAIN_IDS) * len(CAMERAS)
    for caption, pid, camid in data.texts:
        assert caption.text in data.captions_of[caption.image]
        assert caption.text == data.caption_of[caption.image]
        assert (caption.image, pid, camid) in data.train
    assert [c.text for c, _, _ in build(tmp_path).texts] == [c.text for c, _, _ in data.texts]
    other = [c.text for c, _, _ in build(tmp_path, seed=1).texts]
    assert other != [c.text for c, _, _ in data.texts]  # another seed, other draws
    drawn = {c.text[-11:] for c, _, _ in data.texts}
    assert len(drawn) > 1  # not always the first caption


def test_every_caption_of_every_query_image_is_a_text_query(tmp_path):
    write_folder(str(tmp_path))
    data = build(tmp_path)
    assert len(data.query) == len(TEST_IDS)
    assert sorted(c.text for c, _, _ in data.text_queries) == sorted(
        c for pid in TEST_IDS for c in captions_of(pid, 1))
    for caption, pid, camid in data.text_queries:
        assert (caption.image, pid, camid) in data.query
