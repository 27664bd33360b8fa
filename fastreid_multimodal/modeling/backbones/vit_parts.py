"""What the DMF and MMET backbones share: their ViT settings, the overlapping patch embedding,
stacks of timm blocks and the way token sequences enter and run through them."""
import logging

import torch
from timm.layers import PatchEmbed, get_act_layer
from timm.models.vision_transformer import Block
from torch import nn

from ...errors import ConfigError

logger = logging.getLogger("fastreid.multimodal")

# FastReID's build_vit_backbone reads MODEL.BACKBONE.DEPTH as a size name (768-d tokens)
FASTREID_VIT_SIZES = {"small": dict(depth=8, num_heads=8, mlp_ratio=3.0, qkv_bias=False),
                      "base": dict(depth=12, num_heads=12, mlp_ratio=4.0, qkv_bias=True)}
DEFAULT_VIT_SIZE = dict(depth=12, num_heads=12, mlp_ratio=4.0, qkv_bias=True)  # MODEL.VIT defaults
ACT_LAYERS = ("gelu", "quick_gelu")  # MODEL.VIT.ACT_LAYER: timm's names


class StridedPatchEmbed(PatchEmbed):
    """timm's PatchEmbed with a stride (TransReID's overlapping 16x16 patches at stride 12)."""

    def __init__(self, img_size, patch_size, stride, in_chans=3, embed_dim=768):
        super().__init__(img_size=img_size, patch_size=patch_size, in_chans=in_chans,
                         embed_dim=embed_dim)
        self.stride = (stride, stride) if isinstance(stride, int) else tuple(stride)
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=self.patch_size, stride=self.stride)
        self.grid_size = tuple((s - p) // st + 1 for s, p, st in
                               zip(self.img_size, self.patch_size, self.stride))
        self.num_patches = self.grid_size[0] * self.grid_size[1]

    def hide_masked_patches(self, images, patch_mask):
        """Each token sees only its own window, and the masked ones are replaced by [MASK]
        (with stride < patch, as TransReID, neighbours keep seeing a strip of a masked patch)."""
        return images


def zero_masked_patches(images, patch_mask, grid_size, patch_size):
    """``images`` with the pixels of the masked patches (B, Np) of a non-overlapping grid set to 0,
    the mean colour after normalisation."""
    rows, cols = grid_size
    keep = (~patch_mask.to(images.device)).view(-1, 1, rows, cols).to(images.dtype)
    keep = keep.repeat_interleave(patch_size[0], 2).repeat_interleave(patch_size[1], 3)
    return images * keep


