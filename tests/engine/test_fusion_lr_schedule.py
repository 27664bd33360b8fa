"""MODEL.MMET.FUSION_LR_SCHEDULE constant: the fusion encoder and ITM head keep FUSION_LR_FACTOR x
BASE_LR after warm-up while FastReID's cosine schedule decays every other group."""
import pytest
import torch
from fastreid.engine.hooks import LRScheduler
from fastreid.modeling.meta_arch import build_model
from fastreid.solver.build import build_lr_scheduler

from fastreid_multimodal.engine import load_config
from fastreid_multimodal.engine.hooks import ConstantAfterWarmup
from fastreid_multimodal.engine.trainer import MultimodalTrainer

TINY = ["MODEL.VIT.EMBED_DIM", "32", "MODEL.BACKBONE.FEAT_DIM", "32", "MODEL.VIT.DEPTH", "1",
        "MODEL.VIT.NUM_HEADS", "2", "MODEL.MMET.TEXT_DEPTH", "1", "MODEL.MMET.FUSION_DEPTH", "1",
        "MODEL.TEXT.MAX_LENGTH", "16", "MODEL.HEADS.NUM_CLASSES", "4", "MODEL.DEVICE", "cpu",
        "MODEL.IMAGE.TRANSLATOR", "", "MODEL.VIT.PATCH_SIZE", "16",
        "MODEL.BACKBONE.STRIDE_SIZE", "(16, 16)", "INPUT.SIZE_TRAIN", "[64, 32]",
        "INPUT.SIZE_TEST", "[64, 32]"]
FUSION = ("backbone.fusion", "backbone.image_to_fusion", "backbone.text_to_fusion", "itm_head")


class _Storage:
    def put_scalar(self, *args, **kwargs):
        pass


class _Trainer:
    """What FastReID's LRScheduler hook reads of a trainer."""
    grad_scaler, delay_epochs, storage = None, 0, _Storage()

    def __init__(self, warmup_iters):
        self.iter = self.epoch = 0
        self.warmup_iters = warmup_iters


def optimizer_for(schedule, factor):
    cfg = load_config("configs/Demo/mmet_synth.yml", TINY + [
        "MODEL.MMET.FUSION_LR_SCHEDULE", schedule, "MODEL.MMET.FUSION_LR_FACTOR", factor,
        "SOLVER.MAX_EPOCH", "6", "SOLVER.WARMUP_ITERS", "10"])
    torch.manual_seed(0)
    model = build_model(cfg)
    optimizer, _ = MultimodalTrainer.build_optimizer(cfg, model)
    group_of = {id(p): g for g in optimizer.param_groups for p in g["params"]}
    fusion = group_of[id(model.backbone.fusion_blocks[0].attn.qkv.weight)]
    image = group_of[id(model.backbone.blocks[0].attn.qkv.weight)]
    return cfg, optimizer, fusion, image, model, group_of


def lrs_over_training(schedule, factor, iters_per_epoch=5):
    cfg, optimizer, fusion, image, _, _ = optimizer_for(schedule, factor)
    scheduler = build_lr_scheduler(cfg, optimizer, iters_per_epoch)
    trainer = _Trainer(cfg.SOLVER.WARMUP_ITERS)
    hooks = [LRScheduler(optimizer, scheduler)]
    if schedule == "constant":
        hooks.append(ConstantAfterWarmup(optimizer))
    for hook in hooks:
        hook.trainer = trainer
    seen = []
    for epoch in range(cfg.SOLVER.MAX_EPOCH):
        trainer.epoch = epoch
        for _ in range(iters_per_epoch):
            seen.append((trainer.iter, fusion["lr"], image["lr"]))  # the lr this step uses
            for hook in hooks:
                hook.after_step()
            trainer.iter += 1
        trainer.iter -= 1  # FastReID calls after_epoch with the epoch's last iteration
        for hook in hooks:
            hook.after_epoch()
        trainer.iter += 1
    return cfg, seen


@pytest.mark.parametrize("factor", ["0.2", "1.0"])
def test_constant_schedule_holds_the_fusion_lr_after_warmup_while_the_rest_decays(factor):
    cfg, seen = lrs_over_training("constant", factor)
    base, warmup = cfg.SOLVER.BASE_LR, cfg.SOLVER.WARMUP_ITERS
    assert seen[0][1] < float(factor) * base  # warm-up as before
    after = [(fusion, image) for it, fusion, image in seen if it >= warmup]
    assert all(fusion == pytest.approx(float(factor) * base) for fusion, _ in after)
    assert after[-1][1] < 0.5 * base  # the image encoder's lr follows the cosine down
    _, shared = lrs_over_training("shared", factor)
    assert shared[-1][1] < 0.5 * float(factor) * base  # default: the fusion lr decays too
    assert [image for *_, image in shared] == [image for *_, image in seen]  # others unchanged


def test_constant_schedule_marks_only_the_fusion_encoder_and_itm_head():
    _, _, _, _, model, group_of = optimizer_for("constant", "1.0")
    for name, p in model.named_parameters():
        if id(p) in group_of:
            assert group_of[id(p)].get("constant_after_warmup", False) == name.startswith(FUSION), name
    _, optimizer, *_ = optimizer_for("shared", "0.2")
    assert not any(g.get("constant_after_warmup") for g in optimizer.param_groups)


@pytest.mark.parametrize("schedule", ["shared", "constant"])
def test_the_trainer_runs_the_hook_right_after_fastreids_lr_scheduler(schedule, tmp_path, monkeypatch):
    monkeypatch.setenv("FASTREID_DATASETS", str(tmp_path))
    cfg = load_config("configs/Demo/mmet_synth.yml", TINY + [
        "MODEL.MMET.FUSION_LR_SCHEDULE", schedule, "DATASETS.SYNTH.NUM_IDS", "4",
        "DATASETS.SYNTH.TEST_IDS", "2", "DATASETS.SYNTH.IMAGES_PER_ID", "4",
        "DATASETS.SYNTH.SIZE", "[64, 32]", "SOLVER.IMS_PER_BATCH", "8",
        "DATALOADER.NUM_WORKERS", "0", "DATASETS.TESTS", "()", "OUTPUT_DIR", str(tmp_path / "out")])
    (tmp_path / "out").mkdir()
    hooks = MultimodalTrainer(cfg)._hooks
    kinds = [type(h) for h in hooks]
    at = kinds.index(LRScheduler)
    assert (ConstantAfterWarmup in kinds) == (schedule == "constant")
    if schedule == "constant":
        assert kinds[at + 1] is ConstantAfterWarmup and hooks[at + 1].groups
