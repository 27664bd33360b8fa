"""kill -9 mid-epoch, then --resume: the same per-iteration losses as the uninterrupted run, to
the last bit (data order, augmentations, dropout / drop-path and the optimizer all continue
exactly). A tiny ViT (drop path on: the training process draws random numbers) on a generated
Market1501-like set, one data worker."""
import os
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OPTS = ["MODEL.BACKBONE.NAME", "build_dmf_vit_backbone", "MODEL.BACKBONE.FEAT_DIM", "32",
        "MODEL.VIT.EMBED_DIM", "32", "MODEL.VIT.DEPTH", "2", "MODEL.VIT.NUM_HEADS", "2",
        "MODEL.BACKBONE.DROP_PATH_RATIO", "0.2", "MODEL.BACKBONE.STRIDE_SIZE", "(16, 16)",
        "MODEL.HEADS.POOL_LAYER", "Identity", "INPUT.SIZE_TRAIN", "[64, 32]",
        "INPUT.SIZE_TEST", "[64, 32]", "DATASETS.NAMES", '("Market1501",)', "DATASETS.TESTS", "()",
        "SOLVER.OPT", "Adam", "SOLVER.BASE_LR", "0.001", "SOLVER.MAX_EPOCH", "3",
        "SOLVER.CHECKPOINT_PERIOD", "1", "SOLVER.IMS_PER_BATCH", "8", "DATALOADER.NUM_INSTANCE", "2",
        "DATALOADER.NUM_WORKERS", "1", "TEST.EVAL_PERIOD", "0", "SEED", "3", "MODEL.DEVICE", "cpu"]
ITERS_PER_EPOCH = 9  # 72 images / 8


def train(output_dir, log, market_root, resume=False, pause_at=None, kill_in_save=None):
    env = dict(os.environ, FASTREID_DATASETS=market_root, LOSS_LOG=str(log), OMP_NUM_THREADS="1")
    if pause_at is not None:
        env["PAUSE_AT"] = str(pause_at)
    if kill_in_save is not None:
        env["KILL_IN_SAVE"] = kill_in_save
    cmd = [sys.executable, os.path.join(HERE, "resume_probe.py"), "--config-file",
           "configs/Base-Baseline.yml", *(["--resume"] if resume else []), *OPTS,
           "OUTPUT_DIR", str(output_dir)]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def losses(log):
    return dict(line.split() for line in open(log).read().splitlines())


@pytest.fixture(scope="module")
def reference(market_root, tmp_path_factory):
    """{iteration: loss} of the uninterrupted run."""
    tmp = tmp_path_factory.mktemp("full")
    full = train(tmp / "out", tmp / "full.log", market_root)
    out, _ = full.communicate(timeout=600)
    assert full.returncode == 0, out[-3000:]
    assert (tmp / "out" / "model_final.pth").exists()
    return losses(tmp / "full.log")


def test_killed_run_resumes_with_the_uninterrupted_loss_sequence(market_root, tmp_path, reference):
    assert len(reference) == 3 * ITERS_PER_EPOCH

    pause = ITERS_PER_EPOCH + 4  # mid-epoch 1, after epoch 0's checkpoint
    killed = train(tmp_path / "killed", tmp_path / "killed.log", market_root, pause_at=pause)
    deadline = time.time() + 600
    while str(pause) not in losses(tmp_path / "killed.log") if os.path.exists(tmp_path / "killed.log") \
            else True:
        assert killed.poll() is None and time.time() < deadline, killed.communicate()[0][-3000:]
        time.sleep(0.2)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert (tmp_path / "killed" / "model_0000.pth").exists()
    before = losses(tmp_path / "killed.log")
    os.rename(tmp_path / "killed.log", tmp_path / "before.log")

    resumed = train(tmp_path / "killed", tmp_path / "killed.log", market_root, resume=True)
    out, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, out[-3000:]
    assert "Starting training from epoch 1" in out
    after = losses(tmp_path / "killed.log")
    assert sorted(map(int, after)) == list(range(ITERS_PER_EPOCH, 3 * ITERS_PER_EPOCH))
    for iteration, value in {**before, **after}.items():
        assert value == reference[iteration], (iteration, value, reference[iteration])
    assert (tmp_path / "killed" / "model_final.pth").exists()


def test_kill_during_the_final_save_then_resume_writes_model_final(market_root, tmp_path, reference):
    """The final save is killed half-way: no model_final.pth, its temporary file left behind and
    last_checkpoint still naming epoch 1's; --resume removes the leftover, redoes the last epoch
    exactly and writes model_final.pth."""
    out = tmp_path / "out"
    killed = train(out, tmp_path / "killed.log", market_root, kill_in_save="model_final")
    killed.communicate(timeout=600)
    assert killed.returncode == -signal.SIGKILL
    assert not (out / "model_final.pth").exists()
    leftovers = [p.name for p in out.iterdir() if p.name.startswith("model_final.pth.tmp.")]
    assert len(leftovers) == 1
    assert (out / "last_checkpoint").read_text().strip() == "model_0001.pth"

    resumed = train(out, tmp_path / "resumed.log", market_root, resume=True)
    log, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, log[-3000:]
    assert "left by a save that was killed" in log and not (out / leftovers[0]).exists()
    assert (out / "model_final.pth").exists()
    assert (out / "last_checkpoint").read_text().strip() == "model_final.pth"
    after = losses(tmp_path / "resumed.log")
    assert sorted(map(int, after)) == list(range(2 * ITERS_PER_EPOCH, 3 * ITERS_PER_EPOCH))
    for iteration, value in after.items():
        assert value == reference[iteration], (iteration, value, reference[iteration])
