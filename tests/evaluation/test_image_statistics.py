"""tools/image_statistics.py: the statistics by hand on constructed images, and bad input."""
import importlib.util
import os

import numpy as np
import pytest
from PIL import Image

spec = importlib.util.spec_from_file_location("image_statistics", os.path.join("tools", "image_statistics.py"))
image_statistics = importlib.util.module_from_spec(spec)
spec.loader.exec_module(image_statistics)


def test_flat_grey_has_no_contrast_saturation_or_sharpness_and_its_brightness():
    stats = image_statistics.image_statistics(Image.new("RGB", (64, 128), (51, 51, 51)))
    assert stats["brightness"] == pytest.approx(0.2)
    assert [stats["contrast"], stats["saturation"], stats["sharpness"]] == pytest.approx([0, 0, 0], abs=1e-9)


def test_pure_colour_is_fully_saturated_and_stripes_are_sharper_than_a_ramp():
    assert image_statistics.image_statistics(Image.new("RGB", (64, 128), (200, 0, 0)))["saturation"] == \
        pytest.approx(1.0)
    stripes = np.zeros((128, 64, 3), np.uint8)
    stripes[:, ::2] = 255
    ramp = np.repeat(np.linspace(0, 255, 64, dtype=np.uint8)[None, :, None], 128, 0).repeat(3, 2)
    sharp = image_statistics.image_statistics(Image.fromarray(stripes))
    smooth = image_statistics.image_statistics(Image.fromarray(ramp))
    assert sharp["sharpness"] > 10 * smooth["sharpness"] and sharp["contrast"] == pytest.approx(0.5)


def test_folders_are_averaged_and_a_bad_folder_is_one_error(tmp_path, capsys):
    for i, grey in enumerate((0, 255)):
        Image.new("RGB", (32, 64), (grey,) * 3).save(tmp_path / f"{i}.png")
    assert image_statistics.main([f"mine={tmp_path}", "--every", "1"]) == 0
    assert "| mine | 2 | 0.500 | 0.000 |" in capsys.readouterr().out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert image_statistics.main([f"none={empty}"]) == 2
    assert capsys.readouterr().err.startswith("error: no *.jpg or *.png image in")
    assert image_statistics.main([str(tmp_path)]) == 2


def test_per_identity_folders_are_read_in_the_order_of_a_flat_folder(tmp_path):
    names = ["0000_c01_w01_l01_p01.jpg", "0000_c02_w01_l01_p01.jpg", "0001_c01_w01_l01_p01.jpg"]
    for name in names:
        (tmp_path / "flat").mkdir(exist_ok=True)
        Image.new("RGB", (32, 64)).save(tmp_path / "flat" / name)
        (tmp_path / "nested" / name[:4]).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (32, 64)).save(tmp_path / "nested" / name[:4] / name)
    (tmp_path / "nested" / "masks").mkdir()
    Image.new("L", (32, 64)).save(tmp_path / "nested" / "masks" / "0000_c01_w01_l01_p01.png")
    flat = [os.path.basename(f) for f in image_statistics.image_files(str(tmp_path / "flat"))]
    nested = [os.path.basename(f) for f in image_statistics.image_files(str(tmp_path / "nested"))]
    assert flat == nested == names
