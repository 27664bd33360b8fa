"""ImageNet/data2vec-style ViT weights (timm key names) for the backbones' image path.

``checkpoint_filter_fn`` is pure, as timm's: a checkpoint's tensors in, the tensors ``model`` can
load out. ``load_vit_weights`` reads the file, filters, loads and says what it did.
"""
import logging
import math
import os

import torch
from timm.layers import resample_abs_pos_embed, resample_patch_embed

from ...errors import ConfigError
from ...utils.hub import cached_hub_file
from ...utils.safe_load import load_weights

logger = logging.getLogger("fastreid.multimodal")

WRAPPERS = ("model", "state_dict", "module")  # timm / TransReID / FastReID checkpoints
NAME_PREFIXES = ("module.", "backbone.", "base.")
CLASSIFIER = ("head.", "fc_norm.", "pre_logits.")  # ImageNet heads: never ours
PREFIX_TOKENS = ("cls_token", "dist_token", "reg_token")  # timm's tokens before the patches


def timm_hub_id(name):
    """The hub repository of a timm model name with pre-trained weights, else None."""
    try:
        from timm.models import get_pretrained_cfg
        pretrained = get_pretrained_cfg(name)
    except Exception:  # not a timm name
        return None
    return getattr(pretrained, "hf_hub_id", None) if pretrained is not None else None


def resolve_vit_weights(name, key="MODEL.BACKBONE.PRETRAIN_PATH", allow_download=False):
    """Local weight file for ``name``: a file path, or a timm model name with a pre-trained tag
    (e.g. vit_base_patch16_224.augreg2_in21k_ft_in1k) found in the Hugging Face cache."""
    if os.path.isfile(name):
        return name
    repo = timm_hub_id(name)
    if repo is None:
        raise ConfigError(f"{key}: weight file '{name}' does not exist and is not a timm model "
                          "name with hub weights (expected a local ViT checkpoint, e.g. timm's "
                          "vit_base_patch16_224 .pth, or a name like "
                          "vit_base_patch16_224.augreg2_in21k_ft_in1k)")
    return cached_hub_file(repo, ("model.safetensors", "pytorch_model.bin"), key, name,
                           allow_download,
                           f"python -c \"import timm; timm.create_model('{name}', pretrained=True)\"")


def read_checkpoint(path, key, allow_download=False):
    """The contents of a local weight file or a cached timm model's weights. Weights are data:
    never unpickled as code."""
    if not path:
        raise ConfigError(f"MODEL.BACKBONE.PRETRAIN is True but {key} is empty: give a local "
                          "ImageNet/data2vec ViT checkpoint (timm key names) or a cached timm "
                          f"name, e.g. {key} vit_base_patch16_224.augreg2_in21k_ft_in1k, or train "
                          "from scratch with MODEL.BACKBONE.PRETRAIN False")
    path = resolve_vit_weights(path, key, allow_download)
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file
        return load_file(path)
    return load_weights(path, key)


def tensors_by_timm_name(checkpoint):
    """The checkpoint's tensors, out of their wrappers and with wrapper prefixes cut off."""
    for wrapper in WRAPPERS:
        if isinstance(checkpoint, dict) and isinstance(checkpoint.get(wrapper), dict):
            checkpoint = checkpoint[wrapper]
    tensors = {}
    for name, value in checkpoint.items():
        if not torch.is_tensor(value):
            continue
        for prefix in NAME_PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix):]
        tensors[name] = value
    return tensors


def num_prefix_tokens(state_dict):
    """Tokens before the patches in the checkpoint's sequence: its [cls], distillation and
    register tokens."""
    return sum(state_dict[name].shape[1] for name in PREFIX_TOKENS if name in state_dict)


def source_grid(state_dict, model):
    """(rows, cols) of the checkpoint's position embedding, or None when it cannot be known.

    Checkpoints do not record their patch grid. One with as many patches as the model has the
    model's grid; any other count is taken as a square grid (ImageNet training is square; timm
    makes the same assumption), and a count that is not a square is not resampled."""
    patches = state_dict["pos_embed"].shape[1] - num_prefix_tokens(state_dict)
    if patches == model.patch_embed.num_patches:
        return tuple(model.patch_embed.grid_size)
    side = math.isqrt(max(patches, 0))
    return (side, side) if side * side == patches else None


