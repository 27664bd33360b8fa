"""build_mmet_backbone: MMET's Multi-Modal Equivalent Transformer (MMET §3.2, FLAVA-style).

Three transformer stacks of the same (timm ViT) architecture with their own parameters:

* image encoder: (strided) patch embedding -> [MASK] on masked patches -> [CLS_I] + position ->
  ``blocks`` (MODEL.VIT.DEPTH) -> ``norm``: h_I (B, 1 + Np, D). Its names are timm's, so
  MODEL.BACKBONE.PRETRAIN loads an ImageNet ViT into it (``load_vit_weights``).
* text encoder: token ids -> BERT word embeddings (a learned nn.Embedding over the tokenizer's
  vocabulary; initialised from the MiniLM word embeddings when MODEL.TEXT.TRANSLATOR is set) ->
  projection to D -> [CLS_T] + position -> ``text_blocks`` (MODEL.MMET.TEXT_DEPTH): h_T
  (B, 1 + L, D), position 1 being the tokenizer's own [CLS].
* fusion (multimodal) encoder: [CLS_M] + image_to_fusion(h_I) + text_to_fusion(h_T), text padding
  masked -> ``fusion_blocks`` (MODEL.MMET.FUSION_DEPTH): h_M with h_CLS_M at 0, then the image
  tokens (1 .. 1 + Np + 1), then the text tokens. Either modality may be absent.

Called with an image tensor alone it is an ordinary FastReID backbone: the [CLS_I] feature as
(B, D, 1, 1).
"""
import torch
from fastreid.modeling.backbones.build import BACKBONE_REGISTRY
from timm.layers import trunc_normal_
from timm.models.vision_transformer import init_weights_vit_timm
from torch import nn

from ...data.text import vocabulary_size
from ...errors import ConfigError
from ...utils.hub import downloads_allowed
from ..feature_map import as_feature_map
from .image_translator import build_image_translator, log_translators
from .pretrained import load_vit_weights
from .text_translator import pretrained_word_embeddings
from .vit_parts import (build_blocks, build_patch_embed, build_pre_norm, check_feat_dim,
                        check_text_length, run_blocks, text_padding, vit_kwargs,
                        with_cls_and_positions)


