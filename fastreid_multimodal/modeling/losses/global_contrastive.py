"""L_GC (MMET §3.3: MMM is "a supplement to the general global contrastive loss L_GC"; FLAVA's
global contrastive loss): symmetric InfoNCE between the clean [CLS_I] and [CLS_T] of the batch's
pairs. Identity-aware: a pair's image and the caption of ANOTHER pair of the same identity describe
the same person, so they are left out of each other's softmax instead of being pushed apart as
negatives (CLIP's plain InfoNCE would do that)."""
import torch
import torch.nn.functional as F
from torch import nn

from .build import LOSS_REGISTRY


def contrastive_logits(image, text, pids, temperature):
    """(N, N) cosine similarities / temperature, image rows x text columns, with every
    same-identity off-diagonal entry set to -inf (not a negative)."""
    logits = F.normalize(image, dim=1) @ F.normalize(text, dim=1).t() / temperature
    same = pids[:, None] == pids[None, :]
    eye = torch.eye(len(pids), dtype=torch.bool, device=logits.device)
    return logits.masked_fill(same & ~eye, float("-inf"))


def global_contrastive_loss(image, text, pids, temperature):
    """Mean of the image->text and text->image cross-entropies, the matching pair as the target."""
    logits = contrastive_logits(image, text, pids, temperature)
    labels = torch.arange(len(pids), device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2


@LOSS_REGISTRY.register()
class GlobalContrastive(nn.Module):
    """``outputs["gc"]`` = {"image": (N, D) CLS_I, "text": (N, D) CLS_T of the N pairs, "targets":
    (N,)} -> {"loss_gc"}; empty with fewer than two identities among the pairs (no negative).
    MODEL.MMET.GC_WEIGHT, MODEL.MMET.GC_TEMPERATURE."""

    KEYS = ("loss_gc",)

    def __init__(self, cfg):
        super().__init__()
        self.weight = cfg.MODEL.MMET.GC_WEIGHT
        self.temperature = cfg.MODEL.MMET.GC_TEMPERATURE

    def forward(self, outputs, batch):
        part = outputs.get("gc")
        # "identities": counted on the host by the model (no device read-back)
        if part is None or (part["identities"] if "identities" in part
                            else len(part["targets"].unique())) < 2:
            return {}
        loss = global_contrastive_loss(part["image"], part["text"], part["targets"], self.temperature)
        return {"loss_gc": loss * self.weight}
