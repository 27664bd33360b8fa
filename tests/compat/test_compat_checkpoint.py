"""fastreid's Checkpointer: atomic saves, numpy-holding checkpoints load as data."""
import numpy as np
import pytest
import torch

import fastreid_multimodal  # noqa: F401
from fastreid_multimodal import compat


def test_checkpoint_save_is_atomic_and_loads_numpy(tmp_path, monkeypatch):
    from fastreid.utils.checkpoint import Checkpointer
    model = torch.nn.Linear(2, 2)
    ckpt = Checkpointer(model, str(tmp_path))
    ckpt.save("model_final", extra=np.arange(3))
    good = (tmp_path / "model_final.pth").read_bytes()
    loaded = ckpt._load_file(str(tmp_path / "model_final.pth"))  # numpy inside: weights_only fails
    assert loaded["extra"].tolist() == [0, 1, 2]
    with pytest.raises(Exception):
        compat.original(Checkpointer, "_load_file")(ckpt, str(tmp_path / "model_final.pth"))

    def killed(obj, f, *a, **k):
        f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save("model_final")
    assert (tmp_path / "model_final.pth").read_bytes() == good  # the old checkpoint survives
    with pytest.raises(KeyboardInterrupt):
        compat.original(Checkpointer, "save")(ckpt, "model_final")
    assert (tmp_path / "model_final.pth").read_bytes() == b"partial"  # fastreid's own save
