"""DATASETS.SYNTH.LOOK photo: the same people, environments and captions through cameras with
real photos' statistics (less saturated, softer, tighter crops), beside the rendered domain."""
import importlib.util
import os

import numpy as np
import pytest
from PIL import Image

import fastreid_multimodal  # noqa: F401
from fastreid_multimodal.data.build import build_dataset
from fastreid_multimodal.engine import load_config
from fastreid_multimodal.errors import ConfigError

TINY = ["DATASETS.SYNTH.NUM_IDS", "4", "DATASETS.SYNTH.IMAGES_PER_ID", "4",
        "DATASETS.SYNTH.SIZE", "[128, 64]", "DATASETS.SYNTH.VAL_IDS", "3"]


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTREID_DATASETS", str(tmp_path))
    return str(tmp_path)


def statistics(paths):
    """Mean saturation and sharpness of images, measured as tools/image_statistics.py does."""
    spec = importlib.util.spec_from_file_location("image_statistics",
                                                  os.path.join("tools", "image_statistics.py"))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    values = [tool.image_statistics(Image.open(path)) for path in paths]
    return tuple(np.mean([v[key] for v in values]) for key in ("saturation", "sharpness"))


def mask_height(image_path):
    mask_path = image_path.replace(f"{os.sep}images{os.sep}", f"{os.sep}masks{os.sep}")[:-4] + ".png"
    rows = np.flatnonzero(np.asarray(Image.open(mask_path)).any(1))
    return rows.max() - rows.min() + 1


def test_photo_look_renders_the_same_people_softer_and_less_saturated(root):
    rendered = build_dataset(load_config(opts=TINY), "SynthPersonSource")
    photo = build_dataset(load_config(opts=TINY + ["DATASETS.SYNTH.LOOK", "photo"]),
                          "SynthPersonSource")
    assert os.path.isdir(os.path.join(root, "SynthPerson", "source-photo"))
    assert os.path.isdir(os.path.join(root, "SynthPerson", "source"))  # both kept
    # the same images (names = identity + environment), labels and captions
    key = lambda data: [(os.path.basename(p), pid, cam) for p, pid, cam in data.train]
    words = lambda data: [(caption.text, pid, cam) for caption, pid, cam in data.texts]
    assert key(photo) == key(rendered) and words(photo) == words(rendered)
    paths = lambda data: [p for p, _, _ in data.train]
    (sat_r, sharp_r), (sat_p, sharp_p) = statistics(paths(rendered)), statistics(paths(photo))
    assert sat_p < 0.8 * sat_r and sharp_p < 0.7 * sharp_r
    heights = [(mask_height(p), mask_height(r)) for p, r in zip(paths(photo), paths(rendered))]
    assert np.mean([p for p, _ in heights]) > 1.05 * np.mean([r for _, r in heights])


def test_source_val_gets_the_look_too_and_a_bad_look_is_refused(root):
    val = build_dataset(load_config(opts=TINY + ["DATASETS.SYNTH.LOOK", "photo"]),
                        "SynthPersonSourceVal")
    assert all(f"{os.sep}source_val-photo{os.sep}" in p for p, _, _ in val.query)
    with pytest.raises(ConfigError, match="DATASETS.SYNTH.LOOK"):
        build_dataset(load_config(opts=TINY + ["DATASETS.SYNTH.LOOK", "real"]), "SynthPersonSource")
