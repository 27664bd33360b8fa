"""Inputs that used to hang (identity samplers that cannot fill a batch, image folders with nothing
usable) are errors before training; truncated images are skipped and counted at load."""
import os

import pytest
from PIL import Image

from fastreid_multimodal.data.finegpr_folder import SkipLog, decodable, list_images
from fastreid_multimodal.data.build import check_identity_batches
from fastreid_multimodal.engine import load_config
from fastreid_multimodal.errors import ConfigError, DatasetNotFoundError


def cfg_with(*opts):
    return load_config("configs/Demo/dmf_stage2_synth.yml", list(opts), check_files=False)


def test_batch_not_divisible_by_instances():
    with pytest.raises(ConfigError, match="IMS_PER_BATCH.*multiple of.*NUM_INSTANCE"):
        check_identity_batches(cfg_with("SOLVER.IMS_PER_BATCH", "30"), 100)


def test_fewer_identities_than_a_batch_needs():
    with pytest.raises(ConfigError, match="has 5 identities.*needs 8"):
        check_identity_batches(cfg_with(), 5)
    check_identity_batches(cfg_with(), 8)


def image(path, size=(32, 64)):
    Image.new("RGB", size, (120, 30, 30)).save(path, quality=90)


def test_empty_and_misnamed_image_folders_are_errors(tmp_path):
    os.makedirs(tmp_path / "images")
    with pytest.raises(DatasetNotFoundError, match="no usable image.*0000_c01_w01_l01_p01.jpg"):
        list_images(str(tmp_path / "images"), SkipLog(str(tmp_path)))
    image(tmp_path / "images" / "person_1.jpg")
    with pytest.raises(DatasetNotFoundError, match="1 files not named"):
        list_images(str(tmp_path / "images"), SkipLog(str(tmp_path)))


def test_truncated_jpeg_is_skipped_and_counted(tmp_path):
    os.makedirs(tmp_path / "images")
    image(tmp_path / "images" / "0001_c01_w01_l01_p01.jpg")
    image(tmp_path / "images" / "0001_c02_w01_l01_p01.jpg")
    data = (tmp_path / "images" / "0001_c02_w01_l01_p01.jpg").read_bytes()
    (tmp_path / "images" / "0001_c02_w01_l01_p01.jpg").write_bytes(data[: len(data) // 2])
    skips = SkipLog(str(tmp_path))
    images = list_images(str(tmp_path / "images"), skips)
    assert list(images) == ["0001_c01_w01_l01_p01.jpg", "0001_c02_w01_l01_p01.jpg"]  # not decoded
    kept = decodable(images, lambda name: str(tmp_path / "images" / name), skips)
    assert kept == ["0001_c01_w01_l01_p01.jpg"]
    assert skips.counts["images that fail to decode"] == 1
