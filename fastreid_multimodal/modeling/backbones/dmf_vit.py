"""build_dmf_vit_backbone: DMF's multimodal ViT (DMF §3, Eq. 3-5).

Each modality has its own input path: image -> translator (a pre-trained CNN's feature map at the
patch stride, MODEL.IMAGE.TRANSLATOR) or (strided) patch embedding -> projection F ->
[v_cls] + p_i; text -> tokenizer ids -> translator (learned embedding or a pre-trained text model)
-> projection L -> [t_cls] + p_t. Both then run through ONE shared stack of timm transformer
blocks; the [cls] output (after the final norm) is the feature. Called with an image tensor alone it
is an ordinary FastReID backbone returning (B, D, 1, 1).
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
from .text_translator import build_text_translator
from .vit_parts import (build_blocks, build_patch_embed, build_pre_norm, check_feat_dim,
                        check_text_length, run_blocks, text_padding, vit_kwargs,
                        with_cls_and_positions)


class DMFViT(nn.Module):
    def __init__(self, *, img_size, patch_size, stride, embed_dim, depth, num_heads, mlp_ratio,
                 qkv_bias, drop_rate, attn_drop_rate, drop_path_rate, text_translator,
                 max_text_len, stem="patch", image_translator=None, act_layer="gelu", pre_norm=False):
        super().__init__()
        self.embed_dim = embed_dim
        # image path: the translator (Image2vec, Eq. 3) keeps the patch embedding's name and interface
        self.patch_embed = image_translator if image_translator is not None else \
            build_patch_embed(img_size, patch_size, stride, embed_dim, stem)
        self.image_proj = nn.Linear(getattr(image_translator, "dim", embed_dim), embed_dim)  # F
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))  # v_cls
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.patch_embed.num_patches, embed_dim))
        self.norm_pre = build_pre_norm(pre_norm, embed_dim)  # image path only: CLIP's text tower has none
        # text path (left out of an image-only backbone: MODEL.TEXT.PATH)
        self.text_translator = text_translator
        if text_translator is not None:
            self.text_proj = nn.Linear(text_translator.dim, embed_dim)  # L
            self.text_cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))  # t_cls
            self.text_pos_embed = nn.Parameter(torch.zeros(1, 1 + max_text_len, embed_dim))
        # shared encoder
        self.pos_drop = nn.Dropout(drop_rate)
        self.blocks = build_blocks(depth, embed_dim, num_heads, mlp_ratio, qkv_bias, drop_rate,
                                   attn_drop_rate, drop_path_rate, act_layer)
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self._init_weights()

    def _init_weights(self):
        for p in (self.pos_embed, self.cls_token):
            trunc_normal_(p, std=0.02)
        self.blocks.apply(init_weights_vit_timm)
        # F starts as the identity so pre-trained patch embeddings reach the blocks unchanged
        if self.image_proj.in_features == self.image_proj.out_features:
            nn.init.eye_(self.image_proj.weight)
        else:  # from a translator's width
            trunc_normal_(self.image_proj.weight, std=0.02)
        nn.init.zeros_(self.image_proj.bias)
        if self.text_translator is not None:
            trunc_normal_(self.text_pos_embed, std=0.02)
            trunc_normal_(self.text_cls_token, std=0.02)
            trunc_normal_(self.text_proj.weight, std=0.02)
            nn.init.zeros_(self.text_proj.bias)

    # -- token sequences ---------------------------------------------------------------------------
    def image_tokens(self, images):
        x = self.image_proj(self.patch_embed(images))
        return self.norm_pre(with_cls_and_positions(x, self.cls_token, self.pos_embed, self.pos_drop))

    def text_tokens(self, input_ids, attention_mask):
        if self.text_translator is None:
            raise ConfigError("this backbone was built without its text path (MODEL.TEXT.PATH off, "
                              "or auto with a META_ARCHITECTURE other than DMF): set "
                              "MODEL.TEXT.PATH on to train on captions")
        check_text_length(input_ids, self.text_pos_embed)
        x = self.text_proj(self.text_translator(input_ids, attention_mask))
        return with_cls_and_positions(x, self.text_cls_token, self.text_pos_embed, self.pos_drop)

    def modality_parameters(self, modality):
        """The parameters only ``modality`` ("image" or "text") passes through."""
        if modality == "image":
            parts = (self.patch_embed, self.image_proj, self.norm_pre, self.cls_token, self.pos_embed)
        elif self.text_translator is None:
            return []
        else:
            parts = (self.text_translator, self.text_proj, self.text_cls_token, self.text_pos_embed)
        return [p for part in parts
                for p in ([part] if isinstance(part, nn.Parameter) else part.parameters())]

    # -- features: both modalities through the same blocks --------------------------------------------
    def forward_image(self, images):
        return run_blocks(self.blocks, self.norm, self.image_tokens(images))[:, 0]

    def forward_text(self, input_ids, attention_mask):
        x = self.text_tokens(input_ids, attention_mask)
        return run_blocks(self.blocks, self.norm, x, text_padding(attention_mask))[:, 0]

    def forward(self, images):
        return as_feature_map(self.forward_image(images))


TEXT_PATHS = ("auto", "on", "off")


def builds_text_path(cfg):
    """MODEL.TEXT.PATH: on / off, or auto = built for META_ARCHITECTURE DMF (which trains on
    captions), left out elsewhere (an image-only Baseline does not carry it)."""
    mode = str(cfg.MODEL.TEXT.PATH)
    if mode not in TEXT_PATHS:
        raise ConfigError(f"MODEL.TEXT.PATH must be one of {list(TEXT_PATHS)}, got {mode!r}")
    return mode == "on" or (mode == "auto" and cfg.MODEL.META_ARCHITECTURE == "DMF")


@BACKBONE_REGISTRY.register()
def build_dmf_vit_backbone(cfg):
    check_feat_dim(cfg)
    translator = None
    if builds_text_path(cfg):
        translator = build_text_translator(cfg, vocabulary_size(cfg), cfg.MODEL.VIT.EMBED_DIM)
    image_translator = build_image_translator(cfg)
    model = DMFViT(text_translator=translator, max_text_len=cfg.MODEL.TEXT.MAX_LENGTH,
                   image_translator=image_translator, **vit_kwargs(cfg, image_translator))
    log_translators(image_translator, translator)
    if cfg.MODEL.BACKBONE.PRETRAIN:
        load_vit_weights(model, cfg.MODEL.BACKBONE.PRETRAIN_PATH,
                         allow_download=downloads_allowed(cfg))
    return model
