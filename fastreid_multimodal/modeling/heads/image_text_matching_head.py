"""ImageTextMatchingHead: does this image match this caption? Two logits from h_CLS_M (ITM)."""
from fastreid.modeling.heads.build import REID_HEADS_REGISTRY
from torch import nn


@REID_HEADS_REGISTRY.register()
class ImageTextMatchingHead(nn.Module):
    """(N, D) h_CLS_M -> (N, 2) logits (0: no match, 1: match), after a BERT-style tanh pooler."""

    def __init__(self, cfg):
        super().__init__()
        dim = cfg.MODEL.VIT.EMBED_DIM
        self.pooler = nn.Sequential(nn.Linear(dim, dim), nn.Tanh())
        self.classifier = nn.Linear(dim, 2)

    def forward(self, cls_m):
        return self.classifier(self.pooler(cls_m))
