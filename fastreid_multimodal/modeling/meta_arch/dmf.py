"""DMF meta-architecture (DMF Algorithm 1): images and captions of the same identities in one
batch, one shared encoder, one BNNeck head and classifier over both, ID + soft-margin triplet.
MODEL.DMF.CLASSIFIER per_modality gives the captions a classifier of their own, and
MODEL.DMF.TEXT_LOSS_WEIGHT weighs their terms in the losses (both ours)."""
import torch
import torch.nn.functional as F
from fastreid.modeling.heads import build_heads
from fastreid.modeling.backbones import build_backbone
from fastreid.modeling.meta_arch.build import META_ARCH_REGISTRY
from fastreid.utils import events

from ...config import DMF_CLASSIFIERS, check_choice
from ...data.multimodal import MODALITIES, modality_layout
from ...data.samples import IMAGE, TEXT
from ..feature_map import as_feature_map
from ...errors import ConfigError
from ..losses import build_losses
from .batches import require_multimodal_batch
from .normalization import PixelNormalization


@META_ARCH_REGISTRY.register()
class DMF(PixelNormalization):
    """Training batches: {"modality", "targets", "images"?, "text_ids"?, "text_mask"?} from the
    multimodal loader (images and texts interleaved in sampler order). Evaluation: image features."""

    def __init__(self, cfg):
        super().__init__()
        if cfg.MODEL.DMF.MODALITIES not in MODALITIES:
            raise ConfigError(f"MODEL.DMF.MODALITIES must be one of {MODALITIES}, "
                              f"got {cfg.MODEL.DMF.MODALITIES!r}")
        self.modalities = cfg.MODEL.DMF.MODALITIES
        check_choice(cfg.MODEL.DMF.CLASSIFIER, DMF_CLASSIFIERS, "MODEL.DMF.CLASSIFIER")
        self.backbone = build_backbone(cfg)
        self.heads = build_heads(cfg)
        # per_modality: the captions' class weights, initialised as the images' are
        self.text_weight = torch.nn.Parameter(self.heads.weight.detach().clone()) \
            if cfg.MODEL.DMF.CLASSIFIER == "per_modality" else None
        self.loss_fns = build_losses(cfg)
        self.text_loss_weight = float(cfg.MODEL.DMF.TEXT_LOSS_WEIGHT)
        if self.text_loss_weight < 0:
            raise ConfigError(f"MODEL.DMF.TEXT_LOSS_WEIGHT must be >= 0, got {self.text_loss_weight}")
        self.init_pixel_stats(cfg)
        self.seen = {IMAGE: 0, TEXT: 0}
        # a modality the config never trains on (stage II: text) keeps its weights as loaded,
        # frozen, so that DDP need not search every step for parameters without a gradient
        idle = {"image": TEXT, "text": IMAGE}.get(self.modalities)
        if idle is not None:
            frozen = self.backbone.modality_parameters("text" if idle == TEXT else "image")
            if idle == TEXT and self.text_weight is not None:
                frozen.append(self.text_weight)
            for p in frozen:
                p.requires_grad_(False)
        # fused batches can hold one modality only (a process's share, identities without captions)
        self.may_skip_parameters = self.modalities == "both"

    # Which samples are images and which captions comes from the batch's ``layout`` (Python
    # ints, computed by MultimodalCollate on the CPU): no .any(), nonzero or mask indexing of a
    # device tensor, each of which is a host synchronisation on a GPU.
    @staticmethod
    def layout(batch):
        """``batch["layout"]`` (data.multimodal.modality_layout), or computed from the batch's
        modality tensor for a batch that has none (read back from the device)."""
        layout = batch.get("layout")
        return layout if layout is not None else modality_layout(batch["modality"].tolist())

    def features(self, batch, layout=None):
        """[cls] features of every sample, in batch order (N, D)."""
        layout = layout or self.layout(batch)
        parts = []
        if layout["image"]:
            parts.append(self.backbone.forward_image(self.preprocess_image(batch["images"])))
        if layout["text"]:
            parts.append(self.backbone.forward_text(batch["text_ids"].to(self.device),
                                                    batch["text_mask"].to(self.device)))
        feats = torch.cat(parts)
        if not (layout["image"] and layout["text"]):
            return feats
        # feats holds the images, then the captions: row of each batch position
        source = {position: row for row, position in enumerate(layout["image"] + layout["text"])}
        return feats[self.index([source[i] for i in range(len(source))])]

    # -- evaluation features (MMET has the same two) -----------------------------------------------
    def image_features(self, images):
        """Re-ID features of images: the image [cls] through the BNNeck head."""
        return self.heads(as_feature_map(self.backbone.forward_image(self.preprocess_image(images))))

    def text_features(self, input_ids, attention_mask):
        """Features of captions in the image-feature space: the text [cls] through the same head."""
        ids, mask = input_ids.to(self.device), attention_mask.to(self.device)
        return self.heads(as_feature_map(self.backbone.forward_text(ids, mask)))

    def own_text_classifier(self, feats, targets, text_rows):
        """The head's outputs with the captions' logits from ``text_weight``: one BNNeck over the
        batch as with the shared classifier, only the class weights differ."""
        necks = []
        hook = self.heads.bottleneck.register_forward_hook(lambda m, i, out: necks.append(out))
        try:
            outputs = self.heads(as_feature_map(feats), targets)
        finally:
            hook.remove()
        neck = necks[0][..., 0, 0]
        if self.heads.cls_layer.__class__.__name__ == "Linear":
            logits = F.linear(neck[text_rows], self.text_weight)
        else:
            logits = F.linear(F.normalize(neck[text_rows]), F.normalize(self.text_weight))
        cls_outputs = outputs["cls_outputs"].clone()
        cls_outputs[text_rows] = self.heads.cls_layer(logits.clone(), targets[text_rows])
        pred = outputs["pred_class_logits"].clone()
        pred[text_rows] = logits.detach() * self.heads.cls_layer.s
        return {**outputs, "cls_outputs": cls_outputs, "pred_class_logits": pred}

    def count_samples(self, layout):
        """Images and captions trained on so far, logged (metrics.json: samples/images, samples/texts)."""
        self.seen[IMAGE] += len(layout["image"])
        self.seen[TEXT] += len(layout["text"])
        if events._CURRENT_STORAGE_STACK:
            storage = events.get_event_storage()
            storage.put_scalar("samples/images", self.seen[IMAGE], smoothing_hint=False)
            storage.put_scalar("samples/texts", self.seen[TEXT], smoothing_hint=False)

    def forward(self, batch):
        if not self.training:
            if self.modalities == "text":
                raise ConfigError("MODEL.DMF.MODALITIES is 'text': this model trains no image "
                                  "path, and Re-ID evaluation needs image features. Fine-tune it "
                                  "on images (stage II) before evaluating, or set DATASETS.TESTS ().")
            return self.image_features(batch["images"] if isinstance(batch, dict) else batch)
        require_multimodal_batch(batch, "DMF")
        targets = batch["targets"].to(self.device)
        layout = self.layout(batch)
        self.count_samples(layout)
        if self.text_weight is None or not layout["text"]:
            outputs = self.heads(as_feature_map(self.features(batch, layout)), targets)
        else:
            outputs = self.own_text_classifier(self.features(batch, layout), targets,
                                               self.index(layout["text"]))
        loss_batch = {**batch, "targets": targets}
        if self.text_loss_weight != 1.0 and self.modalities == "both":  # a share of what?
            loss_batch["sample_groups"] = self.sample_groups(layout)
        losses = {}
        for loss_fn in self.loss_fns.values():
            losses.update(loss_fn(outputs, loss_batch))
        return losses

    def sample_groups(self, layout):
        """((image rows, 1), (caption rows, MODEL.DMF.TEXT_LOSS_WEIGHT)) of the losses."""
        return ((self.index(layout["image"]), 1.0),
                (self.index(layout["text"]), self.text_loss_weight))
