"""ITM (MMET §3.3): does the caption belong to the image? Cross-entropy on h_CLS_M of the batch's
pairs (label 1) and of in-batch negatives (label 0): each pair's image with the caption of a pair
of ANOTHER identity (never of the same identity, whose caption may describe it well), and each
pair's caption with the image of a pair of another identity. With the L_GC similarities the
negatives are hard ones (ALBEF): drawn with probability softmax(similarity) over the other
identities, so ITM learns to tell similar-looking people apart instead of trivial mismatches."""
import torch
import torch.nn.functional as F
from torch import nn

from .build import LOSS_REGISTRY


def mine_negatives(pids, generator=None, similarity=None):
    """For pair i, the index of a pair of another identity (-1 when every pair of the batch has
    identity pids[i]): uniformly at random, or with probability softmax(similarity[i]) over the
    other identities' pairs when ``similarity`` (N, N) is given."""
    pids = torch.as_tensor(pids)
    other = pids[:, None] != pids[None, :]
    has = other.any(1)
    if similarity is None:
        weights = other.float()
    else:  # on the batch's device: no copy to the host inside a training step
        sim = similarity.detach().float().masked_fill(~other, float("-inf"))
        weights = torch.softmax(sim, 1).nan_to_num(0.0).masked_fill(~other, 0.0)
    weights = torch.where(has[:, None], weights, 1.0)  # placeholder row, replaced by -1 below
    choice = torch.multinomial(weights, 1, generator=generator).flatten()
    return torch.where(has, choice, torch.full_like(choice, -1))


@LOSS_REGISTRY.register()
class ImageTextMatching(nn.Module):
    """``outputs["itm"]`` = {"logits": (N, 2), "labels": (N,)} -> {"loss_itm"}; empty when the
    batch has no negative (pairs of a single identity). MODEL.MMET.ITM_WEIGHT."""

    KEYS = ("loss_itm",)

    def __init__(self, cfg):
        super().__init__()
        self.weight = cfg.MODEL.MMET.ITM_WEIGHT

    def forward(self, outputs, batch):
        part = outputs.get("itm")
        if part is None or not (part["negatives"] if "negatives" in part
                                else bool((part["labels"] == 0).any())):
            return {}
        return {"loss_itm": F.cross_entropy(part["logits"], part["labels"]) * self.weight}