class MMETTransformer(nn.Module):
    def __init__(self, *, img_size, patch_size, stride, embed_dim, depth, num_heads, mlp_ratio,
                 qkv_bias, drop_rate, attn_drop_rate, drop_path_rate, vocab_size, max_text_len,
                 text_depth, fusion_depth, word_embeddings=None, stem="patch", image_translator=None,
                 act_layer="gelu", pre_norm=False):
        super().__init__()
        self.embed_dim = embed_dim
        blocks = dict(embed_dim=embed_dim, num_heads=num_heads, mlp_ratio=mlp_ratio,
                      qkv_bias=qkv_bias, drop_rate=drop_rate, attn_drop_rate=attn_drop_rate,
                      drop_path_rate=drop_path_rate, act_layer=act_layer)
        self.pos_drop = nn.Dropout(drop_rate)
        # image encoder (timm names); a translator (MODEL.IMAGE.TRANSLATOR) replaces the patch
        # embedding, its tokens projected to D
        self.patch_embed = image_translator if image_translator is not None else \
            build_patch_embed(img_size, patch_size, stride, embed_dim, stem)
        self.image_proj = nn.Identity() if image_translator is None else \
            nn.Linear(image_translator.dim, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))  # [CLS_I]
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.patch_embed.num_patches, embed_dim))
        self.mask_token = nn.Parameter(torch.zeros(1, 1, embed_dim))  # [MASK] of a masked patch
        self.norm_pre = build_pre_norm(pre_norm, embed_dim)  # CLIP's ln_pre (MODEL.VIT.PRE_NORM)
        self.blocks = build_blocks(depth, **blocks)
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        # text encoder
        if word_embeddings is None:
            word_embeddings = nn.Embedding(vocab_size, embed_dim)
            nn.init.normal_(word_embeddings.weight, std=0.02)
        self.word_embeddings = word_embeddings
        word_dim = word_embeddings.embedding_dim
        self.text_proj = nn.Linear(word_dim, embed_dim) if word_dim != embed_dim else nn.Identity()
        self.text_cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))  # [CLS_T]
        self.text_pos_embed = nn.Parameter(torch.zeros(1, 1 + max_text_len, embed_dim))
        self.text_blocks = build_blocks(text_depth, **blocks)
        self.text_norm = nn.LayerNorm(embed_dim, eps=1e-6)
        # fusion encoder
        self.image_to_fusion = nn.Linear(embed_dim, embed_dim)
        self.text_to_fusion = nn.Linear(embed_dim, embed_dim)
        self.fusion_cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))  # [CLS_M]
        self.fusion_blocks = build_blocks(fusion_depth, **blocks)
        self.fusion_norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self._init_weights()

    def _init_weights(self):
        for p in (self.cls_token, self.pos_embed, self.mask_token, self.text_cls_token,
                  self.text_pos_embed, self.fusion_cls_token):
            trunc_normal_(p, std=0.02)
        for m in (self.blocks, self.text_blocks, self.fusion_blocks, self.image_to_fusion,
                  self.text_to_fusion, self.text_proj, self.image_proj):
            m.apply(init_weights_vit_timm)

    @property
    def num_patches(self):
        return self.patch_embed.num_patches

    # -- encoders ------------------------------------------------------------------------------------
    def encode_image(self, images, patch_mask=None):
        """h_I (B, 1 + Np, D); ``patch_mask`` (B, Np) bool: those patches enter as [MASK]."""
        if patch_mask is not None:
            images = self.patch_embed.hide_masked_patches(images, patch_mask)
        x = self.image_proj(self.patch_embed(images))
        if patch_mask is not None:
            x = torch.where(patch_mask[..., None].to(x.device), self.mask_token.to(x.dtype), x)
        x = self.norm_pre(with_cls_and_positions(x, self.cls_token, self.pos_embed, self.pos_drop))
        return run_blocks(self.blocks, self.norm, x)

    def encode_text(self, input_ids, attention_mask):
        """h_T (B, 1 + L, D) of token ids (B, L); ``attention_mask`` True on real tokens."""
        check_text_length(input_ids, self.text_pos_embed)
        x = self.text_proj(self.word_embeddings(input_ids))
        x = with_cls_and_positions(x, self.text_cls_token, self.text_pos_embed, self.pos_drop)
        return run_blocks(self.text_blocks, self.text_norm, x, text_padding(attention_mask))

    def fuse(self, h_image=None, h_text=None, text_mask=None):
        """h_M (B, 1 + N_I + N_T, D): [CLS_M], mapped h_I, mapped h_T (``text_mask`` (B, L)
        True on real tokens; its padding is never attended)."""
        if h_image is None and h_text is None:
            raise ValueError("fuse needs h_I, h_T or both")
        batch = (h_image if h_image is not None else h_text).shape[0]
        parts = [self.fusion_cls_token.expand(batch, -1, -1)]
        padding = [torch.zeros(batch, 1, dtype=torch.bool, device=parts[0].device)]
        if h_image is not None:
            parts.append(self.image_to_fusion(h_image))
            padding.append(padding[0].new_zeros(batch, h_image.shape[1]))
        if h_text is not None:
            parts.append(self.text_to_fusion(h_text))
            padding.append(text_padding(text_mask) if text_mask is not None else
                           padding[0].new_zeros(batch, h_text.shape[1]))
        return run_blocks(self.fusion_blocks, self.fusion_norm, torch.cat(parts, 1),
                          torch.cat(padding, 1))

    # -- [cls] features, the names DMFViT has too ---------------------------------------------------
    def forward_image(self, images):
        return self.encode_image(images)[:, 0]

    def forward_text(self, input_ids, attention_mask):
        return self.encode_text(input_ids, attention_mask)[:, 0]

    def forward(self, images):
        return as_feature_map(self.forward_image(images))


@BACKBONE_REGISTRY.register()
def build_mmet_backbone(cfg):
    check_feat_dim(cfg)
    for key in ("TEXT_DEPTH", "FUSION_DEPTH"):
        if getattr(cfg.MODEL.MMET, key) < 1:
            raise ConfigError(f"MODEL.MMET.{key} must be at least 1, "
                              f"got {getattr(cfg.MODEL.MMET, key)}")
    vocab_size = vocabulary_size(cfg)
    words = pretrained_word_embeddings(cfg, vocab_size) if cfg.MODEL.TEXT.TRANSLATOR else None
    image_translator = build_image_translator(cfg)
    model = MMETTransformer(vocab_size=vocab_size, max_text_len=cfg.MODEL.TEXT.MAX_LENGTH,
                            text_depth=cfg.MODEL.MMET.TEXT_DEPTH,
                            fusion_depth=cfg.MODEL.MMET.FUSION_DEPTH, word_embeddings=words,
                            image_translator=image_translator, **vit_kwargs(cfg, image_translator))
    log_translators(image_translator, model.word_embeddings)
    if cfg.MODEL.BACKBONE.PRETRAIN:  # the image encoder; text and fusion start from scratch
        load_vit_weights(model, cfg.MODEL.BACKBONE.PRETRAIN_PATH, allow_download=downloads_allowed(cfg))
    return model
