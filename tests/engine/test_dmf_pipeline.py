"""tools/dmf_pipeline.py: stage I on SynthPerson (images + captions) -> stage II on a FastReID
stock data set (Market1501 layout) -> results table; and the paper config without FineGPR."""
import json
import os

TINY = ["MODEL.VIT.EMBED_DIM", "32", "MODEL.BACKBONE.FEAT_DIM", "32", "MODEL.VIT.DEPTH", "2",
        "MODEL.VIT.NUM_HEADS", "2", "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]",
        "MODEL.TEXT.MAX_LENGTH", "64", "DATASETS.SYNTH.NUM_IDS", "8", "DATASETS.SYNTH.TEST_IDS", "4",
        "DATASETS.SYNTH.IMAGES_PER_ID", "4", "DATASETS.SYNTH.SIZE", "[64, 32]",
        "SOLVER.IMS_PER_BATCH", "16", "DATALOADER.NUM_WORKERS", "0", "SOLVER.WARMUP_ITERS", "0"]


def test_stage_one_to_stage_two_to_table(market_root, tmp_path, tool):
    stage2_cfg = tmp_path / "stage2.yml"
    stage2_cfg.write_text(
        f"_BASE_: {os.path.abspath('configs/Demo/dmf_stage2_synth.yml')}\n"
        "DATASETS:\n  NAMES: ('Market1501',)\n  TESTS: ('Market1501',)\n")
    out = tmp_path / "run"
    run = tool("dmf_pipeline.py", "--pretrain", "configs/Demo/dmf_stage1_synth.yml",
               "--finetune", str(stage2_cfg), "--output-dir", str(out), *TINY,
               "SOLVER.MAX_EPOCH", "2", env={"FASTREID_DATASETS": market_root})
    assert run.returncode == 0, run.stderr[-3000:]
    stage1_log = open(out / "stage1" / "log.txt").read()
    assert "texts of 8 identities" in stage1_log
    # captions were trained on in stage I (an image-only run counts none), none in stage II
    seen = [json.loads(line) for line in open(out / "stage1" / "metrics.json")][-1]
    assert seen["samples/texts"] > 0 and seen["samples/images"] > 0
    seen = [json.loads(line) for line in open(out / "stage2" / "metrics.json")][-1]
    assert seen["samples/texts"] == 0 and seen["samples/images"] > 0
    stage2_log = open(out / "stage2" / "log.txt").read()
    assert "the classifier is re-initialised" in stage2_log
    assert "+ 0 texts" in stage2_log  # stage II: images only
    results = json.load(open(out / "results.json"))
    assert 0 < results["Market1501"]["mAP"] <= 100
    per_query = json.load(open(out / "results_per_query.json"))["Market1501"]["mAP"]
    assert per_query == json.load(open(out / "stage2" / "results_per_query.json"))["Market1501"]["mAP"]
    assert abs(sum(per_query) / len(per_query) - results["Market1501"]["mAP"]) < 1e-3
    assert "| Market1501 |" in run.stdout

    again = tool("dmf_pipeline.py", "--pretrain", "configs/Demo/dmf_stage1_synth.yml",
                 "--finetune", str(stage2_cfg), "--output-dir", str(out), *TINY,
                 "SOLVER.MAX_EPOCH", "2", env={"FASTREID_DATASETS": market_root})
    assert again.returncode == 0 and "Training already finished" in again.stdout + again.stderr


def test_paper_config_without_finegpr_says_where_to_put_it(tmp_path, tool):
    run = tool("train_net.py", "--config-file", "configs/DMF/vit_finegpr.yml",
               "OUTPUT_DIR", str(tmp_path / "out"), env={"FASTREID_DATASETS": str(tmp_path)})
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-2000:]
    assert "FineGPRCaption" in run.stderr and str(tmp_path) in run.stderr
    assert "FineGPR/images/" in run.stderr and "make demo" in run.stderr


def test_stage1_dir_pretrains_there_and_stage_two_loads_it(tmp_path, monkeypatch):
    """--stage1-dir: stage I runs (or, finished, is skipped by --resume) in the shared folder and
    stage II starts from that folder's model."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("dmf_pipeline", os.path.join("tools", "dmf_pipeline.py"))
    pipeline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pipeline)
    calls = []
    monkeypatch.setattr(pipeline, "run_stage", lambda config, out, opts, gpus: calls.append((config, out, opts)))
    monkeypatch.setattr("fastreid_multimodal.evaluation.results.read_results",
                        lambda folder: {"Market1501": {"mAP": 1.0}})
    shared = str(tmp_path / "shared" / "stage1")
    pipeline.main(["--pretrain", "pre.yml", "--finetune", "ft.yml", "--output-dir", str(tmp_path / "run"),
                   "--stage1-dir", shared, "--variant", "text", "SEED", "3"])
    (pre, pre_out, pre_opts), (ft, ft_out, ft_opts) = calls
    assert (pre, pre_out, ft, ft_out) == ("pre.yml", shared, "ft.yml", str(tmp_path / "run" / "stage2"))
    assert pre_opts == ["SEED", "3", "MODEL.DMF.MODALITIES", "text"]
    assert ft_opts[ft_opts.index("MODEL.WEIGHTS") + 1] == os.path.join(shared, "model_final.pth")
    assert json.load(open(tmp_path / "run" / "results.json"))["Market1501"]["mAP"] == 1.0
