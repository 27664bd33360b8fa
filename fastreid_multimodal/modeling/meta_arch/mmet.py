"""MMET meta-architecture (MMET §3): pairs, unpaired images and unpaired texts in one batch.

Two passes over a training batch (``data.pairs.PairCollate``), as in FLAVA, which MMET builds on:

* CLEAN pass (no patch or token masked): the Re-ID features and losses. ID + triplet
  (MODEL.LOSSES.NAME ``CrossEntropyLoss``/``TripletLoss``, MMET Eq. 1-3) on [CLS_I] of EVERY
  sample with an image (unpaired images and pairs), on [CLS_T] of every sample with text, on
  [CLS_M] of the pairs — each group through its own BNNeck (``heads``, ``text_heads``,
  ``fusion_heads``: the three CLS come out of different LayerNorms and have different statistics;
  a shared BN would normalise test-time CLS_I with mixed-modality running means). The classifier
  is shared (one identity space; MODEL.MMET.CLASSIFIER): an image and a caption of one person are
  pulled to the same class weight, and the classifier gets 3 gradients per pair; ``per_modality``
  gives each CLS its own, so only L_GC, ITM and [CLS_M]'s losses tie the modalities.
  Each loss is the mean over the groups present. ``GlobalContrastive`` (L_GC) on the clean CLS_I /
  CLS_T of the pairs (MODEL.MMET.GC_FEATURE bnneck: after each one's BNNeck normalisation;
  MODEL.MMET.GC_PROJECTION: through a linear projection per modality first, as FLAVA).
* MASKED pass (patches / tokens masked as the loader says): only what predicts or matches.
  MaskedImageModeling (h_I of the masked patches of unpaired images -> pixels), MaskedLanguageModeling
  (h_T of the masked tokens of unpaired texts -> words), MaskedMultimodalModeling (h_M of the pairs'
  masked patches AND masked tokens), ImageTextMatching (h_CLS_M of the masked pairs and of
  in-batch negatives, mined from the L_GC similarities; MODEL.MMET.ITM_INPUTS clean fuses the
  clean encodings instead).
Masking never reaches the Re-ID losses or the evaluation features; the masked pass runs only when
a masking loss is configured and the batch has masked positions (otherwise ITM reads the clean
encodings). Patches and tokens are masked only for the losses that predict them.

Evaluation: image features = [CLS_I] through ``heads`` (MODEL.MMET.EVAL_FEATURE image) or [CLS_M]
of the image alone through ``fusion_heads`` (fusion), after the BNNeck; ``text_features`` likewise
with [CLS_T] / ``text_heads``.
"""
import logging

import torch
import torch.nn.functional as F
from fastreid.modeling.backbones import build_backbone
from fastreid.modeling.heads import build_heads
from fastreid.modeling.meta_arch.build import META_ARCH_REGISTRY

from ...config import MMET_LOSSES, check_mmet_config
from ...data.samples import IMAGE, PAIR, TEXT
from ...utils.model import running_statistics_kept
from ..feature_map import as_feature_map
from ..heads import ImageTextMatchingHead, MaskedPatchHead, MaskedTokenHead
from ..losses import build_losses, fill_absent_losses
from ..losses.image_text_matching import mine_negatives
from .batches import require_multimodal_batch
from .normalization import PixelNormalization

logger = logging.getLogger("fastreid.multimodal")
CE, TRI, GC, MIM, MLM, MMM, ITM = MMET_LOSSES
REID_LOSSES = (CE, TRI)


def bnneck_normalised(head, feats):
    """``feats`` (N, D) through ``head``'s BNNeck with this batch's statistics and the BNNeck's
    affine: the per-modality centring retrieval compares in, without a second update of the
    running statistics (the Re-ID pass already made this step's)."""
    bn = head.bottleneck[0]
    return F.batch_norm(feats, None, None, bn.weight, bn.bias, training=True, eps=bn.eps)


def patch_targets(images, patch_size, stride):
    """Per-patch normalised pixels (MAE's target) of the patch grid: (B, Np, 3 * p * p)."""
    patches = F.unfold(images, patch_size, stride=stride).transpose(1, 2)
    mean = patches.mean(-1, keepdim=True)
    var = patches.var(-1, keepdim=True)
    return (patches - mean) / (var + 1e-6).sqrt()