def in_model_layout(name, value, state_dict, model, target):
    """``value`` resampled to the shape of ``target`` (the model's tensor) where it is the
    position embedding or the patch kernel; other tensors, and those of another width (which
    cannot load anyway), as they are."""
    if value.shape == target.shape:
        return value
    if name == "pos_embed" and value.shape[-1] == target.shape[-1]:
        grid, prefix = source_grid(state_dict, model), num_prefix_tokens(state_dict)
        own_prefix = target.shape[1] - model.patch_embed.num_patches
        if grid is not None and prefix >= own_prefix:
            value = resample_abs_pos_embed(value, new_size=list(model.patch_embed.grid_size),
                                           old_size=list(grid), num_prefix_tokens=prefix)
            # timm orders [cls] before distillation / register tokens: the model keeps the first
            return torch.cat([value[:, :own_prefix], value[:, prefix:]], dim=1)
    if name == "patch_embed.proj.weight" and value.shape[:2] == target.shape[:2]:
        return resample_patch_embed(value, list(target.shape[-2:]))
    return value


def with_a_place_in(own, state_dict):
    """(name, tensor) of the checkpoint for which the model has a tensor (classifier heads aside)."""
    return [(name, value) for name, value in state_dict.items()
            if name in own and not name.startswith(CLASSIFIER)]


def checkpoint_filter_fn(state_dict, model):
    """The tensors of a ViT checkpoint that ``model`` can load (ready for ``load_state_dict``):
    names unwrapped, classifier heads and tensors the model lacks dropped, the position embedding
    resampled to the model's patch grid (and cut to its prefix tokens), the patch kernel to its
    patch size, whatever still differs in shape dropped."""
    state_dict = tensors_by_timm_name(state_dict)
    own = model.state_dict()
    kept = {}
    for name, value in with_a_place_in(own, state_dict):
        value = in_model_layout(name, value, state_dict, model, own[name])
        if value.shape == own[name].shape:
            kept[name] = value
    return kept


def log_filtering(path, state_dict, kept, model):
    """What ``checkpoint_filter_fn`` did with the checkpoint ``state_dict``, ``kept`` being its
    result."""
    state_dict = tensors_by_timm_name(state_dict)
    own = model.state_dict()
    for name, value in with_a_place_in(own, state_dict):
        if name not in kept:
            logger.warning("%s: %s has shape %s, the model %s; not loaded", path, name,
                           tuple(value.shape), tuple(own[name].shape))
        elif name == "pos_embed" and kept[name].shape != value.shape:
            logger.info("pos_embed resampled from %dx%d to %dx%d",
                        *source_grid(state_dict, model), *model.patch_embed.grid_size)
    beyond = sorted({int(n.split(".")[1]) for n in state_dict if n.startswith("blocks.")
                     and n not in own and n.split(".")[1].isdigit()})
    if beyond:  # a 12-block checkpoint into a 4-block model: say which blocks are not used
        logger.warning("%s: blocks %d-%d of the checkpoint are not loaded: the model has %d blocks "
                       "(MODEL.VIT.DEPTH)", path, beyond[0], beyond[-1], beyond[0])


def load_vit_weights(model, path, key="MODEL.BACKBONE.PRETRAIN_PATH", allow_download=False):
    """Load ImageNet/data2vec-style ViT weights (timm key names) into ``model``, e.g. a 14x14
    position embedding resampled to 21x10 for 256x128 at stride 12."""
    checkpoint = read_checkpoint(path, key, allow_download)
    loaded = checkpoint_filter_fn(checkpoint, model)
    log_filtering(path, checkpoint, loaded, model)
    if not loaded:
        raise ConfigError(f"{key}: '{path}' holds no ViT weight this backbone can use "
                          f"(expected timm names like patch_embed.proj.weight, blocks.0.attn.qkv.weight)")
    missing = model.load_state_dict(loaded, strict=False).missing_keys
    logger.info("Loaded %d tensors from %s; %d left at their initialisation (%s)", len(loaded), path,
                len(missing), ", ".join(sorted({m.split(".")[0] for m in missing})))
    return loaded
