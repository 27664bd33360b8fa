"""Triplet loss on the global feature; MODEL.LOSSES.TRI.MARGIN 0 gives DMF's soft margin (Eq. 1)."""
from fastreid.modeling.losses import triplet_loss
from torch import nn

from .build import LOSS_REGISTRY


@LOSS_REGISTRY.register()
class TripletLoss(nn.Module):
    """FastReID's triplet_loss with MODEL.LOSSES.TRI.{MARGIN, NORM_FEAT, HARD_MINING, SCALE}."""

    KEYS = ("loss_triplet",)

    def __init__(self, cfg):
        super().__init__()
        tri = cfg.MODEL.LOSSES.TRI
        self.margin, self.norm_feat, self.hard_mining = tri.MARGIN, tri.NORM_FEAT, tri.HARD_MINING
        self.scale = tri.SCALE

    def forward(self, outputs, batch):
        loss = triplet_loss(outputs["features"], batch["targets"], self.margin, self.norm_feat,
                            self.hard_mining)
        return {"loss_triplet": loss * self.scale}
