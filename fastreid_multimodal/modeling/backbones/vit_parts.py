"""Pieces the ViT backbones share: an overlapping patch embedding and ViT weight loading."""
import logging

import torch
from timm.layers import PatchEmbed, resample_abs_pos_embed, resample_patch_embed
from torch import nn

from ...errors import ConfigError
from ...pretrained import resolve_vit_weights
from ...utils.safe_load import load_weights

logger = logging.getLogger("fastreid.multimodal")


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


def read_state_dict(path, key, allow_download=False):
    """The tensors of a local checkpoint or a cached timm model's weights (timm / TransReID /
    FastReID style wrappers unwrapped). Weights are data: never unpickled as code."""
    if not path:
        raise ConfigError(f"MODEL.BACKBONE.PRETRAIN is True but {key} is empty: give a local "
                          "ImageNet/data2vec ViT checkpoint (timm key names) or a cached timm "
                          f"name, e.g. {key} vit_base_patch16_224.augreg2_in21k_ft_in1k, or train "
                          "from scratch with MODEL.BACKBONE.PRETRAIN False")
    path = resolve_vit_weights(path, key, allow_download)
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file
        state = load_file(path)
    else:
        state = load_weights(path, key)
    for wrapper in ("model", "state_dict", "module"):
        if isinstance(state, dict) and wrapper in state and isinstance(state[wrapper], dict):
            state = state[wrapper]
    clean = {}
    for name, value in state.items():
        if not torch.is_tensor(value):
            continue
        for prefix in ("module.", "backbone.", "base."):
            if name.startswith(prefix):
                name = name[len(prefix):]
        clean[name] = value
    return clean


def load_vit_weights(model, path, key="MODEL.BACKBONE.PRETRAIN_PATH", allow_download=False):
    """Load ImageNet/data2vec-style ViT weights (timm key names) into ``model``.

    The position embedding is resampled to the model's patch grid (e.g. 14x14 -> 21x10 for 256x128
    at stride 12) and the patch kernel to its patch size; classifier heads are dropped."""
    state = read_state_dict(path, key, allow_download)
    own = model.state_dict()
    loaded = {}
    for name, value in state.items():
        if name.startswith(("head.", "fc_norm.", "pre_logits.")) or name not in own:
            continue
        if name == "pos_embed" and value.shape != own[name].shape:
            prefix = 1
            old = int(round((value.shape[1] - prefix) ** 0.5))
            value = resample_abs_pos_embed(value, new_size=list(model.patch_embed.grid_size),
                                           old_size=[old, old], num_prefix_tokens=prefix)
            logger.info("pos_embed resampled from %dx%d to %dx%d", old, old,
                        *model.patch_embed.grid_size)
        elif name == "patch_embed.proj.weight" and value.shape[-2:] != own[name].shape[-2:]:
            value = resample_patch_embed(value, list(own[name].shape[-2:]))
        if value.shape != own[name].shape:
            logger.warning("%s: %s has shape %s, the model %s; not loaded", path, name,
                           tuple(value.shape), tuple(own[name].shape))
            continue
        loaded[name] = value
    beyond = sorted({int(n.split(".")[1]) for n in state if n.startswith("blocks.") and n not in own
                     and n.split(".")[1].isdigit()})
    if beyond:  # a 12-block checkpoint into a 4-block model: say which blocks are not used
        logger.warning("%s: blocks %d-%d of the checkpoint are not loaded: the model has %d blocks "
                       "(MODEL.VIT.DEPTH)", path, beyond[0], beyond[-1], beyond[0])
    if not loaded:
        raise ConfigError(f"{key}: '{path}' holds no ViT weight this backbone can use "
                          f"(expected timm names like patch_embed.proj.weight, blocks.0.attn.qkv.weight)")
    missing = model.load_state_dict(loaded, strict=False).missing_keys
    logger.info("Loaded %d tensors from %s; %d left at their initialisation (%s)", len(loaded), path,
                len(missing), ", ".join(sorted({m.split(".")[0] for m in missing})))
    return loaded
