"""Public ViT weights for the backbones' image path (and ViT image translators): timm / DeiT /
data2vec checkpoints (timm key names, TransReID's starting points) and CLIP image towers (OpenAI's
and open_clip's key names, mapped to timm's by timm's own converter).

``checkpoint_filter_fn`` is pure, as timm's: a checkpoint's tensors in, the tensors ``model`` can
load out. ``load_vit_weights`` reads the file, filters, loads and reports what it did: tensors
resampled, tensors of the checkpoint with no place (unexpected), tensors of the model left at their
initialisation (missing).
"""
import logging
import math
import os
import zipfile

import torch
from timm.layers import resample_abs_pos_embed, resample_patch_embed

from ...errors import ConfigError
from ...utils.hub import cached_hub_file
from ...utils.safe_load import TRUST_VARIABLE, load_weights, trusted

logger = logging.getLogger("fastreid.multimodal")

WRAPPERS = ("model", "state_dict", "module")  # timm / TransReID / FastReID checkpoints
NAME_PREFIXES = ("module.", "backbone.", "base.")
CLASSIFIER = ("head.", "fc_norm.", "pre_logits.")  # ImageNet heads: never ours
PREFIX_TOKENS = ("cls_token", "dist_token", "reg_token")  # timm's tokens before the patches
# the image encoder's tensors under timm's names, in the backbones and in a ViT translator
IMAGE_ENCODER = ("patch_embed.", "cls_token", "pos_embed", "norm_pre.", "blocks.", "norm.")
CLIP_CLASS_TOKEN, CLIP_PATCH_KERNEL = "class_embedding", "conv1.weight"


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
    if is_torchscript_archive(path) and not trusted(path):
        raise ConfigError(
            f"{key}: '{path}' is a TorchScript archive (the format of OpenAI's CLIP release), which "
            "holds code and is not read as weights. Save its state dict once, where you trust the "
            f"file: python -c \"import torch; torch.save(torch.jit.load('{path}', map_location='cpu')"
            ".state_dict(), 'clip_state_dict.pth')\" and give that file, or list it in "
            f"{TRUST_VARIABLE}")
    checkpoint = load_weights(path, key)
    if isinstance(checkpoint, torch.jit.ScriptModule):  # a trusted TorchScript archive
        checkpoint = checkpoint.state_dict()
    return checkpoint


