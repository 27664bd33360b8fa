"""MLM (MMET §3.3): the text encoder on unpaired texts predicts its masked words (BERT)."""
import torch.nn.functional as F
from torch import nn

from .build import LOSS_REGISTRY
from .masked_image_modeling import has_masked


def masked_token_loss(part):
    """Cross-entropy over the masked tokens only.

    ``part``: {"logits": (M, V) at the masked positions (in ``mask.nonzero()`` order),
    "labels": (B, L) original token ids, "mask": (B, L) bool, "index"?: the masked positions of
    the flattened mask}."""
    labels = part["labels"].flatten()[part["index"]] if "index" in part else part["labels"][part["mask"]]
    return F.cross_entropy(part["logits"], labels)


@LOSS_REGISTRY.register()
class MaskedLanguageModeling(nn.Module):
    """``outputs["mlm"]`` (see ``masked_token_loss``) -> {"loss_mlm"}; MODEL.MMET.MLM_WEIGHT."""

    KEYS = ("loss_mlm",)

    def __init__(self, cfg):
        super().__init__()
        self.weight = cfg.MODEL.MMET.MLM_WEIGHT

    def forward(self, outputs, batch):
        part = has_masked(outputs, "mlm")
        return {"loss_mlm": masked_token_loss(part) * self.weight} if part is not None else {}
