"""MIM (MMET §3.3): the image encoder on unpaired images regresses the pixels of its masked patches."""
from torch import nn

from .build import LOSS_REGISTRY


def masked_patch_loss(part):
    """Mean squared error over the masked patches only.

    ``part``: {"pred": (M, P) predictions at the masked positions (in ``mask.nonzero()`` order),
    "target": (B, Np, P) normalised pixels of every patch, "mask": (B, Np) bool, "index"?: the
    masked positions of the flattened (B x Np) mask, which spares reading the mask back}."""
    target = part["target"].flatten(0, 1)[part["index"]] if "index" in part else \
        part["target"][part["mask"]]
    return ((part["pred"] - target) ** 2).mean(-1).mean()


def has_masked(outputs, key, sub=None):
    part = outputs.get(key)
    if part is not None and sub is not None:
        part = part.get(sub)
    if part is None:
        return None
    return part if (part["count"] if "count" in part else bool(part["mask"].any())) else None


@LOSS_REGISTRY.register()
class MaskedImageModeling(nn.Module):
    """``outputs["mim"]`` (see ``masked_patch_loss``) -> {"loss_mim"}; MODEL.MMET.MIM_WEIGHT."""

    KEYS = ("loss_mim",)

    def __init__(self, cfg):
        super().__init__()
        self.weight = cfg.MODEL.MMET.MIM_WEIGHT

    def forward(self, outputs, batch):
        part = has_masked(outputs, "mim")
        return {"loss_mim": masked_patch_loss(part) * self.weight} if part is not None else {}