def is_torchscript_archive(path):
    """torch.jit.save writes its model's code into the zip; torch.save never does."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any("/code/" in name for name in archive.namelist())


def unwrapped_tensors(checkpoint):
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


def clip_tower_prefix(state_dict):
    """The prefix of a CLIP image tower's names (``visual.`` in OpenAI's and open_clip's models,
    ``""`` for a tower saved alone), or None for a checkpoint that has none."""
    for name in state_dict:
        if name.endswith(CLIP_CLASS_TOKEN):
            prefix = name[:-len(CLIP_CLASS_TOKEN)]
            if prefix + CLIP_PATCH_KERNEL in state_dict:
                return prefix
    return None


def from_clip_names(state_dict):
    """A CLIP image tower's tensors under timm's ViT names (timm's own converter; its text tower
    and logit scale left out), else the checkpoint as it is."""
    prefix = clip_tower_prefix(state_dict)
    if prefix is None:
        return state_dict
    from timm.models.vision_transformer import _convert_openai_clip
    tensors = _convert_openai_clip(state_dict, None, prefix=prefix)
    kernel = tensors["patch_embed.proj.weight"]
    # CLIP's patch convolution has no bias: a zero bias is the same function
    tensors.setdefault("patch_embed.proj.bias", kernel.new_zeros(kernel.shape[0]))
    return tensors


def tensors_by_timm_name(checkpoint):
    """The checkpoint's tensors under timm's ViT names (CLIP towers converted)."""
    return from_clip_names(unwrapped_tensors(checkpoint))


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
    if name == "patch_embed.proj.weight" and value.shape[:2] == target.shape[:2] \
            and value.dim() == target.dim() == 4:
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


def missing_encoder_keys(model, loaded):
    """Tensors of ``model``'s image encoder (timm names) that ``loaded`` does not give; those of a
    pre-trained CNN translator come from its own file."""
    return sorted(name for name in model.state_dict() if name.startswith(IMAGE_ENCODER)
                  and not name.startswith("patch_embed.network.") and name not in loaded)


def log_filtering(path, state_dict, kept, model):
    """What ``checkpoint_filter_fn`` did with the checkpoint ``state_dict``, ``kept`` being its
    result: resampled tensors, tensors not loaded (another shape, no place), the model's left out."""
    original = unwrapped_tensors(state_dict)
    state_dict = tensors_by_timm_name(state_dict)
    own = model.state_dict()
    prefix = clip_tower_prefix(original)
    if prefix is not None:
        outside = [n for n in original if not n.startswith(prefix)]
        logger.info("%s: CLIP image tower '%s*' read under timm's ViT names; %d tensors outside it "
                    "(text tower, logit scale) not used. %s", path, prefix, len(outside),
                    activation_hint(model))
    for name, value in with_a_place_in(own, state_dict):
        if name not in kept:
            logger.warning("%s: %s has shape %s, the model %s; not loaded", path, name,
                           tuple(value.shape), tuple(own[name].shape))
        elif name == "pos_embed" and kept[name].shape != value.shape:
            logger.info("pos_embed resampled from %dx%d to %dx%d",
                        *source_grid(state_dict, model), *model.patch_embed.grid_size)
        elif name == "patch_embed.proj.weight" and kept[name].shape != value.shape:
            logger.info("patch_embed.proj.weight resampled from %dx%d to %dx%d",
                        *value.shape[-2:], *kept[name].shape[-2:])
    depth = len(getattr(model, "blocks", ()))
    beyond = sorted({block_index(n) for n in state_dict if block_index(n) >= depth})
    if beyond:  # a 12-block checkpoint into a 4-block model: say which blocks are not used
        logger.warning("%s: blocks %d-%d of the checkpoint are not loaded: the model has %d blocks "
                       "(MODEL.VIT.DEPTH)", path, beyond[0], beyond[-1], depth)
    unexpected = [n for n in state_dict if n not in own and block_index(n) < depth]
    heads = [n for n in unexpected if n.startswith(CLASSIFIER) or n.startswith("head_dist.")]
    others = [n for n in unexpected if n not in heads]
    if heads:
        logger.info("%s: classifier / projection heads not used: %s", path, short_list(heads))
    if others:
        hint = " (set MODEL.VIT.PRE_NORM True for CLIP's ln_pre)" if "norm_pre.weight" in others else ""
        logger.warning("%s: %d tensors of the checkpoint have no place in the model, not loaded%s: "
                       "%s", path, len(others), hint, short_list(others))
    missing = missing_encoder_keys(model, kept)
    if missing:
        logger.warning("%s: %d image-encoder tensors of the model are not in the checkpoint, left at "
                       "their initialisation: %s", path, len(missing), short_list(missing))


def block_index(name):
    """N of a ``blocks.N.`` tensor name, -1 for any other."""
    parts = name.split(".")
    return int(parts[1]) if len(parts) > 2 and parts[0] == "blocks" and parts[1].isdigit() else -1


def activation_hint(model):
    blocks = getattr(model, "blocks", None)
    act = type(blocks[0].mlp.act).__name__ if blocks else "?"
    return (f"The blocks use {act}: OpenAI's CLIP weights were trained with QuickGELU, open_clip's "
            "LAION ViT-B-16 with GELU (MODEL.VIT.ACT_LAYER / MODEL.IMAGE.VIT_ACT_LAYER)")


def short_list(names, limit=8):
    return ", ".join(names[:limit]) + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def load_vit_weights(model, path, key="MODEL.BACKBONE.PRETRAIN_PATH", allow_download=False):
    """Load timm/DeiT-style ViT weights or a CLIP image tower into ``model``, e.g. a 14x14
    position embedding resampled to 21x10 for 256x128 at stride 12; returns the loaded tensors."""
    checkpoint = read_checkpoint(path, key, allow_download)
    loaded = checkpoint_filter_fn(checkpoint, model)
    log_filtering(path, checkpoint, loaded, model)
    if not loaded:
        raise ConfigError(f"{key}: '{path}' holds no ViT weight this backbone can use "
                          f"(expected timm names like patch_embed.proj.weight, blocks.0.attn.qkv.weight, "
                          f"or a CLIP image tower: visual.conv1.weight, visual.transformer.resblocks.0.*)")
    missing = model.load_state_dict(loaded, strict=False).missing_keys
    logger.info("Loaded %d tensors from %s; %d left at their initialisation (%s)", len(loaded), path,
                len(missing), ", ".join(sorted({m.split(".")[0] for m in missing})))
    return loaded
