"""LOSS_REGISTRY: losses selected by name in MODEL.LOSSES.NAME (FastReID hard-codes its losses
inside Baseline.losses; our meta-architectures build them from this registry instead).

A registered loss is a module built as ``Loss(cfg)`` and called as ``loss(outputs, batch)``; it
returns ``{name: scalar tensor}`` (already scaled) or ``{}`` when the batch has nothing for it;
its class attribute ``KEYS`` names every key it can return (see ``fill_absent_losses``).
"""
import torch
from fastreid.utils.registry import Registry
from torch import nn

LOSS_REGISTRY = Registry("LOSS")
LOSS_REGISTRY.__doc__ = "Losses selected by name in MODEL.LOSSES.NAME; built as Loss(cfg)."


def fill_absent_losses(losses, loss_fns, device):
    """A zero for every key a configured loss returned nothing for in this batch (say MLM in a
    batch without unpaired texts): every iteration then logs the same keys, which FastReID's
    multi-process metric averaging indexes on every rank alike."""
    for loss_fn in loss_fns.values():
        for key in getattr(loss_fn, "KEYS", ()):
            if key not in losses:
                losses[key] = torch.zeros((), device=device)
    return losses


def build_losses(cfg):
    names = list(cfg.MODEL.LOSSES.NAME)
    unknown = [n for n in names if n not in LOSS_REGISTRY._obj_map]
    if unknown:
        from ...errors import ConfigError
        raise ConfigError(f"MODEL.LOSSES.NAME: unknown loss {unknown}; registered: "
                          f"{sorted(LOSS_REGISTRY._obj_map)}")
    return nn.ModuleDict({name: LOSS_REGISTRY.get(name)(cfg) for name in names})
