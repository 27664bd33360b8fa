"""engine.optimizer: FastReID's per-tensor groups merged per hyper-parameter class, exactly."""
import copy

import pytest
import torch
from fastreid.modeling import build_model

import fastreid_multimodal  # noqa: F401  (registers everything)
from fastreid_multimodal.engine.defaults import load_config
from fastreid_multimodal.engine.optimizer import (OptimizerState, merge_param_groups,
                                                  merged_optimizer, step_kernel)
from fastreid_multimodal.engine.trainer import MultimodalTrainer
from fastreid_multimodal.errors import ConfigError

MMET_CONFIG = "configs/Demo/mmet_synth.yml"
DMF_CONFIG = "configs/Demo/dmf_stage1_synth.yml"


def _build(config, *opts):
    cfg = load_config(config, ["MODEL.DEVICE", "cpu", "MODEL.HEADS.NUM_CLASSES", "6", *opts],
                      check_files=False)
    torch.manual_seed(0)
    model = build_model(cfg)
    return cfg, model


def _per_tensor(cfg, model):
    """FastReID's optimizer as the trainer had it before merging (lr factors applied)."""
    from fastreid.engine import DefaultTrainer
    from fastreid_multimodal.engine.trainer import scale_learning_rates
    optimizer, _ = DefaultTrainer.build_optimizer(cfg, model)
    if cfg.MODEL.META_ARCHITECTURE == "MMET":
        scale_learning_rates(optimizer, model.lr_factors())
    return optimizer


def _fake_step(model, optimizer, seed, skip=()):
    """Gradients drawn from ``seed`` for every parameter outside ``skip`` (names), then a step."""
    g = torch.Generator().manual_seed(seed)
    optimizer.zero_grad()
    for name, p in model.named_parameters():
        if p.requires_grad and not name.startswith(skip):
            p.grad = torch.randn(p.shape, generator=g)
    optimizer.step()


def test_merge_keeps_each_parameters_hyperparameters_and_joins_equal_ones():
    cfg, model = _build(MMET_CONFIG, "MODEL.MMET.FUSION_LR_FACTOR", "0.2", "SOLVER.BIAS_LR_FACTOR", "2.0")
    per_tensor = _per_tensor(cfg, model)
    merged = merged_optimizer(per_tensor)

    def options(optimizer):
        return {id(p): {k: v for k, v in g.items() if k not in ("params", "foreach", "fused")}
                for g in optimizer.param_groups for p in g["params"]}

    assert options(merged) == options(per_tensor)
    distinct = {tuple(sorted((k, str(v)) for k, v in o.items())) for o in options(per_tensor).values()}
    assert len(merged.param_groups) == len(distinct) < len(per_tensor.param_groups) // 10
    assert type(merged) is type(per_tensor)


def test_merged_steps_equal_per_tensor_steps_with_idle_parameters():
    cfg, model = _build(DMF_CONFIG, "SOLVER.BIAS_LR_FACTOR", "2.0")
    twin = copy.deepcopy(model)
    per_tensor = _per_tensor(cfg, model)
    merged = merged_optimizer(_per_tensor(cfg, twin), "for_loop")
    for step in range(3):  # the text path idle in step 1: no gradient, no decay, no momentum
        skip = ("backbone.text",) if step == 1 else ()
        _fake_step(model, per_tensor, step, skip)
        _fake_step(twin, merged, step, skip)
    for (name, a), b in zip(model.named_parameters(), twin.parameters()):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("kernel", ["foreach", "fused"])
def test_multi_tensor_kernels_step_as_the_loop_does(kernel):
    cfg, model = _build(DMF_CONFIG)
    twin = copy.deepcopy(model)
    loop = merged_optimizer(_per_tensor(cfg, model), "for_loop")
    other = merged_optimizer(_per_tensor(cfg, twin), kernel)
    assert all(g.get(kernel) for g in other.param_groups)
    for step in range(3):
        _fake_step(model, loop, step)
        _fake_step(twin, other, step)
    for (name, a), b in zip(model.named_parameters(), twin.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def test_step_kernel_choices():
    assert step_kernel(torch.optim.Adam, "auto", "cuda") == {"fused": True, "foreach": False}
    assert step_kernel(torch.optim.Adam, "auto", "cpu") == {}  # torch's default: the CPU numbers stay
    assert step_kernel(torch.optim.SGD, "foreach", "cpu") == {"fused": False, "foreach": True}
    with pytest.raises(ConfigError, match="SOLVER.OPTIMIZER_STEP must be one of"):
        step_kernel(torch.optim.Adam, "fast", "cpu")

    class Plain(torch.optim.SGD):
        def __init__(self, params, lr=0.1):
            super().__init__(params, lr=lr)

    with pytest.raises(ConfigError, match="Plain has no fused step"):
        step_kernel(Plain, "fused", "cuda")
    assert step_kernel(Plain, "auto", "cuda") == {}


def test_a_per_tensor_checkpoint_resumes_into_merged_groups():
    """An optimizer state saved with FastReID's one group per tensor (the checkpoints of earlier
    versions) continues in the merged optimizer exactly as it would have in the old one."""
    cfg, model = _build(MMET_CONFIG, "SOLVER.BIAS_LR_FACTOR", "2.0")
    per_tensor = _per_tensor(cfg, model)
    for step in range(2):
        _fake_step(model, per_tensor, step, skip=("itm_head",) if step else ())
    saved_weights = copy.deepcopy(model.state_dict())
    saved = copy.deepcopy(per_tensor.state_dict())
    for step in range(2, 4):
        _fake_step(model, per_tensor, step)

    _, twin = _build(MMET_CONFIG, "SOLVER.BIAS_LR_FACTOR", "2.0")
    twin.load_state_dict(saved_weights)
    merged = merged_optimizer(_per_tensor(cfg, twin))
    OptimizerState(merged).load_state_dict(saved)
    for step in range(2, 4):
        _fake_step(twin, merged, step)
    for (name, a), b in zip(model.named_parameters(), twin.parameters()):
        assert torch.equal(a, b), name


def test_merged_state_round_trips():
    cfg, model = _build(DMF_CONFIG)
    merged = merged_optimizer(_per_tensor(cfg, model))
    _fake_step(model, merged, 0)
    state = copy.deepcopy(merged.state_dict())
    OptimizerState(merged).load_state_dict(state)
    assert len(merged.state_dict()["param_groups"]) == len(state["param_groups"])


def test_trainer_builds_merged_groups():
    cfg, model = _build(DMF_CONFIG)
    optimizer, params = MultimodalTrainer.build_optimizer(cfg, model)
    assert len(optimizer.param_groups) < 6
    assert {id(p) for p in params} == {id(p) for p in model.parameters() if p.requires_grad}


def test_merge_param_groups_order_and_keys():
    a, b, c = (torch.nn.Parameter(torch.zeros(1)) for _ in range(3))
    groups = merge_param_groups([{"params": [a], "lr": 1, "foreach": None},
                                 {"params": [b], "lr": 2, "foreach": True},
                                 {"params": [c], "lr": 1, "foreach": False}])
    assert [[id(p) for p in g["params"]] for g in groups] == [[id(a), id(c)], [id(b)]]
    assert [g["lr"] for g in groups] == [1, 2] and all("foreach" not in g for g in groups)