@META_ARCH_REGISTRY.register()
class MMET(PixelNormalization):
    # a batch without unpaired texts (or images, or pairs) leaves heads without gradient: under
    # DDP this model needs find_unused_parameters=True
    may_skip_parameters = True

    def __init__(self, cfg):
        super().__init__()
        check_mmet_config(cfg)
        self.eval_feature = cfg.MODEL.MMET.EVAL_FEATURE
        self.hard_negatives = cfg.MODEL.MMET.ITM_HARD_NEGATIVES
        self.itm_on_clean = cfg.MODEL.MMET.ITM_INPUTS == "clean"
        self.gc_on_bnneck = cfg.MODEL.MMET.GC_FEATURE == "bnneck"
        self.fusion_lr_factor = cfg.MODEL.MMET.FUSION_LR_FACTOR
        self.fusion_lr_constant = cfg.MODEL.MMET.FUSION_LR_SCHEDULE == "constant"
        self.fusion_reid_weight = float(cfg.MODEL.MMET.FUSION_REID_WEIGHT)
        self.backbone = build_backbone(cfg)
        self.heads = build_heads(cfg)  # [CLS_I]: FastReID's name, what stage II and eval read
        self.text_heads = build_heads(cfg)  # [CLS_T]: its own BNNeck statistics
        self.fusion_heads = build_heads(cfg)  # [CLS_M]: its own BNNeck statistics
        if cfg.MODEL.MMET.CLASSIFIER == "shared":
            # one identity space across modalities: the quickly separable captions also place
            # the class weights the images are pulled to (MODEL.MMET.CLASSIFIER per_modality: not)
            self.text_heads.weight = self.heads.weight
            self.fusion_heads.weight = self.heads.weight
        projection, width = cfg.MODEL.MMET.GC_PROJECTION, cfg.MODEL.BACKBONE.FEAT_DIM
        # FLAVA contrasts projections of the CLS, not the CLS itself
        self.gc_image_proj = torch.nn.Linear(width, projection) if projection else None
        self.gc_text_proj = torch.nn.Linear(width, projection) if projection else None
        self.loss_fns = build_losses(cfg)
        names = set(cfg.MODEL.LOSSES.NAME)
        self.uses_masked_pass = bool(names & {MIM, MLM, MMM}) or (ITM in names and not self.itm_on_clean)
        words = self.backbone.word_embeddings
        vocab, word_dim = words.num_embeddings, words.embedding_dim
        self.mim_head = MaskedPatchHead(cfg) if MIM in names else None
        self.mlm_head = MaskedTokenHead(cfg, vocab, word_dim) if MLM in names else None
        self.mmm_image_head = MaskedPatchHead(cfg) if MMM in names else None
        self.mmm_text_head = MaskedTokenHead(cfg, vocab, word_dim) if MMM in names else None
        self.itm_head = ImageTextMatchingHead(cfg) if ITM in names else None
        self.patch_size = cfg.MODEL.VIT.PATCH_SIZE
        self.stride = tuple(self.backbone.patch_embed.stride)
        self.init_pixel_stats(cfg)

    def lr_factors(self):
        """{parameter: lr multiplier} for MultimodalTrainer.build_optimizer: the fusion encoder and
        the ITM head get MODEL.MMET.FUSION_LR_FACTOR (at the demo's Adam lr 5e-4 the fused CLS
        collapsed to a constant within 50 steps and ITM stayed at chance; at 1e-4 it learns)."""
        if self.fusion_lr_factor == 1.0 and not self.fusion_lr_constant:
            return {}
        modules = [self.backbone.fusion_blocks, self.backbone.fusion_norm,
                   self.backbone.image_to_fusion, self.backbone.text_to_fusion]
        if self.itm_head is not None:
            modules.append(self.itm_head)
        params = [p for m in modules for p in m.parameters()] + [self.backbone.fusion_cls_token]
        return {p: self.fusion_lr_factor for p in params}

    # -- evaluation features ---------------------------------------------------------------------
    def image_features(self, images):
        h_image = self.backbone.encode_image(self.preprocess_image(images))
        if self.eval_feature == "image":
            return self.heads(as_feature_map(h_image[:, 0]))
        return self.fusion_heads(as_feature_map(self.backbone.fuse(h_image)[:, 0]))

    def text_features(self, input_ids, attention_mask):
        ids, mask = input_ids.to(self.device), attention_mask.to(self.device)
        h_text = self.backbone.encode_text(ids, mask)
        if self.eval_feature == "image":
            return self.text_heads(as_feature_map(h_text[:, 0]))
        return self.fusion_heads(as_feature_map(self.backbone.fuse(None, h_text, mask)[:, 0]))

    # -- training --------------------------------------------------------------------------------
    def rows(self, batch):
        """Which samples have an image / text / both, and each one's row in batch["images"] /
        batch["text_ids"] (those hold only the samples that have that modality)."""
        modality = batch["modality"].to(self.device)
        has_image, has_text = modality != TEXT, modality != IMAGE
        return {"modality": modality, "has_image": has_image, "has_text": has_text,
                "pair": modality == PAIR,
                "image_row": torch.cumsum(has_image.long(), 0) - 1,
                "text_row": torch.cumsum(has_text.long(), 0) - 1}

    def encode(self, batch, masked=False):
        """h_I of every image, h_T of every text, h_M of every pair. ``masked``: the encoders see
        batch["patch_mask"] / batch["text_input"] (the masked pass), else the clean inputs."""
        enc = self.rows(batch)
        if enc["has_image"].any():
            enc["images"] = self.preprocess_image(batch["images"])
            patch_mask = batch.get("patch_mask")
            patch_mask = patch_mask.to(self.device) if patch_mask is not None else None
            enc["patch_mask"] = patch_mask
            use = masked and patch_mask is not None and bool(patch_mask.any())
            enc["h_image"] = self.backbone.encode_image(enc["images"], patch_mask if use else None)
        if enc["has_text"].any():
            enc["text_ids"] = batch["text_ids"].to(self.device)
            enc["text_mask"] = batch["text_mask"].to(self.device)
            token_mask = batch.get("token_mask")
            enc["token_mask"] = token_mask.to(self.device) if token_mask is not None else None
            text_input = batch.get("text_input") if masked else None
            enc["h_text"] = self.backbone.encode_text(
                text_input.to(self.device) if text_input is not None else enc["text_ids"],
                enc["text_mask"])
        if enc["pair"].any():
            enc["pair_image"], enc["pair_text"] = enc["image_row"][enc["pair"]], enc["text_row"][enc["pair"]]
            enc["h_fused"] = self.backbone.fuse(enc["h_image"][enc["pair_image"]],
                                                enc["h_text"][enc["pair_text"]],
                                                enc["text_mask"][enc["pair_text"]])
        return enc

    def has_masked_inputs(self, batch):
        patch_mask, token_mask = batch.get("patch_mask"), batch.get("token_mask")
        return (patch_mask is not None and bool(patch_mask.any())) or \
            (token_mask is not None and bool(token_mask.any()))

    def reid_groups(self, enc, targets):
        """(name, CLS features, their targets, their head) of every group the batch has: CLS_T of
        every text, CLS_M of every pair, CLS_I of every image."""
        groups = []
        if "h_text" in enc:
            groups.append(("text", enc["h_text"][:, 0], targets[enc["has_text"]], self.text_heads))
        if "h_fused" in enc and self.fusion_reid_weight > 0:
            groups.append(("fusion", enc["h_fused"][:, 0], targets[enc["pair"]], self.fusion_heads))
        if "h_image" in enc:
            groups.append(("image", enc["h_image"][:, 0], targets[enc["has_image"]], self.heads))
        return groups

    def reid_losses(self, groups):
        """ID and triplet losses of every group, each the weighted mean over the groups ([CLS_M]'s
        weight MODEL.MMET.FUSION_REID_WEIGHT, the others 1; triplet only where the group has two
        identities, so that it has a negative). A group of one sample is left out: its BNNeck
        cannot normalise a batch of one (a process's share of a small batch on many GPUs)."""
        sums, counts = {}, {}
        for group, feats, targets, head in groups:
            if len(targets) < 2:
                continue
            outputs = head(as_feature_map(feats), targets)
            # the image group's is FastReID's cls_accuracy; the others are logged beside it
            outputs["accuracy_name"] = "cls_accuracy" if group == "image" else f"cls_accuracy_{group}"
            weight = self.fusion_reid_weight if group == "fusion" else 1.0
            for name in REID_LOSSES:
                if name not in self.loss_fns or (name == TRI and len(targets.unique()) < 2):
                    continue
                for key, value in self.loss_fns[name](outputs, {"targets": targets}).items():
                    sums[key] = sums.get(key, 0) + weight * value
                    counts[key] = counts.get(key, 0) + weight
        return {key: sums[key] / counts[key] for key in sums}

    def patch_prediction(self, head, hidden, images, mask):
        """MIM/MMM input of the loss: predictions at the masked patches, targets of all."""
        return {"pred": head(hidden[mask]), "mask": mask,
                "target": patch_targets(images, self.patch_size, self.stride)}

    def token_prediction(self, head, hidden, labels, mask):
        """MLM/MMM input of the loss: logits at the masked tokens, the original ids."""
        return {"logits": head(hidden[mask], self.backbone.word_embeddings.weight),
                "labels": labels, "mask": mask}

    def masked_predictions(self, enc):
        out = {}
        modality = enc["modality"]
        patch_mask, token_mask = enc.get("patch_mask"), enc.get("token_mask")
        num_patches = self.backbone.num_patches
        if self.mim_head is not None and patch_mask is not None and (modality == IMAGE).any():
            rows = enc["image_row"][modality == IMAGE]
            out["mim"] = self.patch_prediction(self.mim_head, enc["h_image"][rows, 1:],  # after [CLS_I]
                                               enc["images"][rows], patch_mask[rows])
        if self.mlm_head is not None and token_mask is not None and (modality == TEXT).any():
            rows = enc["text_row"][modality == TEXT]
            out["mlm"] = self.token_prediction(self.mlm_head, enc["h_text"][rows, 1:],  # after [CLS_T]
                                               enc["text_ids"][rows], token_mask[rows])
        if self.mmm_image_head is not None and "h_fused" in enc:
            fused = enc["h_fused"]  # [CLS_M], [CLS_I], patches, [CLS_T], tokens
            mmm = {}
            if patch_mask is not None:
                rows = enc["pair_image"]
                mmm["image"] = self.patch_prediction(self.mmm_image_head, fused[:, 2:2 + num_patches],
                                                     enc["images"][rows], patch_mask[rows])
            if token_mask is not None:
                rows = enc["pair_text"]
                mmm["text"] = self.token_prediction(self.mmm_text_head, fused[:, 3 + num_patches:],
                                                    enc["text_ids"][rows], token_mask[rows])
            out["mmm"] = mmm
        return out

    def image_text_matching(self, enc, targets, similarity=None):
        """ITM input of the loss: h_CLS_M of the pairs (label 1), of each pair's image with the
        caption of a pair of another identity and of each pair's caption with the image of a pair
        of another identity (label 0); hard negatives when ``similarity`` (pairs' image x text
        L_GC similarities) is given."""
        pids = targets[enc["pair"]]
        text_neg = mine_negatives(pids, similarity=similarity)
        image_neg = mine_negatives(pids, similarity=similarity.t() if similarity is not None else None)
        logits = [self.itm_head(enc["h_fused"][:, 0])]
        image_idx = [torch.arange(len(pids), device=pids.device)]
        text_idx = [torch.arange(len(pids), device=pids.device)]
        for img, txt in ((torch.nonzero(text_neg >= 0).flatten(), text_neg[text_neg >= 0]),
                         (image_neg[image_neg >= 0], torch.nonzero(image_neg >= 0).flatten())):
            if len(img):
                image_rows, text_rows = enc["pair_image"][img], enc["pair_text"][txt]
                fused = self.backbone.fuse(enc["h_image"][image_rows], enc["h_text"][text_rows],
                                           enc["text_mask"][text_rows])
                logits.append(self.itm_head(fused[:, 0]))
                image_idx.append(img)
                text_idx.append(txt)
        image_idx, text_idx = torch.cat(image_idx), torch.cat(text_idx)
        labels = (image_idx == text_idx).long()
        return {"logits": torch.cat(logits), "labels": labels,
                "image_targets": pids[image_idx], "text_targets": pids[text_idx]}

    def forward(self, batch):
        if not self.training:
            images = batch["images"] if isinstance(batch, dict) else batch
            return self.image_features(images)
        require_multimodal_batch(batch, "MMET")
        targets = batch["targets"].to(self.device)
        clean = self.encode(batch)
        losses = self.reid_losses(self.reid_groups(clean, targets))
        outputs = {}
        similarity = None
        if "h_fused" in clean and len(clean["pair_image"]) > 1:  # one pair has no negative
            image_cls = clean["h_image"][clean["pair_image"], 0]
            text_cls = clean["h_text"][clean["pair_text"], 0]
            if self.gc_on_bnneck:
                image_cls, text_cls = bnneck_normalised(self.heads, image_cls), \
                    bnneck_normalised(self.text_heads, text_cls)
            if self.gc_image_proj is not None:
                image_cls, text_cls = self.gc_image_proj(image_cls), self.gc_text_proj(text_cls)
            outputs["gc"] = {"image": image_cls, "text": text_cls, "targets": targets[clean["pair"]]}
            if self.hard_negatives:
                similarity = F.normalize(image_cls.detach(), dim=1) @ \
                    F.normalize(text_cls.detach(), dim=1).t()
        masked = None
        if self.uses_masked_pass:
            if self.has_masked_inputs(batch):
                with running_statistics_kept(self.backbone):  # the conv stem's BatchNorm
                    masked = self.encode(batch, masked=True)
            else:
                masked = clean
            outputs.update(self.masked_predictions(masked))
        matched = clean if self.itm_on_clean else masked
        if self.itm_head is not None and matched is not None and "h_fused" in matched:
            outputs["itm"] = self.image_text_matching(matched, targets, similarity)
        for name, loss_fn in self.loss_fns.items():
            if name not in REID_LOSSES:
                losses.update(loss_fn(outputs, {**batch, "targets": targets}))
        return fill_absent_losses(losses, self.loss_fns, self.device)
