"""tools/train_net.py end to end on CPU with FastReID's stock Baseline and a generated data set."""
import json
import os

import pytest
import torch

TRAIN = ["DATASETS.NAMES", '("Market1501",)', "DATASETS.TESTS", '("Market1501",)',
         "SOLVER.MAX_EPOCH", "4", "TEST.EVAL_PERIOD", "2", "SOLVER.CHECKPOINT_PERIOD", "2",
         "SOLVER.IMS_PER_BATCH", "16", "DATALOADER.NUM_WORKERS", "0", "SEED", "1"]
CONFIG = "configs/Base-Baseline.yml"


def _losses(output_dir):
    with open(os.path.join(output_dir, "metrics.json")) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [row["total_loss"] for row in rows if "total_loss" in row]


@pytest.fixture(scope="module")
def trained(market_root, tmp_path_factory, tool_runner):
    out = str(tmp_path_factory.mktemp("baseline"))
    env = {"FASTREID_DATASETS": market_root}
    run = tool_runner("train_net.py", "--config-file", CONFIG, *TRAIN, "OUTPUT_DIR", out, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    return out, env, run


def test_trains_loss_decreases_and_weights_change(trained):
    out, _, run = trained
    losses = _losses(out)
    assert len(losses) >= 3 and losses[-1] < losses[0]
    early = torch.load(os.path.join(out, "model_0001.pth"), map_location="cpu")["model"]
    final = torch.load(os.path.join(out, "model_final.pth"), map_location="cpu")["model"]
    conv = "backbone.conv1.weight"
    assert not torch.equal(early[conv], final[conv]), "backbone weights did not change"
    assert "Evaluation results" in run.stderr + run.stdout


def test_writes_results_table(trained):
    out, _, _ = trained
    with open(os.path.join(out, "results.json")) as f:
        results = json.load(f)
    assert set(results["Market1501"]) >= {"Rank-1", "Rank-5", "Rank-10", "mAP"}
    assert 0 < results["Market1501"]["mAP"] <= 100
    assert "| Market1501 |" in open(os.path.join(out, "results.md")).read()


def test_resume_of_finished_run_and_eval_only_reproduce_metrics(trained, tool):
    out, env, _ = trained
    final = json.load(open(os.path.join(out, "results.json")))["Market1501"]
    resumed = tool("train_net.py", "--config-file", CONFIG, "--resume", *TRAIN, "OUTPUT_DIR", out,
                   env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Training already finished" in resumed.stderr + resumed.stdout
    eval_dir = os.path.join(out, "eval")
    evaluated = tool("train_net.py", "--config-file", CONFIG, "--eval-only", *TRAIN,
                     "MODEL.WEIGHTS", os.path.join(out, "model_final.pth"), "OUTPUT_DIR", eval_dir,
                     env=env)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    again = json.load(open(os.path.join(eval_dir, "results.json")))["Market1501"]
    for key in ("Rank-1", "Rank-5", "mAP"):
        assert again[key] == pytest.approx(final[key], abs=1e-4)


def test_resume_continues_an_interrupted_run(market_root, tmp_path, tool):
    env = {"FASTREID_DATASETS": market_root}
    short = [*TRAIN, "OUTPUT_DIR", str(tmp_path)]
    first = tool("train_net.py", "--config-file", CONFIG, *short, "SOLVER.MAX_EPOCH", "2", env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert open(tmp_path / "last_checkpoint").read().strip() == "model_final.pth"
    more = tool("train_net.py", "--config-file", CONFIG, "--resume", *short, "SOLVER.MAX_EPOCH",
                "4", env=env)
    assert more.returncode == 0, more.stderr[-3000:]
    log = more.stderr + more.stdout
    assert "Starting training from epoch 2" in log
