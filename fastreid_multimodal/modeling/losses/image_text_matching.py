"""ITM (MMET §3.3): does the caption belong to the image? Binary cross-entropy on h_CLS_M of the
batch's pairs (label 1) and of in-batch negatives (label 0): each pair's image with the caption of
a pair of ANOTHER identity (never of the same identity, whose caption may describe it well)."""
import torch
import torch.nn.functional as F
from torch import nn

from .build import LOSS_REGISTRY


def mine_negatives(pids, generator=None):
    """For pair i, the index of a pair of another identity drawn at random (-1 when every pair of
    the batch has identity pids[i])."""
    pids = torch.as_tensor(pids)
    other = pids[:, None] != pids[None, :]
    scores = torch.rand(other.shape, generator=generator).to(pids.device).masked_fill(~other, -1.0)
    choice = scores.argmax(1)
    return torch.where(other.any(1), choice, torch.full_like(choice, -1))


@LOSS_REGISTRY.register()
class ImageTextMatching(nn.Module):
    """``outputs["itm"]`` = {"logits": (N, 2), "labels": (N,)} -> {"loss_itm"}; empty when the
    batch has no negative (pairs of a single identity). MODEL.MMET.ITM_WEIGHT."""

    def __init__(self, cfg):
        super().__init__()
        self.weight = cfg.MODEL.MMET.ITM_WEIGHT

    def forward(self, outputs, batch):
        part = outputs.get("itm")
        if part is None or not bool((part["labels"] == 0).any()):
            return {}
        return {"loss_itm": F.cross_entropy(part["logits"], part["labels"]) * self.weight}
