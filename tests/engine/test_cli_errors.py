"""Bad input ends tools/train_net.py with one clear message and no traceback."""
import pytest

BASE = ["--config-file", "configs/Base-Baseline.yml"]


def _fails_cleanly(run, *expected):
    assert run.returncode == 2, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, run.stderr[-2000:]
    for text in expected:
        assert text in run.stderr, run.stderr[-2000:]


def test_missing_dataset_root(tmp_path, tool):
    run = tool("train_net.py", *BASE, "OUTPUT_DIR", str(tmp_path / "out"),
               env={"FASTREID_DATASETS": str(tmp_path / "nowhere")})
    _fails_cleanly(run, "Market1501", str(tmp_path / "nowhere"), "bounding_box_train", "make demo")


@pytest.mark.parametrize("where", ["file", "command line"])
def test_unknown_config_key(tmp_path, tool, where):
    if where == "file":
        cfg = tmp_path / "bad.yml"
        cfg.write_text("_BASE_: %s\nSOLVER:\n  BASE_LRR: 0.1\n" % (
            __import__("os").path.abspath("configs/Base-Baseline.yml")))
        run = tool("train_net.py", "--config-file", str(cfg))
        _fails_cleanly(run, str(cfg), "SOLVER.BASE_LRR", "SOLVER.BASE_LR")
    else:
        run = tool("train_net.py", *BASE, "MODEL.BACKBONE.DEPHT", "18x")
        _fails_cleanly(run, "command line", "MODEL.BACKBONE.DEPHT", "MODEL.BACKBONE.DEPTH")


def test_missing_weights_file(tmp_path, tool):
    missing = tmp_path / "model_final.pth"
    run = tool("train_net.py", *BASE, "--eval-only", "MODEL.WEIGHTS", str(missing))
    _fails_cleanly(run, "MODEL.WEIGHTS", str(missing))


def test_missing_config_file(tool):
    _fails_cleanly(tool("train_net.py", "--config-file", "configs/nope.yml"), "configs/nope.yml")
