"""MMM (MMET §3.3): the fusion output h_M of image-text pairs predicts their masked patches AND
their masked words."""
from torch import nn

from .build import LOSS_REGISTRY
from .masked_image_modeling import has_masked, masked_patch_loss
from .masked_language_modeling import masked_token_loss


@LOSS_REGISTRY.register()
class MaskedMultimodalModeling(nn.Module):
    """``outputs["mmm"]`` = {"image": like MIM's, "text": like MLM's} -> {"loss_mmm_image",
    "loss_mmm_text"} (each when the pairs have masked positions); MODEL.MMET.MMM_WEIGHT."""

    KEYS = ("loss_mmm_image", "loss_mmm_text")

    def __init__(self, cfg):
        super().__init__()
        self.weight = cfg.MODEL.MMET.MMM_WEIGHT

    def forward(self, outputs, batch):
        losses = {}
        image = has_masked(outputs, "mmm", "image")
        if image is not None:
            losses["loss_mmm_image"] = masked_patch_loss(image) * self.weight
        text = has_masked(outputs, "mmm", "text")
        if text is not None:
            losses["loss_mmm_text"] = masked_token_loss(text) * self.weight
        return losses
