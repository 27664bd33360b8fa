"""FineGPR as released: one folder per identity (FineGPR_Dataset/FineGPR/<pid>/) and the flat
subset (FineGPR_Dataset/FineGPR_subset/, four views per identity); and our flat images/ folder."""
import json
import logging
import os
import re

import pytest
from fastreid.data.datasets import DATASET_REGISTRY
from PIL import Image

import fastreid_multimodal  # noqa: F401
from fastreid_multimodal.engine import load_config
from fastreid_multimodal.errors import DatasetNotFoundError

PIDS = (1, 2, 3)
FULL_CAMERAS = (1, 10, 19, 28, 5, 33)
SUBSET_CAMERAS = (1, 10, 19, 28)  # FineGPR's subset: these four views of every identity
SIDE = {1: ("right",), 10: ("back", "behind"), 19: ("left",), 28: ("front",)}
RECORD = {"gender": "male", "hair_length": "short", "age": "adult", "glasses": False,
          "short_sleeve": True, "top_length": "short", "dress": False, "boots": False,
          "hat": False, "bag": False, "shoe_colour": "dark", "upper_colour": "red",
          "lower_colour": "blue"}


def camera_of(path):
    return int(re.search(r"_c(\d\d)_", path).group(1))


def name(pid, camera, k=0):
    return f"{pid:04d}_c{camera:02d}_w{1 + k % 7:02d}_l{1 + (k * 3) % 7:02d}_p{1 + k % 9:02d}.jpg"


