"""The backbone in a FastReID user's own script: FastReID's train_net shape (get_cfg, default_setup,
DefaultTrainer) plus `import fastreid_multimodal`, with a Bagtricks-style config that names
build_dmf_vit_backbone. CPU fallback, seed, SynthPerson keys and the project's log lines work there
too; what needs MultimodalTrainer says so."""
import json
import os
import subprocess
import sys

import pytest
import torch
from fastreid.config import get_cfg
from fastreid.modeling.meta_arch import build_model

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TINY_VIT = ["MODEL.BACKBONE.FEAT_DIM", "32", "MODEL.VIT.EMBED_DIM", "32", "MODEL.VIT.DEPTH", "1",
            "MODEL.VIT.NUM_HEADS", "2", "MODEL.BACKBONE.STRIDE_SIZE", "(16, 16)",
            "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]"]


def bagtricks_config(tmp_path, meta="Baseline"):
    """FastReID's Bagtricks shape with the DMF ViT swapped in (no MODEL.DEVICE: cuda by default)."""
    path = tmp_path / "bagtricks_vit.yml"
    path.write_text(f"""MODEL:
  META_ARCHITECTURE: {meta}
  BACKBONE:
    NAME: build_dmf_vit_backbone
    PRETRAIN: False
  HEADS:
    NAME: EmbeddingHead
    NORM: BN
    WITH_BNNECK: True
    POOL_LAYER: Identity
    NECK_FEAT: before
    CLS_LAYER: Linear
  LOSSES:
    NAME: ("CrossEntropyLoss", "TripletLoss")
DATASETS:
  NAMES: ("SynthPersonCampus",)
  TESTS: ("SynthPersonCampus",)
  SYNTH:
    NUM_IDS: 8
    TEST_IDS: 4
    IMAGES_PER_ID: 6
    SIZE: [64, 32]
DATALOADER:
  SAMPLER_TRAIN: NaiveIdentitySampler
  NUM_INSTANCE: 2
  NUM_WORKERS: 0
SOLVER:
  OPT: Adam
  BASE_LR: 0.001
  MAX_EPOCH: 2
  IMS_PER_BATCH: 8
  CHECKPOINT_PERIOD: 1
TEST:
  EVAL_PERIOD: 1
  IMS_PER_BATCH: 16
SEED: 5
""")
    return str(path)


