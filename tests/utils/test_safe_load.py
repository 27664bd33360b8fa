"""Weight files load as data: numpy scalars/arrays through the allow-list, any other global is
refused naming the file and the global, and FASTREID_TRUSTED_CHECKPOINTS opts one file in."""
import fractions
import os

import numpy as np
import pytest
import torch

from fastreid_multimodal.utils.safe_load import TRUST_VARIABLE, UnsafeCheckpointError, load_weights


def test_numpy_scalars_and_arrays_load(tmp_path):
    path = tmp_path / "fastreid.pth"
    values = {"iteration": np.int64(7), "lr": np.float32(0.5), "flag": np.bool_(True),
              "array": np.arange(6, dtype=np.uint8).reshape(2, 3)}
    torch.save({"model": {"w": torch.ones(2)}, **values}, str(path))
    loaded = load_weights(str(path))
    assert loaded["iteration"] == 7 and loaded["lr"] == 0.5 and loaded["flag"]
    assert loaded["array"].dtype == np.uint8 and loaded["array"].tolist() == [[0, 1, 2], [3, 4, 5]]


def test_any_other_global_is_refused_naming_file_and_global(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"model": {"w": torch.ones(2)}, "x": fractions.Fraction(1, 3)}, str(path))
    with pytest.raises(UnsafeCheckpointError, match=r"other\.pth.*fractions\.Fraction.*" + TRUST_VARIABLE):
        load_weights(str(path), "MODEL.WEIGHTS")


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_trusted_file_opts_in_and_only_that_file(tmp_path, monkeypatch):
    marker = str(tmp_path / "ran")
    path = tmp_path / "mine.pth"
    torch.save({"model": {"w": torch.ones(2)}, "x": Payload(marker)}, str(path))
    monkeypatch.setenv(TRUST_VARIABLE, os.pathsep.join([str(tmp_path / "another.pth"), ""]))
    with pytest.raises(UnsafeCheckpointError, match="posix.mkdir|os.mkdir"):
        load_weights(str(path))
    assert not os.path.exists(marker)
    monkeypatch.setenv(TRUST_VARIABLE, os.pathsep.join([str(tmp_path / "another.pth"), str(path)]))
    assert torch.equal(load_weights(str(path))["model"]["w"], torch.ones(2))
    assert os.path.exists(marker)  # a trusted file is fully unpickled: it may run code
