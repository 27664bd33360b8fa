"""FastReID's launch (torch.distributed DDP) with 2 processes on CPU over gloo."""
import os


def test_two_processes_train_and_write_one_checkpoint(market_root, tmp_path, tool):
    run = tool("train_net.py", "--config-file", "configs/Base-Baseline.yml", "--num-gpus", "2",
               "--dist-url", "auto",
               "DATASETS.NAMES", '("Market1501",)', "DATASETS.TESTS", '("Market1501",)',
               "SOLVER.MAX_EPOCH", "2", "TEST.EVAL_PERIOD", "2", "SOLVER.CHECKPOINT_PERIOD", "2",
               "SOLVER.IMS_PER_BATCH", "16", "DATALOADER.NUM_WORKERS", "0",
               "OUTPUT_DIR", str(tmp_path), env={"FASTREID_DATASETS": market_root})
    assert run.returncode == 0, run.stderr[-3000:]
    for log in ("log.txt", "log.txt.rank1"):
        text = open(tmp_path / log).read()
        assert "World size: 2" in text and "Starting training from epoch 0" in text, log
    checkpoints = sorted(p for p in os.listdir(tmp_path) if p.endswith(".pth"))
    assert checkpoints == ["model_best.pth", "model_final.pth"]  # written once, by rank 0
    assert open(tmp_path / "last_checkpoint").read().strip() == "model_final.pth"
    # the chunked evaluator gives the same numbers from 2 processes (features gathered) as from 1
    import json
    results = []
    for gpus in ("1", "2"):
        out = tmp_path / f"eval{gpus}"
        run = tool("train_net.py", "--config-file", "configs/Base-Baseline.yml", "--num-gpus", gpus,
                   "--dist-url", "auto", "--eval-only", "DATASETS.NAMES", '("Market1501",)',
                   "DATASETS.TESTS", '("Market1501",)', "DATALOADER.NUM_WORKERS", "0",
                   "MODEL.WEIGHTS", str(tmp_path / "model_final.pth"), "OUTPUT_DIR", str(out),
                   env={"FASTREID_DATASETS": market_root})
        assert run.returncode == 0, run.stderr[-3000:]
        results.append(json.load(open(out / "results.json")))
    assert results[0] == results[1]
