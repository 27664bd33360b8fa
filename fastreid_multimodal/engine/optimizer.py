"""The optimizer FastReID builds, with one parameter group per hyper-parameter class instead of
one per tensor, stepped by a fused or foreach kernel (SOLVER.OPTIMIZER_STEP).

FastReID gives every tensor its own group (60 in the DMF demo, 145 in the MMET demo, ~150-400 in
the paper configs), so torch's multi-tensor kernels, which work within a group, launch once per
tensor. Merging is exact: every parameter keeps its lr, decay and state; only the grouping
changes. Checkpoints written with the per-tensor groups still resume (OptimizerState)."""
import inspect
import logging
from collections import OrderedDict

import torch

from ..errors import ConfigError

logger = logging.getLogger("fastreid.multimodal")
OPTIMIZER_STEPS = ("auto", "fused", "foreach", "for_loop")  # SOLVER.OPTIMIZER_STEP
_KERNEL_KEYS = ("foreach", "fused")


def _frozen(value):
    return tuple(value) if isinstance(value, list) else value


def merge_param_groups(groups):
    """Groups with equal hyper-parameters (every key but ``params``) joined, in first-seen order."""
    merged = OrderedDict()
    for group in groups:
        options = {k: v for k, v in group.items() if k != "params" and k not in _KERNEL_KEYS}
        key = tuple(sorted((k, _frozen(v)) for k, v in options.items()))
        merged.setdefault(key, {**options, "params": []})["params"].extend(group["params"])
    return list(merged.values())


def _accepts(optimizer_class, name):
    return name in inspect.signature(optimizer_class.__init__).parameters


def step_kernel(optimizer_class, requested, device_type):
    """{"foreach": ..., "fused": ...} for ``requested`` (SOLVER.OPTIMIZER_STEP). auto: fused on
    CUDA where the optimizer has a fused step, else torch's own choice (foreach on CUDA, the
    per-tensor loop on the CPU, which keeps the CPU runs' numbers those of earlier versions)."""
    if requested not in OPTIMIZER_STEPS:
        raise ConfigError(f"SOLVER.OPTIMIZER_STEP must be one of {OPTIMIZER_STEPS}, got {requested!r}")
    fused_ok = _accepts(optimizer_class, "fused")
    if requested == "auto":
        requested = "fused" if device_type == "cuda" and fused_ok else "default"
    if requested == "fused" and not fused_ok:
        raise ConfigError(f"SOLVER.OPTIMIZER_STEP fused: {optimizer_class.__name__} has no fused "
                          f"step; use foreach or for_loop")
    if requested == "default":
        return {}
    if requested == "foreach" and not _accepts(optimizer_class, "foreach"):
        raise ConfigError(f"SOLVER.OPTIMIZER_STEP foreach: {optimizer_class.__name__} has no "
                          f"foreach step; use for_loop")
    kernel = {"fused": requested == "fused"} if fused_ok else {}
    if _accepts(optimizer_class, "foreach"):
        kernel["foreach"] = requested == "foreach"
    return kernel


def merged_optimizer(optimizer, requested="auto"):
    """A new optimizer of ``optimizer``'s class (FastReID's clipping / freezing wrappers kept)
    over its parameters, one group per hyper-parameter class, stepped as ``requested``."""
    params = [p for g in optimizer.param_groups for p in g["params"]]
    device_type = params[0].device.type if params else "cpu"
    groups = merge_param_groups(optimizer.param_groups)
    kernel = step_kernel(type(optimizer), requested, device_type)
    defaults = {k: v for k, v in optimizer.defaults.items() if k not in _KERNEL_KEYS}
    merged = type(optimizer)(groups, **defaults, **kernel)
    merged.per_tensor_order = params  # the order of FastReID's per-tensor groups (OptimizerState)
    logger.info("optimizer: %s, %d parameter groups (from %d), step: %s", type(optimizer).__name__,
                len(groups), len(optimizer.param_groups),
                "fused" if kernel.get("fused") else "foreach" if kernel.get("foreach")
                else "for-loop" if kernel else "torch default")
    return merged


class OptimizerState:
    """The optimizer as the checkpointer sees it: its own state_dict; loading also accepts a
    checkpoint of the per-tensor groups of earlier versions (one group per parameter, in
    ``per_tensor_order``), whose states and learning rates it maps onto the merged groups."""

    def __init__(self, optimizer):
        self.optimizer = optimizer

    def state_dict(self):
        return self.optimizer.state_dict()

    def load_state_dict(self, state):
        self.optimizer.load_state_dict(self.convert(state))

    def convert(self, state):
        groups = state.get("param_groups", [])
        order = getattr(self.optimizer, "per_tensor_order", None)
        if order is None or len(groups) == len(self.optimizer.param_groups) \
                or len(groups) != len(order) or any(len(g["params"]) != 1 for g in groups):
            return state  # already this layout (or not ours to convert: torch says what differs)
        position = {id(p): i for i, p in enumerate(order)}  # per-tensor group of each parameter
        new_groups, new_state, index = [], {}, 0
        for group in self.optimizer.param_groups:
            old = [groups[position[id(p)]] for p in group["params"]]
            new_groups.append({**{k: v for k, v in old[0].items() if k != "params"},
                               **{k: group[k] for k in _KERNEL_KEYS if k in group},
                               "params": list(range(index, index + len(old)))})
            for entry in old:
                if entry["params"][0] in state["state"]:
                    new_state[index] = state["state"][entry["params"][0]]
                index += 1
        logger.info("optimizer state of %d per-tensor groups mapped onto %d merged groups",
                    len(groups), len(new_groups))
        return {"state": new_state, "param_groups": new_groups}
