"""tools/transfer_eval.py: train on SynthPerson (skipped when finished), then test the final model
on a data set it never saw (MMET's protocol), results and per-query APs in the output folder."""
import json
import os

import yaml

from fastreid_multimodal.reproduction.planning import plan

TINY = ["DATASETS.SYNTH.NUM_IDS", "8", "DATASETS.SYNTH.TEST_IDS", "4", "DATASETS.SYNTH.IMAGES_PER_ID", "4",
        "DATASETS.SYNTH.SIZE", "[64, 32]", "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]",
        "SOLVER.IMS_PER_BATCH", "16", "DATALOADER.NUM_WORKERS", "0", "SOLVER.MAX_EPOCH", "2",
        "SOLVER.CHECKPOINT_PERIOD", "1", "TEST.EVAL_PERIOD", "0", "DATASETS.TESTS", "()"]


def test_trains_once_then_tests_on_an_unseen_set(market_root, tmp_path, tool):
    train, out = tmp_path / "train", tmp_path / "transfer"
    args = ["--config-file", "configs/Demo/baseline_synth.yml", "--train-dir", train,
            "--tests", "Market1501", "--output-dir", out, *TINY]
    first = tool("transfer_eval.py", *args, env={"FASTREID_DATASETS": market_root})
    assert first.returncode == 0, first.stderr[-3000:]
    assert os.path.isfile(train / "model_final.pth")
    results = json.load(open(out / "results.json"))
    assert list(results) == ["Market1501"] and 0 < results["Market1501"]["mAP"] <= 100
    per_query = json.load(open(out / "results_per_query.json"))["Market1501"]["mAP"]
    assert len(per_query) == 8 and abs(sum(per_query) / 8 - results["Market1501"]["mAP"]) < 1e-3
    stamp = os.path.getmtime(train / "model_final.pth")
    assert yaml.safe_load(open(out / "eval" / "config.yaml"))["TEST"]["IMS_PER_BATCH"] != 5
    # --eval-opt changes the evaluation only: the finished training is reused as it is
    again = tool("transfer_eval.py", "--eval-opt", "TEST.IMS_PER_BATCH", "5", *args,
                 env={"FASTREID_DATASETS": market_root})
    assert again.returncode == 0 and os.path.getmtime(train / "model_final.pth") == stamp
    assert "the training is finished, not run again" in again.stdout
    assert "--resume" not in again.stdout  # no second training process, not even to evaluate
    assert yaml.safe_load(open(out / "eval" / "config.yaml"))["TEST"]["IMS_PER_BATCH"] == 5


def test_real_mmet_table_tests_the_synthetic_tables_models():
    _, runs = plan("mmet-real", "/tmp/out", seeds=(2,))
    train_dirs = {run.row: run.command[run.command.index("--train-dir") + 1] for run in runs}
    assert train_dirs["MMET + MMM"] == "/tmp/out/mmet-1-synthetic/mmet_mmm_s2"
    assert train_dirs["baseline"] == "/tmp/out/mmet-1-synthetic/baseline_s2"
    assert train_dirs["stock Baseline (MobileNetV2, ImageNet)"] == "/tmp/out/aa-synthetic/baseline_synth_s2"
    assert all(run.tests == ("Market1501", "DukeMTMC") for run in runs)
    _, own = plan("mmet-real", "/tmp/out", seeds=(2,), extra_opts=("SOLVER.BASE_LR", "0.001"))
    assert own[0].command[own[0].command.index("--train-dir") + 1] == "/tmp/out/mmet-real/baseline_s2/train"
