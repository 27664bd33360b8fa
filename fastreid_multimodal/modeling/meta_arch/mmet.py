"""MMET meta-architecture (MMET §3): pairs, unpaired images and unpaired texts in one batch.

Training batch (``data.pairs.PairCollate``): image and pair samples go through the image encoder
(their patches masked as the loader says), text and pair samples through the text encoder (their
tokens masked), pairs through the fusion encoder. Losses (MODEL.LOSSES.NAME):

* ID + triplet on the CLS of what each sample has: h_CLS_M for pairs, h_CLS_I for unpaired images,
  h_CLS_T for unpaired texts, through ONE BNNeck EmbeddingHead and classifier (one identity space;
  the paper's separate heads on CLS_M and CLS_I/CLS_T are folded into it, so the image CLS used at
  test time is trained by the same classifier as the fused one).
* MaskedImageModeling: unpaired images, h_I of the masked patches -> pixels (MaskedPatchHead).
* MaskedLanguageModeling: unpaired texts, h_T of the masked tokens -> words (MaskedTokenHead).
* MaskedMultimodalModeling: pairs, h_M of the masked patches AND of the masked tokens (own heads).
* ImageTextMatching: h_CLS_M of every pair (match) and of each pair's image with the caption of a
  pair of another identity (no match), ImageTextMatchingHead.
Every loss sees the masked inputs: one pass per sample, the masking doubling as augmentation.
Patches and tokens are masked only for the losses that predict them (no masking loss, no mask).

Evaluation: image features from [CLS_I] (MODEL.MMET.EVAL_FEATURE image) or from [CLS_M] of the
image alone (fusion), through the BNNeck; ``text_features`` for text->image retrieval.
"""
import logging

import torch
import torch.nn.functional as F
from fastreid.modeling.backbones import build_backbone
from fastreid.modeling.heads import build_heads
from fastreid.modeling.meta_arch.build import META_ARCH_REGISTRY

from ...data.masking import MASK_MODES, check_ratio
from ...data.multimodal import IMAGE, TEXT
from ...data.pairs import PAIR, build_pair_train_loader, check_probability
from ...errors import ConfigError
from ..heads import ImageTextMatchingHead, MaskedPatchHead, MaskedTokenHead
from ..losses import build_losses
from .normalization import PixelNormalization
from ..losses.image_text_matching import mine_negatives

logger = logging.getLogger("fastreid_multimodal")
EVAL_FEATURES = ("image", "fusion")
MIM, MLM, MMM, ITM = ("MaskedImageModeling", "MaskedLanguageModeling", "MaskedMultimodalModeling",
                      "ImageTextMatching")


def check_config(cfg):
    """MODEL.MMET values that must be right before anything is built."""
    mmet = cfg.MODEL.MMET
    check_ratio(mmet.IMAGE_MASK_RATIO, "MODEL.MMET.IMAGE_MASK_RATIO")
    check_ratio(mmet.TEXT_MASK_RATIO, "MODEL.MMET.TEXT_MASK_RATIO")
    check_probability(mmet.PAIR_PROB, "MODEL.MMET.PAIR_PROB")
    check_probability(mmet.SPLIT_PROB, "MODEL.MMET.SPLIT_PROB")
    if mmet.MASK_MODE not in MASK_MODES:
        raise ConfigError(f"MODEL.MMET.MASK_MODE must be one of {MASK_MODES}, got {mmet.MASK_MODE!r}")
    if mmet.EVAL_FEATURE not in EVAL_FEATURES:
        raise ConfigError(f"MODEL.MMET.EVAL_FEATURE must be one of {EVAL_FEATURES}, "
                          f"got {mmet.EVAL_FEATURE!r}")


