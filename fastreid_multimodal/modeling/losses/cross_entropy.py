"""Identity loss (DMF Eq. 2 / MMET Eq. 1): label-smoothed cross-entropy on the BNNeck classifier."""
from fastreid.modeling.losses import cross_entropy_loss, log_accuracy
from fastreid.utils import events
from torch import nn

from .build import LOSS_REGISTRY


@LOSS_REGISTRY.register()
class CrossEntropyLoss(nn.Module):
    """FastReID's cross_entropy_loss with MODEL.LOSSES.CE.{EPSILON, ALPHA, SCALE}."""

    KEYS = ("loss_cls",)

    def __init__(self, cfg):
        super().__init__()
        ce = cfg.MODEL.LOSSES.CE
        self.eps, self.alpha, self.scale = ce.EPSILON, ce.ALPHA, ce.SCALE

    def forward(self, outputs, batch):
        targets = batch["targets"]
        if events._CURRENT_STORAGE_STACK:  # inside a training loop (not a bare forward)
            log_accuracy(outputs["pred_class_logits"].detach(), targets)
        loss = cross_entropy_loss(outputs["cls_outputs"], targets, self.eps, self.alpha)
        return {"loss_cls": loss * self.scale}
