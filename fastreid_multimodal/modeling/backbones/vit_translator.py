"""A pre-trained ViT as image translator (MODEL.IMAGE.TRANSLATOR = a timm/DeiT ViT or CLIP
image-tower weight file, or a cached timm ViT name): its patch tokens, after its blocks and final
norm, are the translator's feature map, one token per patch of the config's grid.

The architecture is read from the weights: width (patch kernel), depth (blocks), MLP width, qkv
bias, CLIP's pre-norm; heads = width / 64, as in every CLIP, DeiT and timm ViT size. The patch
kernel is resampled to MODEL.VIT.PATCH_SIZE and the position embedding to the config's grid
(``checkpoint_filter_fn``). It is wrapped as any translator (``CNNImageTranslator``): the same
re-normalisation of the config's pixels, freezing and patch masking.
"""
import logging
import os

import torch
from timm.data.constants import (IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD,
                                 IMAGENET_INCEPTION_MEAN, IMAGENET_INCEPTION_STD, OPENAI_CLIP_MEAN,
                                 OPENAI_CLIP_STD)
from torch import nn

from ...errors import ConfigError
from .pretrained import (block_index, checkpoint_filter_fn, clip_tower_prefix, from_clip_names,
                         log_filtering, read_checkpoint, timm_hub_id, unwrapped_tensors)
from .vit_parts import (ACT_LAYERS, StridedPatchEmbed, build_blocks, build_pre_norm, run_blocks,
                        with_cls_and_positions)

logger = logging.getLogger("fastreid.multimodal")

HEAD_WIDTH = 64
VIT_NORMS = {"imagenet": (IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD),
             "inception": (IMAGENET_INCEPTION_MEAN, IMAGENET_INCEPTION_STD),
             "clip": (OPENAI_CLIP_MEAN, OPENAI_CLIP_STD)}  # MODEL.IMAGE.VIT_NORM


class ViTFeatures(nn.Module):
    """A plain ViT under timm's names whose output is its patch tokens as a (B, D, rows, cols) map."""

    def __init__(self, *, img_size, patch_size, embed_dim, depth, num_heads, mlp_ratio, qkv_bias,
                 pre_norm, act_layer, norm_eps):
        super().__init__()
        self.patch_embed = StridedPatchEmbed(img_size, patch_size, patch_size, 3, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.patch_embed.num_patches, embed_dim))
        self.pos_drop = nn.Identity()  # a pre-trained translator has no dropout
        self.norm_pre = build_pre_norm(pre_norm, embed_dim)
        self.blocks = build_blocks(depth, embed_dim, num_heads, mlp_ratio, qkv_bias, 0.0, 0.0, 0.0,
                                   act_layer)
        self.norm = nn.LayerNorm(embed_dim, eps=norm_eps)

    def forward(self, images):
        x = with_cls_and_positions(self.patch_embed(images), self.cls_token, self.pos_embed,
                                   self.pos_drop)
        x = run_blocks(self.blocks, self.norm, self.norm_pre(x))[:, 1:]
        rows, cols = self.patch_embed.grid_size
        return x.transpose(1, 2).reshape(x.shape[0], -1, rows, cols)


def vit_architecture(tensors):
    """ViTFeatures' size arguments read from timm-named tensors, or None when they are no ViT."""
    kernel, qkv = tensors.get("patch_embed.proj.weight"), tensors.get("blocks.0.attn.qkv.weight")
    fc1 = tensors.get("blocks.0.mlp.fc1.weight")
    if kernel is None or qkv is None or fc1 is None or kernel.dim() != 4:
        return None
    width = kernel.shape[0]
    return dict(embed_dim=width, depth=1 + max(block_index(n) for n in tensors),
                num_heads=max(1, width // HEAD_WIDTH), mlp_ratio=fc1.shape[0] / width,
                qkv_bias="blocks.0.attn.qkv.bias" in tensors, pre_norm="norm_pre.weight" in tensors)


def vit_weights(name, key, allow_download=False):
    """(tensors under timm names, CLIP layout or not) when ``name`` is a ViT / CLIP weight file or a
    cached timm ViT; None for anything else (a MobileNetV2 file, a timm CNN)."""
    if not os.path.isfile(name) and timm_hub_id(name) is None:
        return None
    original = unwrapped_tensors(read_checkpoint(name, key, allow_download))
    tensors = from_clip_names(original)
    if vit_architecture(tensors) is None:
        return None
    return tensors, clip_tower_prefix(original) is not None


def choose(value, auto, allowed, key):
    value = str(value)
    if value == "auto":
        return auto
    if value not in allowed:
        raise ConfigError(f"{key} must be auto or one of {list(allowed)}, got {value!r}")
    return value


def vit_translator(tensors, clip, *, name, stride, img_size, act_layer="auto", norm="auto",
                   key="MODEL.IMAGE.TRANSLATOR", **kwargs):
    """A CNNImageTranslator around the ViT ``tensors`` describe, every tensor of it loaded."""
    from .image_translator import CNNImageTranslator
    arch = vit_architecture(tensors)
    if arch["embed_dim"] % HEAD_WIDTH:
        raise ConfigError(f"{key}: '{name}' is {arch['embed_dim']}-d, not a multiple of the "
                          f"{HEAD_WIDTH}-d heads of every CLIP/DeiT/timm ViT")
    act = choose(act_layer, "quick_gelu" if clip else "gelu", ACT_LAYERS, "MODEL.IMAGE.VIT_ACT_LAYER")
    if norm == "auto" and not clip and timm_hub_id(name) is not None:
        from timm.models import get_pretrained_cfg
        timm_cfg = get_pretrained_cfg(name)
        mean, std = tuple(timm_cfg.mean), tuple(timm_cfg.std)
    else:
        mean, std = VIT_NORMS[choose(norm, "clip" if clip else "imagenet", VIT_NORMS,
                                     "MODEL.IMAGE.VIT_NORM")]
    network = ViTFeatures(img_size=img_size, patch_size=stride, act_layer=act,
                          norm_eps=1e-5 if clip else 1e-6, **arch)
    loaded = checkpoint_filter_fn(tensors, network)
    log_filtering(name, tensors, loaded, network)
    missing = sorted(set(network.state_dict()) - set(loaded))
    if missing:
        raise ConfigError(f"{key}: '{name}' does not give every tensor of its ViT ({len(missing)} "
                          f"missing: {', '.join(missing[:4])})")
    network.load_state_dict(loaded)
    logger.info("ViT translator %s: %d blocks of %d-d, %s, pixels re-normalised to mean %s std %s",
                name, arch["depth"], arch["embed_dim"], act, mean, std)
    return CNNImageTranslator(network, name=name, stride=stride, img_size=img_size,
                              dim=arch["embed_dim"], network_mean=mean, network_std=std, **kwargs)
