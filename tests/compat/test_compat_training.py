"""fastreid's training loop: each defect reproduced with fastreid's original code, then fixed."""
import pytest
import torch

import fastreid_multimodal  # noqa: F401
from fastreid_multimodal import compat
from fastreid_multimodal.engine import load_config


def _step_changes_weights(build_optimizer):
    cfg = load_config(opts=["SOLVER.OPT", "SGD", "SOLVER.BASE_LR", "0.1"])
    model = torch.nn.Sequential(torch.nn.Linear(4, 3))
    before = model[0].weight.detach().clone()
    optimizer, _ = build_optimizer(cfg, model)
    for _ in range(2):
        loss = model(torch.ones(2, 4)).pow(2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return not torch.equal(before, model[0].weight.detach())


def test_contiguous_params_optimizer_really_steps():
    from fastreid.solver import build as solver_build
    assert not _step_changes_weights(compat.original(solver_build, "build_optimizer")), \
        "fastreid's optimizer should be the silent no-op on torch>=2"
    assert _step_changes_weights(solver_build.build_optimizer)


IMAGE_PATH = ("patch_embed", "image_proj", "cls_token", "pos_embed")


def _text_only_steps(build_optimizer, opt, set_to_none=True):
    """Two optimizer steps of a tiny DMF model on captions only; image-path weights before/after."""
    from fastreid.modeling.meta_arch import build_model
    from fastreid.utils.events import EventStorage
    cfg = load_config("configs/Demo/Base-DMF-tiny.yml", [
        "MODEL.VIT.EMBED_DIM", "32", "MODEL.BACKBONE.FEAT_DIM", "32", "MODEL.VIT.DEPTH", "1",
        "MODEL.VIT.NUM_HEADS", "2", "INPUT.SIZE_TRAIN", "[32, 16]", "MODEL.TEXT.TRANSLATOR", "",
        "MODEL.HEADS.NUM_CLASSES", "2", "MODEL.DEVICE", "cpu", "SOLVER.OPT", opt,
        "SOLVER.BASE_LR", "0.01", "SOLVER.WEIGHT_DECAY", "0.01", "SOLVER.MOMENTUM", "0.9"])
    torch.manual_seed(0)
    model = build_model(cfg).train()
    optimizer, _ = build_optimizer(cfg, model)
    before = {k: v.detach().clone() for k, v in model.backbone.named_parameters()}
    ids = torch.randint(1000, 2000, (4, 6))
    batch = {"modality": torch.ones(4, dtype=torch.long), "targets": torch.tensor([0, 0, 1, 1]),
             "text_ids": ids, "text_mask": torch.ones_like(ids, dtype=torch.bool)}
    with EventStorage():
        for _ in range(2):
            optimizer.zero_grad(set_to_none=set_to_none)
            sum(model(batch).values()).backward()
            optimizer.step()
    after = dict(model.backbone.named_parameters())
    return before, after


@pytest.mark.parametrize("opt", ["SGD", "Adam"])
def test_idle_parameters_are_neither_decayed_nor_moved(opt):
    from fastreid.solver import build as solver_build
    before, after = _text_only_steps(solver_build.build_optimizer, opt)
    image = [k for k in before if k.startswith(IMAGE_PATH)]
    assert image and all(torch.equal(before[k], after[k]) for k in image)
    assert not torch.equal(before["text_proj.weight"], after["text_proj.weight"])  # it trained
    # fastreid's contiguous buffers (with the grads kept) decay the idle image path: Defect 18
    before, after = _text_only_steps(compat.original(solver_build, "build_optimizer"), opt,
                                     set_to_none=False)
    assert not all(torch.equal(before[k], after[k]) for k in image)


def _amp_trainer():
    from fastreid.engine.train_loop import AMPTrainer
    model = torch.nn.Linear(4, 2)

    class Loss(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model

        def forward(self, data):
            return {"loss": self.net(data).float().pow(2).mean()}

    wrapped = Loss()
    data = iter([torch.ones(3, 4)] * 4)
    optimizer = torch.optim.SGD(wrapped.parameters(), lr=0.5)
    return AMPTrainer, wrapped, data, optimizer


def test_amp_on_cpu_uses_bfloat16(no_cuda):
    from fastreid.utils.events import EventStorage
    AMPTrainer, model, data, optimizer = _amp_trainer()
    with compat.unpatched(AMPTrainer, "run_step"), EventStorage(0):
        trainer = AMPTrainer(model, data, optimizer, None)
        with pytest.raises(AssertionError, match="CUDA"):
            trainer.run_step()
    before = model.net.weight.detach().clone()
    with EventStorage(0):
        trainer = AMPTrainer(model, data, optimizer, None)
        trainer.run_step()
    assert trainer.grad_scaler is None
    assert not torch.equal(before, model.net.weight.detach())


@pytest.mark.parametrize("device,requested,bf16,expected,scaler", [
    ("cuda", "auto", True, torch.bfloat16, False), ("cuda", "auto", False, torch.float16, True),
    ("cuda", "fp16", True, torch.float16, True), ("cuda", "bf16", False, torch.bfloat16, False),
    ("cpu", "fp16", False, torch.bfloat16, False)])
def test_amp_runs_bfloat16_without_loss_scaling_where_it_can(device, requested, bf16, expected,
                                                             scaler, monkeypatch):
    from fastreid_multimodal.compat.training import amp_dtype, use_amp_dtype
    dtype = amp_dtype(device, requested, bf16_supported=bf16)
    assert dtype == expected

    class Trainer:
        device_type, grad_scaler = device, None
    monkeypatch.setattr(torch.amp, "GradScaler", lambda device: "scaler")
    trainer = Trainer()
    use_amp_dtype(trainer, dtype)
    assert trainer.amp_dtype == expected and (trainer.grad_scaler == "scaler") == scaler


def test_bad_amp_dtype_is_a_config_error_naming_the_key():
    from fastreid_multimodal.compat.training import amp_dtype
    from fastreid_multimodal.errors import ConfigError
    with pytest.raises(ConfigError, match="SOLVER.AMP.DTYPE must be one of .*'half'"):
        amp_dtype("cuda", "half")


def test_finished_run_has_an_epoch_for_hooks():
    from fastreid.engine.train_loop import HookBase, TrainerBase

    class ReadsEpoch(HookBase):
        def after_train(self):
            self.seen = self.trainer.epoch

    def run():
        trainer = TrainerBase()
        hook = ReadsEpoch()
        trainer.register_hooks([hook])
        trainer.train(start_epoch=3, max_epoch=3, iters_per_epoch=5)
        return hook.seen

    with compat.unpatched(TrainerBase, "train"), pytest.raises(AttributeError):
        run()
    assert run() == 2


def test_cosine_spans_at_least_one_epoch_when_warmup_covers_the_run():
    from fastreid.solver import build as solver_build

    cfg = load_config(None, ["SOLVER.SCHED", "CosineAnnealingLR", "SOLVER.MAX_EPOCH", "1",
                             "SOLVER.WARMUP_ITERS", "20"])
    def one_epoch(build):
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        cosine = build(cfg, optimizer, iters_per_epoch=44)["lr_sched"]
        optimizer.step()
        cosine.step()
        return optimizer.param_groups[0]["lr"]

    with compat.unpatched(solver_build, "build_lr_scheduler"), pytest.raises(ZeroDivisionError):
        one_epoch(solver_build.build_lr_scheduler)
    assert one_epoch(solver_build.build_lr_scheduler) == pytest.approx(cfg.SOLVER.ETA_MIN_LR)


def test_training_metrics_are_read_back_from_the_device_once(monkeypatch):
    """metrics_read_back_once: the losses and the tensors a model logs (accuracies) reach the
    host in one copy (one synchronisation on a GPU), not one each; the logged values, their
    iterations and names are fastreid's."""
    from fastreid.engine import train_loop
    from fastreid.utils.events import EventStorage

    copies, host = [], set()
    real_cpu, real_float = torch.Tensor.cpu, torch.Tensor.__float__

    def from_device(tensor):  # (on a CPU nothing moves: a tensor is "on the host" once copied)
        return tensor.untyped_storage().data_ptr() not in host

    def counting_cpu(self, *args, **kwargs):
        if from_device(self):  # a view of a host copy read again is not another device copy
            copies.append(1)
        out = real_cpu(self, *args, **kwargs)
        host.add(out.untyped_storage().data_ptr())
        return out

    def counting_float(self):
        if from_device(self):
            copies.append(1)
        return real_float(self)

    losses = {"loss_cls": torch.tensor(1.5), "loss_triplet": torch.tensor(0.25),
              "loss_gc": torch.tensor(0.125)}

    def logged(write):
        copies.clear()
        host.clear()
        trainer = train_loop.SimpleTrainer.__new__(train_loop.SimpleTrainer)
        trainer.iter = 3
        with EventStorage(3) as storage, monkeypatch.context() as patch:
            patch.setattr(torch.Tensor, "cpu", counting_cpu)
            patch.setattr(torch.Tensor, "__float__", counting_float)
            storage.put_scalar("cls_accuracy", torch.tensor([0.75]))  # fastreid's log_accuracy shape
            with storage.name_scope("text"):
                storage.put_scalar("accuracy", torch.tensor(0.5))
            write(trainer, dict(losses), 0.01)
            storage.step()
            count = len(copies)
            return count, {k: storage.history(k).values() for k in
                           ("total_loss", "cls_accuracy", "text/accuracy", *losses)}

    with compat.unpatched(train_loop.SimpleTrainer, "_write_metrics"), \
            compat.unpatched(EventStorage, "put_scalar"):
        before, stock_values = logged(train_loop.SimpleTrainer._write_metrics)
    after, values = logged(train_loop.SimpleTrainer._write_metrics)
    assert (before, after) == (5, 1)
    assert values == stock_values and values["total_loss"] == [(1.875, 3)]
    assert values["cls_accuracy"] == [(0.75, 3)] and values["text/accuracy"] == [(0.5, 3)]


def test_a_tensor_logged_outside_a_training_step_is_there_when_the_storage_is_read():
    from fastreid.utils.events import EventStorage
    with EventStorage(7) as storage:
        storage.put_scalar("probe", torch.tensor(0.25), smoothing_hint=False)
        storage.step()
        assert storage.latest()["probe"] == (0.25, 7)
        assert storage.smoothing_hints()["probe"] is False
        storage.put_scalar("probe", torch.tensor(0.5), smoothing_hint=False)
        assert storage.latest_with_smoothing_hint()["probe"] == (0.5, 8)
        assert storage.history("probe").values() == [(0.25, 7), (0.5, 8)]
