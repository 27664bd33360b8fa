"""Triplet loss on the global feature; MODEL.LOSSES.TRI.MARGIN 0 gives DMF's soft margin (Eq. 1)."""
import torch
import torch.nn.functional as F
from fastreid.modeling.losses import triplet_loss
from fastreid.modeling.losses.triplet_loss import (cosine_dist, euclidean_dist, hard_example_mining,
                                                   weighted_example_mining)
from torch import nn

from .build import LOSS_REGISTRY


def weighted_triplet_loss(embedding, targets, weights, margin, norm_feat, hard_mining):
    """FastReID's triplet loss with anchor ``i``'s term weighted by ``weights[i]``: the sum over
    anchors divided by their number (all weights 1: FastReID's mean). Mining is FastReID's, over
    the whole batch."""
    dist_mat = cosine_dist(embedding, embedding) if norm_feat else euclidean_dist(embedding, embedding)
    is_pos = targets.view(-1, 1).eq(targets.view(1, -1)).float()
    mine = hard_example_mining if hard_mining else weighted_example_mining
    dist_ap, dist_an = mine(dist_mat, is_pos, 1 - is_pos)
    if margin > 0:
        per_anchor = F.relu(dist_ap - dist_an + margin)
    else:  # soft margin: log(1 + exp(-(d_an - d_ap)))
        per_anchor = F.softplus(dist_ap - dist_an)
    return (weights * per_anchor).sum() / len(targets)


@LOSS_REGISTRY.register()
class TripletLoss(nn.Module):
    """FastReID's triplet_loss with MODEL.LOSSES.TRI.{MARGIN, NORM_FEAT, HARD_MINING, SCALE}.
    ``batch["sample_groups"]`` ((rows, weight), ...), optional: each anchor's term weighted by
    its group's weight (MODEL.DMF.TEXT_LOSS_WEIGHT)."""

    KEYS = ("loss_triplet",)

    def __init__(self, cfg):
        super().__init__()
        tri = cfg.MODEL.LOSSES.TRI
        self.margin, self.norm_feat, self.hard_mining = tri.MARGIN, tri.NORM_FEAT, tri.HARD_MINING
        self.scale = tri.SCALE

    def forward(self, outputs, batch):
        groups = batch.get("sample_groups")
        if groups is None:
            loss = triplet_loss(outputs["features"], batch["targets"], self.margin, self.norm_feat,
                                self.hard_mining)
        else:
            weights = torch.zeros(len(batch["targets"]), device=outputs["features"].device)
            for rows, weight in groups:
                weights[rows] = weight
            loss = weighted_triplet_loss(outputs["features"], batch["targets"], weights,
                                         self.margin, self.norm_feat, self.hard_mining)
        return {"loss_triplet": loss * self.scale}
