"""RandPerson as released (per-camera archives): packed archives are named in one error with what
to do; unpacked images are read wherever they lie under RandPerson/, each file once."""
import io
import os
import tarfile

import pytest
from fastreid.data.datasets import DATASET_REGISTRY
from PIL import Image

import fastreid_multimodal  # noqa: F401
from fastreid_multimodal.errors import DatasetNotFoundError, UserError


def image(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", (8, 16), (10, 20, 30)).save(path)


def archive(path, names):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tarfile.open(path, "w") as tar:
        for name in names:
            data = io.BytesIO()
            Image.new("RGB", (8, 16)).save(data, format="JPEG")
            info = tarfile.TarInfo(name)
            info.size = data.tell()
            data.seek(0)
            tar.addfile(info, data)


def test_packed_archives_are_named_with_what_to_do(tmp_path):
    folder = tmp_path / "RandPerson" / "randperson_subset"
    for cam in range(1, 4):
        archive(str(folder / f"s01_c{cam:02d}.tar"), [f"00000001_s01_c{cam:02d}_f000001.jpg"])
    (folder / "s02_c01.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    with pytest.raises(DatasetNotFoundError) as error:
        DATASET_REGISTRY.get("RandPerson")(root=str(tmp_path))
    message = str(error.value)
    assert isinstance(error.value, UserError) and "4 packed archives" in message
    for name in ("s01_c01.tar", "s01_c02.tar", "s01_c03.tar", "s02_c01.zip"):
        assert f"randperson_subset/{name}" in message
    target = str(tmp_path / "RandPerson" / "images")
    assert f"unpack each into {target}/" in message and "tar -xf " in message

    with tarfile.open(str(folder / "s01_c01.tar")) as tar:  # what the message says to do
        os.makedirs(target)
        tar.extractall(target, filter="data")
    data = DATASET_REGISTRY.get("RandPerson")(root=str(tmp_path))
    assert [os.path.basename(p) for p, _, _ in data.train] == ["00000001_s01_c01_f000001.jpg"]


def test_each_image_is_counted_once_wherever_it_lies(tmp_path):
    top = tmp_path / "RandPerson"
    for pid in range(3):
        for cam in (1, 2):
            name = f"{pid:08d}_s01_c{cam:02d}_f000001.jpg"
            image(str(top / "images" / name))
            image(str(top / "randperson_subset" / f"cam{cam}" / name))  # unpacked twice
    image(str(top / "randperson_subset" / "cam3" / "00000005_s02_c03_f000009.jpg"))
    (top / "readme.txt").write_text("not an image")
    data = DATASET_REGISTRY.get("RandPerson")(root=str(tmp_path))
    names = [os.path.basename(p) for p, _, _ in data.train]
    assert len(names) == len(set(names)) == 7
    assert {pid for _, pid, _ in data.train} == {"randperson_0", "randperson_1", "randperson_2",
                                                 "randperson_5"}
    assert "randperson_2_3" in {cam for _, _, cam in data.train}  # (scene, camera)


def test_nothing_to_read_is_an_error_not_zero_identities(tmp_path):
    (tmp_path / "RandPerson" / "images").mkdir(parents=True)
    (tmp_path / "RandPerson" / "images" / "notes.txt").write_text("x")
    with pytest.raises(DatasetNotFoundError, match="no image under .*1 files not named"):
        DATASET_REGISTRY.get("RandPerson")(root=str(tmp_path))
