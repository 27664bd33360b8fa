"""LOSS_REGISTRY: losses selected by name in MODEL.LOSSES.NAME (FastReID hard-codes its losses
inside Baseline.losses; our meta-architectures build them from this registry instead).

A registered loss is a module built as ``Loss(cfg)`` and called as ``loss(outputs, batch)``; it
returns ``{name: scalar tensor}`` (already scaled) or ``{}`` when the batch has nothing for it.
"""
from fastreid.utils.registry import Registry
from torch import nn

LOSS_REGISTRY = Registry("LOSS")
LOSS_REGISTRY.__doc__ = "Losses selected by name in MODEL.LOSSES.NAME; built as Loss(cfg)."


def build_losses(cfg):
    names = list(cfg.MODEL.LOSSES.NAME)
    unknown = [n for n in names if n not in LOSS_REGISTRY._obj_map]
    if unknown:
        from ...errors import ConfigError
        raise ConfigError(f"MODEL.LOSSES.NAME: unknown loss {unknown}; registered: "
                          f"{sorted(LOSS_REGISTRY._obj_map)}")
    return nn.ModuleDict({name: LOSS_REGISTRY.get(name)(cfg) for name in names})
