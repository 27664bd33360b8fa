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
from ...data.pairs import pair_layout
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


class ReidGroup(tuple):
    """(name, CLS features, targets, head) of one Re-ID group, with ``identities``: how many
    identities it holds, counted on the host."""

    def __new__(cls, name, feats, targets, head, identities):
        group = super().__new__(cls, (name, feats, targets, head))
        group.identities = identities
        return group


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
        self.reid_weights = {"image": 1.0, "text": float(cfg.MODEL.MMET.TEXT_REID_WEIGHT),
                             "fusion": self.fusion_reid_weight}
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
    # Which samples form each group comes from the batch's ``layout`` (Python ints, computed by
    # PairCollate on the CPU): the groups are gathered with index tensors, never selected with a
    # device mask or tested with .any(), each of which is a host synchronisation on a GPU.
    def layout(self, batch):
        """``batch["layout"]`` (data.pairs.pair_layout), or computed from the batch's tensors for
        a batch that has none (read back from the device)."""
        patch_mask, token_mask = batch.get("patch_mask"), batch.get("token_mask")
        layout = batch.get("layout")
        if layout is None:
            layout = pair_layout(batch["modality"].tolist(), batch["targets"].tolist(),
                                 patch_mask, token_mask)
        # a batch whose masks were taken out keeps no masked positions
        return {**layout, "masked_patches": layout["masked_patches"] if patch_mask is not None else None,
                "masked_tokens": layout["masked_tokens"] if token_mask is not None else None}

    def encode(self, batch, masked=False):
        """h_I of every image, h_T of every text, h_M of every pair. ``masked``: the encoders see
        batch["patch_mask"] / batch["text_input"] (the masked pass), else the clean inputs."""
        layout = self.layout(batch)
        enc = {"layout": layout}
        if layout["image"]:
            enc["images"] = self.preprocess_image(batch["images"])
            patch_mask = batch.get("patch_mask")
            patch_mask = patch_mask.to(self.device) if patch_mask is not None else None
            enc["patch_mask"] = patch_mask
            use = masked and patch_mask is not None and any(layout["masked_patches"])
            enc["h_image"] = self.backbone.encode_image(enc["images"], patch_mask if use else None)
        if layout["text"]:
            enc["text_ids"] = batch["text_ids"].to(self.device)
            enc["text_mask"] = batch["text_mask"].to(self.device)
            token_mask = batch.get("token_mask")
            enc["token_mask"] = token_mask.to(self.device) if token_mask is not None else None
            text_input = batch.get("text_input") if masked else None
            enc["h_text"] = self.backbone.encode_text(
                text_input.to(self.device) if text_input is not None else enc["text_ids"],
                enc["text_mask"])
        if layout["pair"]:
            enc["pair_image"], enc["pair_text"] = self.index(layout["pair_image"]), self.index(layout["pair_text"])
            enc["h_fused"] = self.backbone.fuse(enc["h_image"][enc["pair_image"]],
                                                enc["h_text"][enc["pair_text"]],
                                                enc["text_mask"][enc["pair_text"]])
        return enc

    def has_masked_inputs(self, batch):
        layout = self.layout(batch)
        return any(layout["masked_patches"] or ()) or any(layout["masked_tokens"] or ())

    def reid_groups(self, enc, targets):
        """(name, CLS features, their targets, their head) of every group the batch has: CLS_T of
        every text, CLS_M of every pair, CLS_I of every image."""
        layout, groups = enc["layout"], []

        def group(name, feats, samples, head):
            return ReidGroup(name, feats, targets[self.index(samples)], head,
                             len({layout["targets"][i] for i in samples}))
        if "h_text" in enc:
            groups.append(group("text", enc["h_text"][:, 0], layout["text"], self.text_heads))
        if "h_fused" in enc and self.fusion_reid_weight > 0:
            groups.append(group("fusion", enc["h_fused"][:, 0], layout["pair"], self.fusion_heads))
        if "h_image" in enc:
            groups.append(group("image", enc["h_image"][:, 0], layout["image"], self.heads))
        return groups

    def reid_losses(self, groups):
        """ID and triplet losses of every group, each the weighted mean over the groups ([CLS_T]'s
        weight MODEL.MMET.TEXT_REID_WEIGHT, [CLS_M]'s FUSION_REID_WEIGHT, [CLS_I]'s 1; triplet only
        where the group has two identities, so that it has a negative). A group of one sample is
        left out: its BNNeck cannot normalise a batch of one (a process's share of a small batch on
        many GPUs). A loss whose groups all weigh 0 (a text-only batch at TEXT_REID_WEIGHT 0) is
        not returned."""
        sums, counts = {}, {}
        for entry in groups:
            group, feats, targets, head = entry
            if len(targets) < 2:
                continue
            outputs = head(as_feature_map(feats), targets)
            # the image group's is FastReID's cls_accuracy; the others are logged beside it
            outputs["accuracy_name"] = "cls_accuracy" if group == "image" else f"cls_accuracy_{group}"
            weight = self.reid_weights[group]
            for name in REID_LOSSES:
                if name not in self.loss_fns or (name == TRI and entry.identities < 2):
                    continue
                for key, value in self.loss_fns[name](outputs, {"targets": targets}).items():
                    sums[key] = sums.get(key, 0) + weight * value
                    counts[key] = counts.get(key, 0) + weight
        return {key: sums[key] / counts[key] for key in sums if counts[key] > 0}

    def masked_positions(self, masked, rows, width):
        """{"index": flat positions (row-major, over ``rows`` x ``width``) of the masked entries of
        ``rows``, "count"}: what ``hidden[mask]`` selects, without reading the mask back."""
        flat = [k * width + j for k, row in enumerate(rows) for j in masked[row]]
        return {"index": self.index(flat), "count": len(flat)}

    def patch_prediction(self, head, hidden, images, mask, positions):
        """MIM/MMM input of the loss: predictions at the masked patches, targets of all."""
        return {"pred": head(hidden.flatten(0, 1)[positions["index"]]), "mask": mask, **positions,
                "target": patch_targets(images, self.patch_size, self.stride)}

    def token_prediction(self, head, hidden, labels, mask, positions):
        """MLM/MMM input of the loss: logits at the masked tokens, the original ids."""
        return {"logits": head(hidden.flatten(0, 1)[positions["index"]],
                               self.backbone.word_embeddings.weight),
                "labels": labels, "mask": mask, **positions}

    def masked_predictions(self, enc):
        out = {}
        layout = enc["layout"]
        patch_mask, token_mask = enc.get("patch_mask"), enc.get("token_mask")
        patches, tokens = layout["masked_patches"], layout["masked_tokens"]
        num_patches = self.backbone.num_patches
        if self.mim_head is not None and patch_mask is not None and layout["image_only"]:
            rows = layout["image_only"]
            index = self.index(rows)
            out["mim"] = self.patch_prediction(self.mim_head, enc["h_image"][index, 1:],  # after [CLS_I]
                                               enc["images"][index], patch_mask[index],
                                               self.masked_positions(patches, rows, num_patches))
        if self.mlm_head is not None and token_mask is not None and layout["text_only"]:
            rows = layout["text_only"]
            index = self.index(rows)
            hidden = enc["h_text"][index, 1:]  # after [CLS_T]
            out["mlm"] = self.token_prediction(self.mlm_head, hidden, enc["text_ids"][index],
                                               token_mask[index],
                                               self.masked_positions(tokens, rows, hidden.shape[1]))
        if self.mmm_image_head is not None and "h_fused" in enc:
            fused = enc["h_fused"]  # [CLS_M], [CLS_I], patches, [CLS_T], tokens
            mmm = {}
            if patch_mask is not None:
                rows = layout["pair_image"]
                mmm["image"] = self.patch_prediction(
                    self.mmm_image_head, fused[:, 2:2 + num_patches], enc["images"][enc["pair_image"]],
                    patch_mask[enc["pair_image"]], self.masked_positions(patches, rows, num_patches))
            if token_mask is not None:
                rows = layout["pair_text"]
                hidden = fused[:, 3 + num_patches:]
                mmm["text"] = self.token_prediction(
                    self.mmm_text_head, hidden, enc["text_ids"][enc["pair_text"]],
                    token_mask[enc["pair_text"]], self.masked_positions(tokens, rows, hidden.shape[1]))
            out["mmm"] = mmm
        return out

    def image_text_matching(self, enc, targets, similarity=None):
        """ITM input of the loss: h_CLS_M of the pairs (label 1), of each pair's image with the
        caption of a pair of another identity and of each pair's caption with the image of a pair
        of another identity (label 0); hard negatives when ``similarity`` (pairs' image x text
        L_GC similarities) is given."""
        layout = enc["layout"]
        pair_ids = [layout["targets"][i] for i in layout["pair"]]
        # the pairs with a pair of another identity in the batch (the others get no negative)
        with_negative = [i for i, pid in enumerate(pair_ids) if any(q != pid for q in pair_ids)]
        pids = targets[self.index(layout["pair"])]
        text_neg = mine_negatives(pids, similarity=similarity)
        image_neg = mine_negatives(pids, similarity=similarity.t() if similarity is not None else None)
        logits = [self.itm_head(enc["h_fused"][:, 0])]
        image_idx = [torch.arange(len(pair_ids), device=pids.device)]
        text_idx = [torch.arange(len(pair_ids), device=pids.device)]
        if with_negative:
            rows = self.index(with_negative)
            for img, txt in ((rows, text_neg[rows]), (image_neg[rows], rows)):
                image_rows, text_rows = enc["pair_image"][img], enc["pair_text"][txt]
                fused = self.backbone.fuse(enc["h_image"][image_rows], enc["h_text"][text_rows],
                                           enc["text_mask"][text_rows])
                logits.append(self.itm_head(fused[:, 0]))
                image_idx.append(img)
                text_idx.append(txt)
        image_idx, text_idx = torch.cat(image_idx), torch.cat(text_idx)
        labels = (image_idx == text_idx).long()
        return {"logits": torch.cat(logits), "labels": labels, "negatives": 2 * len(with_negative),
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
            layout = clean["layout"]
            outputs["gc"] = {"image": image_cls, "text": text_cls,
                             "targets": targets[self.index(layout["pair"])],
                             "identities": len({layout["targets"][i] for i in layout["pair"]})}
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
