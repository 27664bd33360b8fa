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


def test_stock_mobilenetv2_loader_leaves_the_last_layer_random_ours_loads_every_tensor():
    from fastreid.modeling.backbones import mobilenet

    from fastreid_multimodal.engine import load_config
    from fastreid_multimodal.modeling.backbones.mobilenetv2_weights import packaged_mobilenetv2_path
    path = packaged_mobilenetv2_path("test")
    cfg = load_config("configs/Demo/baseline_synth.yml", ["MODEL.BACKBONE.PRETRAIN_PATH", path],
                      check_files=False)
    state = torch.load(path, weights_only=True)
    torch.manual_seed(0)
    stock = compat.original(mobilenet, "build_mobilenetv2_backbone")(cfg)  # fastreid's own
    assert not torch.equal(stock.conv[0].weight, state["features.18.0.weight"])  # silently random
    assert torch.equal(stock.features[0][0].weight, state["features.0.0.weight"])
    ours = mobilenet.build_mobilenetv2_backbone(cfg)
    assert torch.equal(ours.conv[0].weight, state["features.18.0.weight"])
    cfg.defrost()
    cfg.MODEL.BACKBONE.DEPTH = "0.5x"  # another width: every tensor's shape differs
    with pytest.raises(Exception, match="does not fit FastReID's MobileNetV2 1.0x"):
        mobilenet.build_mobilenetv2_backbone(cfg)