def masked_modalities(cfg):
    """(modalities whose patches are masked, modalities whose tokens are masked)."""
    names = set(cfg.MODEL.LOSSES.NAME)
    images = [m for m, loss in ((IMAGE, MIM), (PAIR, MMM)) if loss in names]
    texts = [m for m, loss in ((TEXT, MLM), (PAIR, MMM)) if loss in names]
    return images, texts


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
        check_config(cfg)
        self.eval_feature = cfg.MODEL.MMET.EVAL_FEATURE
        self.backbone = build_backbone(cfg)
        self.heads = build_heads(cfg)
        self.loss_fns = build_losses(cfg)
        names = set(cfg.MODEL.LOSSES.NAME)
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

    @classmethod
    def build_train_loader(cls, cfg):
        """Pairs + unpaired samples of DATASETS.NAMES (MultimodalTrainer calls this)."""
        check_config(cfg)
        return build_pair_train_loader(cfg, *masked_modalities(cfg))

    @classmethod
    def extra_test(cls, cfg, model):
        """Text->image retrieval on every DATASETS.TESTS entry with text queries:
        {dataset: {"text2image/Rank-1": ..., ...}} (see evaluation.text_retrieval)."""
        from ...evaluation.text_retrieval import evaluate_text_to_image
        if not cfg.MODEL.MMET.EVAL_TEXT2IMAGE:
            return {}
        return evaluate_text_to_image(cfg, model)

    # -- evaluation features ---------------------------------------------------------------------
    def image_features(self, images):
        h_image = self.backbone.encode_image(self.preprocess_image(images))
        feat = h_image[:, 0] if self.eval_feature == "image" else self.backbone.fuse(h_image)[:, 0]
        return self.heads(feat[..., None, None])

    def text_features(self, input_ids, attention_mask):
        ids, mask = input_ids.to(self.device), attention_mask.to(self.device)
        h_text = self.backbone.encode_text(ids, mask)
        feat = h_text[:, 0] if self.eval_feature == "image" else \
            self.backbone.fuse(None, h_text, mask)[:, 0]
        return self.heads(feat[..., None, None])

    # -- training --------------------------------------------------------------------------------
    def encode(self, batch):
        """Every encoder the batch needs; returns the CLS of each sample (batch order) and the
        hidden states the masked-prediction and matching losses read."""
        modality = batch["modality"].to(self.device)
        has_image, has_text, pair = modality != TEXT, modality != IMAGE, modality == PAIR
        image_row = torch.cumsum(has_image.long(), 0) - 1  # row in batch["images"]
        text_row = torch.cumsum(has_text.long(), 0) - 1  # row in batch["text_ids"]
        enc = {"modality": modality, "image_row": image_row, "text_row": text_row}
        cls_parts, order = [], []
        if has_image.any():
            enc["images"] = self.preprocess_image(batch["images"])
            patch_mask = batch.get("patch_mask")
            enc["patch_mask"] = patch_mask.to(self.device) if patch_mask is not None else None
            masked = patch_mask is not None and bool(patch_mask.any())
            enc["h_image"] = self.backbone.encode_image(enc["images"],
                                                        enc["patch_mask"] if masked else None)
            only = modality == IMAGE
            cls_parts.append(enc["h_image"][image_row[only], 0])
            order.append(torch.nonzero(only).flatten())
        if has_text.any():
            enc["text_ids"] = batch["text_ids"].to(self.device)
            enc["text_mask"] = batch["text_mask"].to(self.device)
            text_input = batch.get("text_input", batch["text_ids"]).to(self.device)
            token_mask = batch.get("token_mask")
            enc["token_mask"] = token_mask.to(self.device) if token_mask is not None else None
            enc["h_text"] = self.backbone.encode_text(text_input, enc["text_mask"])
            only = modality == TEXT
            cls_parts.append(enc["h_text"][text_row[only], 0])
            order.append(torch.nonzero(only).flatten())
        if pair.any():
            enc["pair_image"], enc["pair_text"] = image_row[pair], text_row[pair]
            enc["h_fused"] = self.backbone.fuse(enc["h_image"][enc["pair_image"]],
                                                enc["h_text"][enc["pair_text"]],
                                                enc["text_mask"][enc["pair_text"]])
            cls_parts.append(enc["h_fused"][:, 0])
            order.append(torch.nonzero(pair).flatten())
        enc["cls"] = torch.cat(cls_parts)[torch.argsort(torch.cat(order))]
        return enc

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
            out["mim"] = self.patch_prediction(self.mim_head, enc["h_image"][rows, 1:],
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

    def image_text_matching(self, enc, targets):
        """ITM input of the loss: h_CLS_M of the pairs (label 1) and of each pair's image with a
        caption of another identity (label 0)."""
        pair = enc["modality"] == PAIR
        pids = targets[pair]
        negative = mine_negatives(pids)
        valid = negative >= 0
        positives = enc["h_fused"][:, 0]
        image_rows = enc["pair_image"][valid]
        text_rows = enc["pair_text"][negative[valid]]
        logits = [self.itm_head(positives)]
        if valid.any():
            fused = self.backbone.fuse(enc["h_image"][image_rows], enc["h_text"][text_rows],
                                       enc["text_mask"][text_rows])
            logits.append(self.itm_head(fused[:, 0]))
        labels = torch.cat([torch.ones(len(pids), dtype=torch.long, device=self.device),
                            torch.zeros(int(valid.sum()), dtype=torch.long, device=self.device)])
        return {"logits": torch.cat(logits), "labels": labels,
                "image_targets": torch.cat([pids, pids[valid]]),
                "text_targets": torch.cat([pids, pids[negative[valid]]])}

    def forward(self, batch):
        if not self.training:
            images = batch["images"] if isinstance(batch, dict) else batch
            return self.image_features(images)
        targets = batch["targets"].to(self.device)
        enc = self.encode(batch)
        outputs = self.heads(enc["cls"][..., None, None], targets)
        outputs.update(self.masked_predictions(enc))
        if self.itm_head is not None and "h_fused" in enc:
            outputs["itm"] = self.image_text_matching(enc, targets)
        losses = {}
        for loss_fn in self.loss_fns.values():
            losses.update(loss_fn(outputs, {**batch, "targets": targets}))
        return losses
