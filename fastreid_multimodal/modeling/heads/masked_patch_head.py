"""MaskedPatchHead: a linear decoder from a token feature to the pixels of its patch (MIM, MMM)."""
from fastreid.modeling.heads.build import REID_HEADS_REGISTRY
from torch import nn


@REID_HEADS_REGISTRY.register()
class MaskedPatchHead(nn.Module):
    """(..., D) -> (..., 3 * patch * patch) normalised pixel values (MODEL.VIT.PATCH_SIZE)."""

    def __init__(self, cfg):
        super().__init__()
        patch = cfg.MODEL.VIT.PATCH_SIZE
        self.decoder = nn.Linear(cfg.MODEL.VIT.EMBED_DIM, 3 * patch * patch)
        nn.init.xavier_uniform_(self.decoder.weight)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, tokens):
        return self.decoder(tokens)
