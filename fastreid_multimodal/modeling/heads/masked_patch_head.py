"""MaskedPatchHead: the multi-layer perceptron (MMET §3.3: "a multi-layer perception is applied to
perform predictive computation on masked partial image patches") from a token feature to the
normalised pixels of its patch (MIM, MMM)."""
from fastreid.modeling.heads.build import REID_HEADS_REGISTRY
from torch import nn


@REID_HEADS_REGISTRY.register()
class MaskedPatchHead(nn.Module):
    """(..., D) -> (..., 3 * patch * patch): dense + GELU + LayerNorm (BERT's prediction-head
    transform, as the word head has) then a linear decoder (MODEL.VIT.PATCH_SIZE)."""

    def __init__(self, cfg):
        super().__init__()
        patch, dim = cfg.MODEL.VIT.PATCH_SIZE, cfg.MODEL.VIT.EMBED_DIM
        self.transform = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.LayerNorm(dim, eps=1e-12))
        self.decoder = nn.Linear(dim, 3 * patch * patch)
        for linear in (self.transform[0], self.decoder):
            nn.init.xavier_uniform_(linear.weight)
            nn.init.zeros_(linear.bias)

    def forward(self, tokens):
        return self.decoder(self.transform(tokens))
