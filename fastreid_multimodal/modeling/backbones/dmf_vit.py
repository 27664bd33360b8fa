"""build_dmf_vit_backbone: DMF's multimodal ViT (DMF §3, Eq. 3-5).

Each modality has its own input path: image -> (strided) patch embedding -> projection F ->
[v_cls] + p_i; text -> tokenizer ids -> translator (learned embedding or a pre-trained text model)
-> projection L -> [t_cls] + p_t. Both then run through ONE shared stack of timm transformer
blocks; the [cls] output (after the final norm) is the feature. Called with an image tensor alone it
is an ordinary FastReID backbone returning (B, D, 1, 1).
"""
import logging

import torch
from fastreid.modeling.backbones.build import BACKBONE_REGISTRY
from timm.layers import trunc_normal_
from timm.models.vision_transformer import Block
from torch import nn

from ...data.text import text_tokenizer
from ...errors import ConfigError
from ...pretrained import downloads_allowed
from .text_path import build_text_translator
from .vit_parts import StridedPatchEmbed, load_vit_weights

logger = logging.getLogger("fastreid.multimodal")


class DMFViT(nn.Module):
    def __init__(self, *, img_size, patch_size, stride, embed_dim, depth, num_heads, mlp_ratio,
                 qkv_bias, drop_rate, attn_drop_rate, drop_path_rate, text_translator,
                 max_text_len):
        super().__init__()
        self.embed_dim = embed_dim
        # image path
        self.patch_embed = StridedPatchEmbed(img_size, patch_size, stride, 3, embed_dim)
        self.image_proj = nn.Linear(embed_dim, embed_dim)  # F
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))  # v_cls
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.patch_embed.num_patches, embed_dim))
        # text path (left out of an image-only backbone: MODEL.TEXT.PATH)
        self.text_translator = text_translator
        if text_translator is not None:
            self.text_proj = nn.Linear(text_translator.dim, embed_dim)  # L
            self.text_cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))  # t_cls
            self.text_pos_embed = nn.Parameter(torch.zeros(1, 1 + max_text_len, embed_dim))
        # shared encoder
        self.pos_drop = nn.Dropout(drop_rate)
        dpr = torch.linspace(0, drop_path_rate, depth).tolist()
        self.blocks = nn.ModuleList([
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias=qkv_bias, proj_drop=drop_rate,
                  attn_drop=attn_drop_rate, drop_path=dpr[i]) for i in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self._init_weights()

    def _init_weights(self):
        for p in (self.pos_embed, self.cls_token):
            trunc_normal_(p, std=0.02)
        for m in self.blocks.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias) if m.bias is not None else None
        # F starts as the identity so pre-trained patch embeddings reach the blocks unchanged
        nn.init.eye_(self.image_proj.weight)
        nn.init.zeros_(self.image_proj.bias)
        if self.text_translator is not None:
            trunc_normal_(self.text_pos_embed, std=0.02)
            trunc_normal_(self.text_cls_token, std=0.02)
            trunc_normal_(self.text_proj.weight, std=0.02)
            nn.init.zeros_(self.text_proj.bias)

    # -- token sequences ---------------------------------------------------------------------------
    def image_tokens(self, images):
        x = self.image_proj(self.patch_embed(images))
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.pos_drop(x + self.pos_embed)

    def text_tokens(self, input_ids, attention_mask):
        if self.text_translator is None:
            raise ConfigError("this backbone was built without its text path (MODEL.TEXT.PATH off, "
                              "or auto with a META_ARCHITECTURE other than DMF): set "
                              "MODEL.TEXT.PATH on to train on captions")
        length = input_ids.shape[1]
        if length + 1 > self.text_pos_embed.shape[1]:
            raise ValueError(f"text batch of {length} tokens exceeds MODEL.TEXT.MAX_LENGTH="
                             f"{self.text_pos_embed.shape[1] - 1}")
        x = self.text_proj(self.text_translator(input_ids, attention_mask))
        x = torch.cat([self.text_cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.pos_drop(x + self.text_pos_embed[:, :length + 1])

    def encode(self, x, key_padding=None):
        """Shared blocks; ``key_padding`` (B, N) bool marks tokens nobody may attend to."""
        mask = None
        if key_padding is not None and key_padding.any():
            mask = torch.zeros(key_padding.shape, dtype=x.dtype, device=x.device)
            mask = mask.masked_fill(key_padding, float("-inf"))[:, None, None, :]
        for block in self.blocks:
            x = block(x, attn_mask=mask)
        return self.norm(x)

    # -- features ------------------------------------------------------------------------------------
    def forward_image(self, images):
        return self.encode(self.image_tokens(images))[:, 0]

    def forward_text(self, input_ids, attention_mask):
        x = self.text_tokens(input_ids, attention_mask)
        padding = torch.cat([attention_mask.new_zeros(attention_mask.shape[0], 1),
                             ~attention_mask.bool()], dim=1)
        return self.encode(x, padding)[:, 0]

    def forward(self, images):
        return self.forward_image(images)[..., None, None]


# FastReID's build_vit_backbone reads MODEL.BACKBONE.DEPTH as a size name (768-d tokens)
FASTREID_VIT_SIZES = {"small": dict(depth=8, num_heads=8, mlp_ratio=3.0, qkv_bias=False),
                      "base": dict(depth=12, num_heads=12, mlp_ratio=4.0, qkv_bias=True)}
DEFAULT_VIT_SIZE = dict(depth=12, num_heads=12, mlp_ratio=4.0, qkv_bias=True)  # MODEL.VIT defaults


def vit_kwargs(cfg):
    """The ViT size and regularisation keys shared by the DMF and MMET backbones."""
    stride = cfg.MODEL.BACKBONE.STRIDE_SIZE
    strides = tuple(stride) if isinstance(stride, (list, tuple)) else (stride, stride)
    patch = cfg.MODEL.VIT.PATCH_SIZE
    for key, size in (("INPUT.SIZE_TRAIN", cfg.INPUT.SIZE_TRAIN), ("INPUT.SIZE_TEST", cfg.INPUT.SIZE_TEST)):
        if any(s < patch for s in size):
            raise ConfigError(f"{key} {list(size)} is smaller than MODEL.VIT.PATCH_SIZE {patch}")
        dropped = [(s - patch) % st for s, st in zip(size, strides)]
        if any(dropped):  # TransReID's 256x128 at stride 12 drops 4 columns: say so, once
            logger.warning("%s %s at MODEL.VIT.PATCH_SIZE %d, MODEL.BACKBONE.STRIDE_SIZE %s: the "
                           "last %d rows and %d columns of every image fall outside the patch "
                           "grid and are not seen", key, list(size), patch, list(strides), *dropped)
    size = dict(depth=cfg.MODEL.VIT.DEPTH, num_heads=cfg.MODEL.VIT.NUM_HEADS,
                mlp_ratio=cfg.MODEL.VIT.MLP_RATIO, qkv_bias=cfg.MODEL.VIT.QKV_BIAS)
    fastreid_size = FASTREID_VIT_SIZES.get(str(cfg.MODEL.BACKBONE.DEPTH))
    if fastreid_size is not None:
        if size != DEFAULT_VIT_SIZE:
            raise ConfigError(f"MODEL.BACKBONE.DEPTH '{cfg.MODEL.BACKBONE.DEPTH}' (FastReID's ViT "
                              "size) and MODEL.VIT.DEPTH / NUM_HEADS / MLP_RATIO / QKV_BIAS both set "
                              "the ViT's size: keep one")
        size = fastreid_size  # a FastReID ViT config: its DEPTH names the size
    return dict(
        img_size=tuple(cfg.INPUT.SIZE_TRAIN), patch_size=cfg.MODEL.VIT.PATCH_SIZE,
        stride=strides, embed_dim=cfg.MODEL.VIT.EMBED_DIM, **size,
        drop_rate=cfg.MODEL.BACKBONE.DROP_RATIO,
        attn_drop_rate=cfg.MODEL.BACKBONE.ATT_DROP_RATE,
        drop_path_rate=cfg.MODEL.BACKBONE.DROP_PATH_RATIO)


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
    if cfg.MODEL.BACKBONE.FEAT_DIM != cfg.MODEL.VIT.EMBED_DIM:
        raise ConfigError(f"MODEL.BACKBONE.FEAT_DIM ({cfg.MODEL.BACKBONE.FEAT_DIM}) must equal "
                          f"MODEL.VIT.EMBED_DIM ({cfg.MODEL.VIT.EMBED_DIM}): the head reads the "
                          "[cls] feature (set both; FastReID's ResNet configs use FEAT_DIM 2048)")
    translator = None
    if builds_text_path(cfg):
        translator = build_text_translator(cfg, len(text_tokenizer(cfg)), cfg.MODEL.VIT.EMBED_DIM)
    model = DMFViT(text_translator=translator, max_text_len=cfg.MODEL.TEXT.MAX_LENGTH,
                   **vit_kwargs(cfg))
    if cfg.MODEL.BACKBONE.PRETRAIN:
        load_vit_weights(model, cfg.MODEL.BACKBONE.PRETRAIN_PATH,
                         allow_download=downloads_allowed(cfg))
    return model