class ConvStemPatchEmbed(nn.Module):
    """Patch tokens from a convolutional stem (Xiao et al. 2021, "Early convolutions help
    transformers see better"): 3x3 stride-2 conv + BN + ReLU layers, channels doubling up to D,
    until the patch grid, then a 1x1 projection. A ViT trained from scratch on a few thousand
    images learns much faster with it than with the one-conv patchify stem."""

    def __init__(self, img_size, patch_size, embed_dim=768, in_chans=3):
        super().__init__()
        self.img_size = tuple(img_size)
        self.patch_size = self.stride = (patch_size, patch_size)  # patches do not overlap
        self.grid_size = tuple(s // patch_size for s in self.img_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        halvings = patch_size.bit_length() - 1
        layers, channels = [], in_chans
        for i in range(halvings):
            out = max(embed_dim >> (halvings - 1 - i), 8)
            layers += [nn.Conv2d(channels, out, 3, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            channels = out
        self.stem = nn.Sequential(*layers)
        self.proj = nn.Conv2d(channels, embed_dim, kernel_size=1)

    def hide_masked_patches(self, images, patch_mask):
        """``images`` with the pixels of the masked patches (B, Np) set to 0, the mean colour after
        normalisation: the 3x3 convolutions would carry a masked patch into the next patch's token
        (receptive field 31 pixels), and MIM / MMM would copy it from there."""
        return zero_masked_patches(images, patch_mask, self.grid_size, self.patch_size)

    def forward(self, x):
        x = self.proj(self.stem(x))  # (B, D, H / p, W / p)
        return x.flatten(2).transpose(1, 2)


STEMS = ("patch", "conv")


def build_patch_embed(img_size, patch_size, stride, embed_dim, stem="patch"):
    """MODEL.VIT.STEM: patch (one conv of the patch size at the stride, ViT / TransReID) or conv."""
    if stem == "patch":
        return StridedPatchEmbed(img_size, patch_size, stride, 3, embed_dim)
    return ConvStemPatchEmbed(img_size, patch_size, embed_dim)


def check_stem(cfg, patch, strides):
    stem = str(cfg.MODEL.VIT.STEM)
    if stem not in STEMS:
        raise ConfigError(f"MODEL.VIT.STEM must be one of {list(STEMS)}, got {stem!r}")
    if stem == "conv":
        if patch < 2 or patch & (patch - 1):
            raise ConfigError(f"MODEL.VIT.STEM conv halves the image per layer: MODEL.VIT.PATCH_SIZE "
                              f"must be a power of 2, got {patch}")
        if any(s != patch for s in strides):
            raise ConfigError(f"MODEL.VIT.STEM conv makes non-overlapping patches: "
                              f"MODEL.BACKBONE.STRIDE_SIZE must equal MODEL.VIT.PATCH_SIZE "
                              f"({patch}), got {list(strides)}")
        for key, size in (("INPUT.SIZE_TRAIN", cfg.INPUT.SIZE_TRAIN),
                          ("INPUT.SIZE_TEST", cfg.INPUT.SIZE_TEST)):
            if any(s % patch for s in size):
                raise ConfigError(f"MODEL.VIT.STEM conv: {key} {list(size)} must be a multiple of "
                                  f"MODEL.VIT.PATCH_SIZE {patch}")
    return stem


def check_input_sizes(cfg, patch, strides):
    """Images must cover a patch; pixels beyond the last stride are lost, which is said once."""
    for key, size in (("INPUT.SIZE_TRAIN", cfg.INPUT.SIZE_TRAIN), ("INPUT.SIZE_TEST", cfg.INPUT.SIZE_TEST)):
        if any(s < patch for s in size):
            raise ConfigError(f"{key} {list(size)} is smaller than MODEL.VIT.PATCH_SIZE {patch}")
        dropped = [(s - patch) % st for s, st in zip(size, strides)]
        if any(dropped):  # TransReID's 256x128 at stride 12 drops 4 columns
            logger.warning("%s %s at MODEL.VIT.PATCH_SIZE %d, MODEL.BACKBONE.STRIDE_SIZE %s: the "
                           "last %d rows and %d columns of every image fall outside the patch "
                           "grid and are not seen", key, list(size), patch, list(strides), *dropped)


def check_feat_dim(cfg):
    if cfg.MODEL.BACKBONE.FEAT_DIM != cfg.MODEL.VIT.EMBED_DIM:
        raise ConfigError(f"MODEL.BACKBONE.FEAT_DIM ({cfg.MODEL.BACKBONE.FEAT_DIM}) must equal "
                          f"MODEL.VIT.EMBED_DIM ({cfg.MODEL.VIT.EMBED_DIM}): the head reads the "
                          "[cls] feature (set both; FastReID's ResNet configs use FEAT_DIM 2048)")


def vit_kwargs(cfg, image_translator=None):
    """The ViT size and regularisation keys of a config, checked (the patch stem's only when no
    image translator makes the patch tokens)."""
    stride = cfg.MODEL.BACKBONE.STRIDE_SIZE
    strides = tuple(stride) if isinstance(stride, (list, tuple)) else (stride, stride)
    if image_translator is None:
        check_input_sizes(cfg, cfg.MODEL.VIT.PATCH_SIZE, strides)
        stem = check_stem(cfg, cfg.MODEL.VIT.PATCH_SIZE, strides)
    elif str(cfg.MODEL.VIT.STEM) != "patch":
        raise ConfigError(f"MODEL.VIT.STEM {cfg.MODEL.VIT.STEM} and MODEL.IMAGE.TRANSLATOR "
                          f"'{cfg.MODEL.IMAGE.TRANSLATOR}' both make the patch tokens: keep one "
                          "(STEM patch with a translator)")
    else:
        stem = "patch"
    size = dict(depth=cfg.MODEL.VIT.DEPTH, num_heads=cfg.MODEL.VIT.NUM_HEADS,
                mlp_ratio=cfg.MODEL.VIT.MLP_RATIO, qkv_bias=cfg.MODEL.VIT.QKV_BIAS)
    fastreid_size = FASTREID_VIT_SIZES.get(str(cfg.MODEL.BACKBONE.DEPTH))
    if fastreid_size is not None:
        if size != DEFAULT_VIT_SIZE:
            raise ConfigError(f"MODEL.BACKBONE.DEPTH '{cfg.MODEL.BACKBONE.DEPTH}' (FastReID's ViT "
                              "size) and MODEL.VIT.DEPTH / NUM_HEADS / MLP_RATIO / QKV_BIAS both set "
                              "the ViT's size: keep one")
        size = fastreid_size  # a FastReID ViT config: its DEPTH names the size
    act_layer = str(cfg.MODEL.VIT.ACT_LAYER)
    if act_layer not in ACT_LAYERS:
        raise ConfigError(f"MODEL.VIT.ACT_LAYER must be one of {list(ACT_LAYERS)}, got {act_layer!r}")
    return dict(
        img_size=tuple(cfg.INPUT.SIZE_TRAIN), patch_size=cfg.MODEL.VIT.PATCH_SIZE,
        stride=strides, stem=stem, embed_dim=cfg.MODEL.VIT.EMBED_DIM, **size,
        drop_rate=cfg.MODEL.BACKBONE.DROP_RATIO,
        attn_drop_rate=cfg.MODEL.BACKBONE.ATT_DROP_RATE,
        drop_path_rate=cfg.MODEL.BACKBONE.DROP_PATH_RATIO,
        act_layer=act_layer, pre_norm=bool(cfg.MODEL.VIT.PRE_NORM))


def build_pre_norm(pre_norm, embed_dim):
    """CLIP's ln_pre under timm's name (``norm_pre``), or nothing; eps as CLIP's."""
    return nn.LayerNorm(embed_dim, eps=1e-5) if pre_norm else nn.Identity()


def build_blocks(depth, embed_dim, num_heads, mlp_ratio, qkv_bias, drop_rate, attn_drop_rate,
                 drop_path_rate, act_layer="gelu"):
    """``depth`` timm blocks, stochastic depth rising linearly to ``drop_path_rate``."""
    dpr = torch.linspace(0, drop_path_rate, depth).tolist()
    act = get_act_layer(act_layer)
    return nn.ModuleList([
        Block(embed_dim, num_heads, mlp_ratio, qkv_bias=qkv_bias, proj_drop=drop_rate,
              attn_drop=attn_drop_rate, drop_path=dpr[i], act_layer=act) for i in range(depth)])


def check_text_length(input_ids, pos_embed):
    length = input_ids.shape[1]
    if length + 1 > pos_embed.shape[1]:
        raise ValueError(f"text batch of {length} tokens exceeds MODEL.TEXT.MAX_LENGTH="
                         f"{pos_embed.shape[1] - 1}")


def with_cls_and_positions(x, cls_token, pos_embed, dropout):
    """[cls] then the tokens ``x`` (B, N, D), plus the first 1 + N position embeddings."""
    x = torch.cat([cls_token.expand(x.shape[0], -1, -1), x], dim=1)
    return dropout(x + pos_embed[:, :x.shape[1]])


def text_padding(attention_mask):
    """Key padding of a [cls] + text sequence: [cls] is real, then ``~attention_mask``."""
    return torch.cat([attention_mask.new_zeros(attention_mask.shape[0], 1, dtype=torch.bool),
                      ~attention_mask.bool()], dim=1)


def padding_bias(key_padding, dtype, skip_if_empty=None):
    """The additive attention mask (B, 1, 1, N) of ``key_padding``, or None. An all-False padding
    changes nothing but the attention kernel: on the CPU (``skip_if_empty`` default) it gives None,
    so the CPU tables' numbers stay as they were; on a GPU the mask is always built rather than
    wait on .any() (a host synchronisation)."""
    if key_padding is None:
        return None
    if skip_if_empty is None:
        skip_if_empty = key_padding.device.type == "cpu"
    if skip_if_empty and not key_padding.any():
        return None
    mask = torch.zeros(key_padding.shape, dtype=dtype, device=key_padding.device)
    return mask.masked_fill(key_padding, float("-inf"))[:, None, None, :]


def run_blocks(blocks, norm, x, key_padding=None):
    """Blocks then norm; ``key_padding`` (B, N) bool marks tokens nobody may attend to."""
    mask = padding_bias(key_padding, x.dtype)
    for block in blocks:
        x = block(x, attn_mask=mask)
    return norm(x)