def image(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", (16, 32), (90, 20 * len(os.path.basename(path)) % 255, 40)).save(path)


def release(root, full=True, subset=True):
    """FineGPR_Dataset/ as FineGPR's README lays it out, with an attribute file of ours."""
    top = os.path.join(root, "FineGPR_Dataset")
    for pid in PIDS:
        if full:
            for k, cam in enumerate(FULL_CAMERAS):
                image(os.path.join(top, "FineGPR", f"{pid:04d}", name(pid, cam, k)))
        if subset:
            for k, cam in enumerate(SUBSET_CAMERAS):
                image(os.path.join(top, "FineGPR_subset", name(pid, cam, k)))
    with open(os.path.join(top, "attributes.json"), "w") as f:
        json.dump({"identities": {f"{pid:04d}": RECORD for pid in PIDS}}, f)
    return top


def cfg(*opts):
    return load_config(opts=["DATASETS.FINEGPR.IMAGES_PER_ID", "0", *opts])


def build(name_, root, *opts):
    return DATASET_REGISTRY.get(name_)(root=str(root), dataset_cfg=cfg(*opts))


def test_per_identity_folders_load_with_their_counts(tmp_path):
    top = release(tmp_path)
    data = build("FineGPR", tmp_path)
    assert len(data.train) == len(PIDS) * len(FULL_CAMERAS)
    assert sorted({pid for _, pid, _ in data.train}) == [f"finegpr_{p}" for p in PIDS]
    for path, pid, camid in data.train:
        folder = os.path.basename(os.path.dirname(path))
        assert os.path.isfile(path) and path.startswith(os.path.join(top, "FineGPR", folder))
        assert pid == f"finegpr_{int(folder)}"
        assert camid == f"finegpr_{camera_of(path)}"


def test_captions_of_the_release_name_the_side_each_camera_sees(tmp_path):
    release(tmp_path)
    data = build("FineGPRCaption", tmp_path)  # no captions.txt: generated from attributes.json
    assert len(data.texts) == len(data.train)
    for path, caption in data.caption_of.items():
        camera = camera_of(path)
        if camera in SIDE:
            assert set(SIDE[camera]) & set(re.findall(r"[a-z]+", caption)), (path, caption)


def test_subset_with_fewer_images_than_asked_says_so_once(tmp_path, caplog):
    release(tmp_path)
    with caplog.at_level(logging.WARNING, logger="fastreid.multimodal"):
        data = build("FineGPR", tmp_path, "DATASETS.FINEGPR.IMAGES_PER_ID", "11",
                     "DATASETS.FINEGPR.IMAGE_DIR", "FineGPR_Dataset/FineGPR_subset")
    assert len(data.train) == len(PIDS) * 4  # every image of the subset, not silently fewer
    assert all("FineGPR_subset" in path for path, _, _ in data.train)
    said = [r.getMessage() for r in caplog.records if "IMAGES_PER_ID is 11" in r.getMessage()]
    assert len(said) == 1
    assert "3 of 3 identities have fewer images (4 to 4)" in said[0]
    assert "12 images instead of 33" in said[0]


def test_the_subset_alone_is_found_without_a_key(tmp_path):
    release(tmp_path, full=False)
    data = build("FineGPRCaption", tmp_path)
    cameras = sorted({camera_of(p) for p, _, _ in data.train})
    assert cameras == list(SUBSET_CAMERAS) and len(data.train) == 12


def test_identity_folders_inside_images_were_no_usable_image_and_now_load(tmp_path):
    """The old failure: the release's <pid>/ folders copied into FineGPR/images/ gave
    'no usable image (empty)'."""
    for pid in PIDS:
        for k, cam in enumerate(FULL_CAMERAS):
            image(str(tmp_path / "FineGPR" / "images" / f"{pid:04d}" / name(pid, cam, k)))
    data = build("FineGPR", tmp_path)
    assert len(data.train) == 18 and len({pid for _, pid, _ in data.train}) == 3


def test_our_flat_layout_is_read_first_and_unchanged(tmp_path):
    release(tmp_path)
    for pid in (7, 8):
        for cam in (1, 2):
            image(str(tmp_path / "FineGPR" / "images" / name(pid, cam)))
    data = build("FineGPR", tmp_path)
    assert sorted(os.path.basename(p) for p, _, _ in data.train) == sorted(
        name(pid, cam) for pid in (7, 8) for cam in (1, 2))


def test_misplaced_files_are_skipped_and_counted(tmp_path):
    top = release(tmp_path, subset=False)
    image(os.path.join(top, "FineGPR", "0002", name(3, 7)))       # in another identity's folder
    image(os.path.join(top, "FineGPR", name(1, FULL_CAMERAS[0], 0)))  # 0001/'s first, copied up
    os.makedirs(os.path.join(top, "FineGPR", "previews"))
    data = build("FineGPR", tmp_path)
    assert data.skipped == {"images in another identity's folder": 1,
                            "images found twice (the first kept)": 1,
                            "folders not named by an identity number": 1}
    assert len(data.train) == 18


def test_no_image_in_the_release_is_an_error_naming_the_folder(tmp_path):
    os.makedirs(tmp_path / "FineGPR_Dataset" / "FineGPR" / "0001")
    with pytest.raises(DatasetNotFoundError, match=r"FineGPR_Dataset/FineGPR: no usable image"):
        build("FineGPR", tmp_path)
    missing = r"FineGPR/images' does not exist(.|\n)*FineGPR_Dataset/FineGPR/<pid>/(.|\n)*_subset"
    with pytest.raises(DatasetNotFoundError, match=missing):
        build("FineGPR", tmp_path / "elsewhere")


def test_generated_captions_of_synthperson_images_follow_their_rendered_viewpoint(tmp_path):
    """SynthPerson's cameras do not follow FineGPR's viewpoint table (its rendered data stay as
    they are): captions generated for its images read the viewpoint it rendered (images.json)."""
    import shutil

    from fastreid_multimodal.data.synth import generate_domain
    folder = generate_domain(str(tmp_path / "synth"), "source", num_ids=3, images_per_id=6,
                             seed=4, size=(32, 16))
    shutil.copytree(folder, tmp_path / "FineGPR")
    rendered = json.load(open(tmp_path / "FineGPR" / "images.json"))["images"]
    data = build("FineGPRCaption", tmp_path, "DATASETS.FINEGPR.CAPTIONS", "generate")
    words = {"front": ("front",), "back": ("back", "behind"), "left": ("left",),
             "right": ("right",)}
    for path, caption in data.caption_of.items():
        view = rendered[os.path.basename(path)]["viewpoint"]
        assert set(words[view]) & set(re.findall(r"[a-z]+", caption)), (view, caption)