def fastreid_script(config, output_dir, datasets, *opts):
    env = dict(os.environ, FASTREID_DATASETS=str(datasets), OMP_NUM_THREADS="2")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return subprocess.run([sys.executable, os.path.join(HERE, "fastreid_style_train_net.py"),
                           "--config-file", config, *TINY_VIT, *opts, "OUTPUT_DIR", str(output_dir)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback")
def test_defaulttrainer_trains_the_backbone_on_cpu_with_seed_synth_keys_and_log_lines(tmp_path):
    config = bagtricks_config(tmp_path)
    runs = [fastreid_script(config, tmp_path / f"out{i}", tmp_path / "data") for i in (0, 1)]
    for run in runs:
        assert run.returncode == 0, run.stderr[-3000:]
    log = open(tmp_path / "out0" / "log.txt").read()
    assert "No CUDA device: MODEL.DEVICE cuda -> cpu" in log  # the project's lines reach log.txt
    assert "SEED + rank = 5" in log
    # DATASETS.SYNTH.NUM_IDS reached the data set FastReID's loader built
    campus = tmp_path / "data" / "SynthPerson" / "campus" / "images"
    assert len(os.listdir(campus)) == 8  # one folder per identity
    results = json.load(open(tmp_path / "out0" / "results.json"))
    assert 0 <= results["SynthPersonCampus"]["mAP"] <= 100  # WriteResults under DefaultTrainer
    # SEED: two runs, the same weights
    a = torch.load(tmp_path / "out0" / "model_final.pth", map_location="cpu")["model"]
    b = torch.load(tmp_path / "out1" / "model_final.pth", map_location="cpu")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def _one_error_line(run, *expected):
    assert run.returncode == 2, run.stderr[-3000:]
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout, run.stderr[-3000:]
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, run.stderr[-3000:]
    for text in expected:
        assert text in errors[0], (text, errors[0])


def test_dmf_under_defaulttrainer_names_the_trainer_to_use(tmp_path):
    run = fastreid_script(bagtricks_config(tmp_path, meta="DMF"), tmp_path / "out", tmp_path / "data",
                          "MODEL.TEXT.MAX_LENGTH", "16", "TEST.EVAL_PERIOD", "0")
    _one_error_line(run, "MODEL.META_ARCHITECTURE DMF", "MultimodalTrainer")
    assert "user error" in open(tmp_path / "out" / "log.txt").read()  # the traceback: log only


@pytest.mark.parametrize("opts,expected", [
    (["MODEL.BACKBONE.FEAT_DIM", "2048"], ["MODEL.BACKBONE.FEAT_DIM", "MODEL.VIT.EMBED_DIM"]),
    (["MODEL.BACKBONE.PRETRAIN", "True", "MODEL.BACKBONE.PRETRAIN_PATH", ""],
     ["MODEL.BACKBONE.PRETRAIN is True", "MODEL.BACKBONE.PRETRAIN_PATH is empty"]),
], ids=["FEAT_DIM 2048", "PRETRAIN without a path"])
def test_bagtricks_values_in_a_fastreid_script_are_one_error_line(opts, expected, tmp_path):
    run = fastreid_script(bagtricks_config(tmp_path), tmp_path / "out", tmp_path / "data", *opts)
    _one_error_line(run, *expected)


def _cfg(*opts):
    cfg = get_cfg()  # FastReID's own defaults: the project's keys are already there
    cfg.merge_from_list(["MODEL.BACKBONE.NAME", "build_dmf_vit_backbone", "MODEL.DEVICE", "cpu",
                         "MODEL.HEADS.NUM_CLASSES", "4", "MODEL.HEADS.POOL_LAYER", "Identity",
                         *opts])
    return cfg


def test_image_only_baseline_leaves_the_text_path_out():
    image_only = build_model(_cfg(*TINY_VIT))
    assert not any("text" in name for name, _ in image_only.named_parameters())
    with_text = build_model(_cfg(*TINY_VIT, "MODEL.TEXT.PATH", "on"))
    assert any(name.startswith("backbone.text_") for name, _ in with_text.named_parameters())
    with pytest.raises(Exception, match="MODEL.TEXT.PATH"):
        image_only.backbone.forward_text(torch.ones(1, 3, dtype=torch.long),
                                         torch.ones(1, 3, dtype=torch.bool))


def test_fastreid_vit_depth_names_the_size_or_one_error_names_both_keys():
    cfg = _cfg("MODEL.BACKBONE.DEPTH", "small", "MODEL.BACKBONE.FEAT_DIM", "768",
               "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]")
    backbone = build_model(cfg).backbone
    assert len(backbone.blocks) == 8 and backbone.blocks[0].attn.num_heads == 8
    assert backbone.blocks[0].attn.qkv.bias is None  # FastReID's ViT-small: no qkv bias
    with pytest.raises(Exception, match="MODEL.BACKBONE.DEPTH.*MODEL.VIT.DEPTH"):
        build_model(_cfg("MODEL.BACKBONE.DEPTH", "small", "MODEL.VIT.DEPTH", "2",
                         "MODEL.BACKBONE.FEAT_DIM", "768"))
    with pytest.raises(Exception, match="MODEL.BACKBONE.FEAT_DIM.*MODEL.VIT.EMBED_DIM"):
        build_model(_cfg("MODEL.BACKBONE.FEAT_DIM", "2048"))


@pytest.mark.parametrize("key", ["MODEL.WEIGHTS", "MODEL.BACKBONE.PRETRAIN_PATH"])
def test_image_only_backbone_loads_a_dmf_stage_one_checkpoint(key, tmp_path):
    from fastreid.utils.checkpoint import Checkpointer

    from fastreid_multimodal.engine.trainer import check_checkpoint_matches
    stage1_cfg = _cfg(*TINY_VIT, "MODEL.META_ARCHITECTURE", "DMF", "MODEL.TEXT.TRANSLATOR", "",
                      "MODEL.TEXT.MAX_LENGTH", "16")
    stage1 = build_model(stage1_cfg)
    assert any(name.startswith("backbone.text_") for name in stage1.state_dict())
    Checkpointer(stage1, str(tmp_path)).save("model_final")
    path = str(tmp_path / "model_final.pth")
    torch.manual_seed(1)  # another initialisation, so that equal tensors mean loaded ones
    if key == "MODEL.WEIGHTS":
        image_only = build_model(_cfg(*TINY_VIT))
        check_checkpoint_matches(image_only, path)  # the trainer's check accepts it
        Checkpointer(image_only).load(path)
    else:
        image_only = build_model(_cfg(*TINY_VIT, "MODEL.BACKBONE.PRETRAIN", "True",
                                      "MODEL.BACKBONE.PRETRAIN_PATH", path))
    loaded, saved = image_only.backbone.state_dict(), stage1.backbone.state_dict()
    assert not any("text" in name for name in loaded)
    assert set(loaded) < set(saved)  # the image path's weights keep their names
    for name, value in loaded.items():
        assert torch.equal(value, saved[name]), name


@pytest.mark.parametrize("write", [True, False])
def test_write_results_hook_honours_test_results_write(write, tmp_path):
    from types import SimpleNamespace

    from fastreid_multimodal.engine import WriteResults
    cfg = _cfg("TEST.RESULTS.WRITE", str(write), "OUTPUT_DIR", str(tmp_path),
               "DATASETS.TESTS", "('SynthPersonCampus',)")
    hook = WriteResults(cfg)
    hook.trainer = SimpleNamespace(_last_eval_results={"Rank-1": 50.0, "mAP": 25.0})
    hook.after_epoch()
    assert (tmp_path / "results.json").exists() == write
    if write:
        assert json.load(open(tmp_path / "results.json")) == {
            "SynthPersonCampus": {"Rank-1": 50.0, "mAP": 25.0}}
