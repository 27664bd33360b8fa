"""Identity loss (DMF Eq. 2 / MMET Eq. 1): label-smoothed cross-entropy on the BNNeck classifier."""
from fastreid.modeling.losses import cross_entropy_loss
from fastreid.utils import events
from torch import nn

from .build import LOSS_REGISTRY


@LOSS_REGISTRY.register()
class CrossEntropyLoss(nn.Module):
    """FastReID's cross_entropy_loss with MODEL.LOSSES.CE.{EPSILON, ALPHA, SCALE}. Top-1 accuracy
    goes to the event storage as ``outputs["accuracy_name"]`` (default ``cls_accuracy``, FastReID's
    name): a model that calls the loss on several groups per step names each group's accuracy, since
    the logged value is a median over the last steps' entries and would mix the groups.
    ``batch["sample_groups"]`` ((rows, weight), ...), optional: the mean over the batch with
    each group's samples weighted (MODEL.DMF.TEXT_LOSS_WEIGHT)."""

    KEYS = ("loss_cls",)

    def __init__(self, cfg):
        super().__init__()
        ce = cfg.MODEL.LOSSES.CE
        self.eps, self.alpha, self.scale = ce.EPSILON, ce.ALPHA, ce.SCALE

    def forward(self, outputs, batch):
        targets = batch["targets"]
        if events._CURRENT_STORAGE_STACK:  # inside a training loop (not a bare forward)
            correct = outputs["pred_class_logits"].detach().argmax(1) == targets
            # a tensor: the storage copies it to the host with the losses, once a step (compat)
            events.get_event_storage().put_scalar(outputs.get("accuracy_name", "cls_accuracy"),
                                                  correct.float().mean())
        groups = batch.get("sample_groups")
        if groups is None:
            loss = cross_entropy_loss(outputs["cls_outputs"], targets, self.eps, self.alpha)
        else:  # each group's mean, weighted by its share of the batch times its weight
            loss = sum(weight * len(rows) * cross_entropy_loss(outputs["cls_outputs"][rows],
                                                               targets[rows], self.eps, self.alpha)
                       for rows, weight in groups if len(rows)) / len(targets)
        return {"loss_cls": loss * self.scale}
