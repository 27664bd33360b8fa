"""A checkpoint is data: a pickle payload is refused on every path that loads one, with one error
line naming the file and the global, and its code never runs."""
import os

import pytest
import torch

TINY = ["MODEL.VIT.EMBED_DIM", "32", "MODEL.BACKBONE.FEAT_DIM", "32", "MODEL.VIT.DEPTH", "1",
        "MODEL.VIT.NUM_HEADS", "2", "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]",
        "MODEL.TEXT.TRANSLATOR", "", "DATASETS.NAMES", "('Market1501',)",
        "DATASETS.TESTS", "('Market1501',)", "SOLVER.IMS_PER_BATCH", "16",
        "DATALOADER.NUM_WORKERS", "0", "SOLVER.MAX_EPOCH", "1"]


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.fixture
def hostile(tmp_path):
    marker = str(tmp_path / "payload_ran")
    path = tmp_path / "evil.pth"
    torch.save({"model": {"backbone.cls_token": torch.zeros(1, 1, 32)}, "x": Payload(marker)},
               str(path))
    return str(path), marker


@pytest.mark.parametrize("how", ["eval-only", "weights", "pretrain", "resume"])
def test_pickle_payload_is_refused_on_every_load_path(how, hostile, tmp_path, market_root, tool):
    path, marker = hostile
    out = tmp_path / "out"
    args = ["--config-file", "configs/Demo/dmf_stage2_synth.yml"]
    opts = TINY + ["OUTPUT_DIR", str(out)]
    if how == "eval-only":
        args += ["--eval-only"]
        opts += ["MODEL.WEIGHTS", path]
    elif how == "weights":
        opts += ["MODEL.WEIGHTS", path]
    elif how == "pretrain":
        opts += ["MODEL.BACKBONE.PRETRAIN", "True", "MODEL.BACKBONE.PRETRAIN_PATH", path]
    else:
        os.makedirs(out)
        os.link(path, out / "model_0000.pth")
        (out / "last_checkpoint").write_text("model_0000.pth")
        args += ["--resume"]
    run = tool("train_net.py", *args, *opts, env={"FASTREID_DATASETS": market_root})
    assert run.returncode == 2, run.stderr[-2000:]
    assert not os.path.exists(marker), "the checkpoint's code ran"
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout
    error = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1, run.stderr[-2000:]
    assert ("model_0000.pth" if how == "resume" else "evil.pth") in error[0], error[0]
    assert "os.mkdir" in error[0] or "posix.mkdir" in error[0]
    assert "FASTREID_TRUSTED_CHECKPOINTS" in error[0]
