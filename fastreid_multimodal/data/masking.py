"""Masks for MMET's masked modeling (MMET §3.3): which image patches and which caption tokens.

Patches. ``MODEL.MMET.IMAGE_MASK_RATIO`` (15 %) sets how many patches are masked, drawn anew every
time the image is loaded ("dynamic masking"); ``MASK_MODE`` sets where. A patch is pedestrian when
at least ``FOREGROUND_THRESHOLD`` of its pixels are foreground. Mode ``foreground`` (MMM) masks the
pedestrian, not the background: pedestrian patches in random order, then (only when the pedestrian
has fewer patches than the count) the rest by decreasing foreground fraction, never a patch without
foreground. Mode ``random`` (Table 1 ablation) draws its patches uniformly over the whole grid.

``MASK_COUNT`` sets the count. ``pedestrian`` (default): round(ratio x the image's pedestrian
patches), at least one, in both modes -- random and foreground masking hide the same number of
patches and differ only in where, the comparison the paper's Table 1 makes ("mainly mask the
pedestrian region instead of whole part of input images"). ``region``: round(ratio x the mode's
own region) -- the pedestrian's patches in foreground mode, all patches in random mode; a
pedestrian covers about a fifth of a SynthPerson image, so random mode then hides about 5x more.
A ratio of the whole grid all put on the pedestrian (another reading of "15 % of image blocks")
would hide most of a small pedestrian and is not offered.

Foregrounds come from the data set's mask file, in a ``masks/`` folder that mirrors the
``images/`` folder beside it (SynthPerson: ``<domain>/masks/<pid>/<stem>.png`` for
``<domain>/images/<pid>/<stem>.jpg``; a flat ``images/`` has flat ``masks/``) or, without one,
from a prior: a centred ellipse with semi-axes 0.45 H x 0.25 W, the box a Re-ID detector crop
typically puts its pedestrian in (about 90 % of the height, 50 % of the width; 35 % of the image).

Geometry. The patch mask must describe the image the encoder sees. FastReID's transforms are built
without flip and pad, and ``JointFlipPad`` applies the horizontal flip and the pad + random crop
to the image tensor and its foreground mask together (flip and translation commute with FastReID's
colour jitter and random erasing, so the augmentation is unchanged in distribution; the prior,
symmetric, stays centred in the final image). Other geometric augmentations (INPUT.CROP,
INPUT.AFFINE, INPUT.AUTOAUG, INPUT.AUGMIX) cannot be followed and are refused with foreground
masking.

Tokens. ``TEXT_MASK_RATIO`` (15 %) of the real tokens of a caption (at least one) are chosen; BERT's
80/10/10: 80 % become [MASK], 10 % a random word, 10 % stay. [CLS], [SEP], [PAD] (every special
token) are never chosen.
"""
import os

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from PIL import Image

from ..config import MASK_COUNTS, MASK_MODES, check_choice, check_ratio
from ..errors import ConfigError
from .samples import IMAGE, PAIR, TEXT

PRIOR_SEMI_AXES = (0.45, 0.25)  # (height, width) fractions of the prior ellipse


def patch_grid(img_size, patch_size, stride):
    """(rows, cols) of the patch grid, as StridedPatchEmbed computes it."""
    stride = (stride, stride) if isinstance(stride, int) else tuple(stride)
    return tuple((s - patch_size) // st + 1 for s, st in zip(img_size, stride))


def mask_path(image_path):
    """``.../images/[<pid>/]<stem>.jpg`` -> ``.../masks/[<pid>/]<stem>.png``; None when the image
    is neither in an images/ folder nor in one of its per-identity folders."""
    folder, name = os.path.split(image_path)
    mask = os.path.splitext(name)[0] + ".png"
    if os.path.basename(folder) == "images":
        return os.path.join(os.path.dirname(folder), "masks", mask)
    parent, identity = os.path.split(folder)
    if identity.isdigit() and os.path.basename(parent) == "images":
        return os.path.join(os.path.dirname(parent), "masks", identity, mask)
    return None


def load_foreground(image_path, size):
    """The data set's foreground mask of an image, resized to ``size`` (H, W), float in [0, 1]
    of shape (1, H, W); None when the image has no mask file."""
    path = mask_path(image_path)
    if path is None or not os.path.isfile(path):
        return None
    with Image.open(path) as img:
        mask = img.convert("L").resize((size[1], size[0]), Image.BILINEAR)
    return torch.from_numpy(np.asarray(mask, dtype=np.float32) / 255.0)[None]


def ellipse_prior(size):
    """The prior foreground (1, H, W): a centred ellipse with semi-axes PRIOR_SEMI_AXES."""
    h, w = size
    ys = (torch.arange(h, dtype=torch.float32) + 0.5 - h / 2) / (PRIOR_SEMI_AXES[0] * h)
    xs = (torch.arange(w, dtype=torch.float32) + 0.5 - w / 2) / (PRIOR_SEMI_AXES[1] * w)
    return ((ys[:, None] ** 2 + xs[None, :] ** 2) <= 1.0).float()[None]


def foreground_fraction(foreground, patch_size, stride):
    """Fraction of foreground pixels in every patch, (1, H, W) -> (rows * cols,)."""
    stride = (stride, stride) if isinstance(stride, int) else tuple(stride)
    return F.avg_pool2d(foreground[None], patch_size, stride).flatten()


class PatchMasker:
    """Chooses the masked patches of one image (see the module docstring)."""

    def __init__(self, ratio, mode="foreground", patch_size=16, stride=16, img_size=(256, 128),
                 threshold=0.5, count="pedestrian", ratio_key="MODEL.MMET.IMAGE_MASK_RATIO"):
        check_choice(mode, MASK_MODES, "MODEL.MMET.MASK_MODE")
        check_choice(count, MASK_COUNTS, "MODEL.MMET.MASK_COUNT")
        self.ratio = check_ratio(ratio, ratio_key)
        self.mode, self.count, self.patch_size, self.stride = mode, count, patch_size, stride
        self.img_size, self.threshold = tuple(img_size), threshold
        rows, cols = patch_grid(self.img_size, patch_size, stride)
        self.num_patches = rows * cols

    @property
    def needs_foreground(self):
        return self.mode == "foreground" or self.count == "pedestrian"

    def number_masked(self, region_patches):
        return max(1, int(round(self.ratio * region_patches)))

    def __call__(self, foreground=None, generator=None):
        """Bool (num_patches,) mask; ``foreground`` (1, H, W) in [0, 1] (None: the prior)."""
        order = torch.randperm(self.num_patches, generator=generator)
        mask = torch.zeros(self.num_patches, dtype=torch.bool)
        if not self.needs_foreground:  # random mode, count of the whole grid
            mask[order[:self.number_masked(self.num_patches)]] = True
            return mask
        if foreground is None:
            foreground = ellipse_prior(self.img_size)
        fraction = foreground_fraction(foreground, self.patch_size, self.stride)
        count = self.number_masked(int((fraction >= self.threshold).sum()))
        if self.mode == "random":
            mask[order[:count]] = True
            return mask
        # pedestrian patches first (in random order), then the rest by decreasing fraction
        shuffled = fraction[order]
        key = torch.where(shuffled >= self.threshold, torch.full_like(shuffled, 2.0), shuffled)
        chosen = order[torch.argsort(key, descending=True, stable=True)][:count]
        mask[chosen[fraction[chosen] > 0]] = True
        return mask


class JointFlipPad:
    """FastReID's horizontal flip and pad + random crop, applied to an image tensor and its
    foreground mask alike (INPUT.FLIP.*, INPUT.PADDING.*)."""

    def __init__(self, flip_prob=0.0, padding=0, padding_mode="constant"):
        self.flip_prob, self.padding, self.padding_mode = flip_prob, padding, padding_mode

    @classmethod
    def from_config(cls, cfg):
        return cls(cfg.INPUT.FLIP.PROB if cfg.INPUT.FLIP.ENABLED else 0.0,
                   cfg.INPUT.PADDING.SIZE if cfg.INPUT.PADDING.ENABLED else 0,
                   cfg.INPUT.PADDING.MODE)

    def __call__(self, image, foreground=None, generator=None):
        if self.flip_prob > 0 and torch.rand((), generator=generator) < self.flip_prob:
            image = image.flip(-1)
            foreground = foreground.flip(-1) if foreground is not None else None
        if self.padding > 0:
            h, w = image.shape[-2:]
            p = self.padding
            top, left = (int(v) for v in torch.randint(0, 2 * p + 1, (2,), generator=generator))
            image = TF.pad(image, [p, p, p, p], padding_mode=self.padding_mode)
            image = image[..., top:top + h, left:left + w]
            if foreground is not None:  # what the pad adds is background
                foreground = F.pad(foreground, [p, p, p, p])[..., top:top + h, left:left + w]
        return image, foreground


def geometric_transforms_kept(cfg):
    """FastReID config keys of geometric augmentations foreground masking cannot follow."""
    return [key for key, node in (("INPUT.CROP.ENABLED", cfg.INPUT.CROP),
                                  ("INPUT.AFFINE.ENABLED", cfg.INPUT.AFFINE),
                                  ("INPUT.AUTOAUG.ENABLED", cfg.INPUT.AUTOAUG),
                                  ("INPUT.AUGMIX.ENABLED", cfg.INPUT.AUGMIX)) if node.ENABLED]


def build_patch_masker(cfg):
    """PatchMasker from MODEL.MMET.* and the image encoder's patch geometry."""
    mmet = cfg.MODEL.MMET
    stride = cfg.MODEL.BACKBONE.STRIDE_SIZE
    masker = PatchMasker(mmet.IMAGE_MASK_RATIO, mmet.MASK_MODE, cfg.MODEL.VIT.PATCH_SIZE,
                         tuple(stride) if isinstance(stride, (list, tuple)) else (stride, stride),
                         tuple(cfg.INPUT.SIZE_TRAIN), mmet.FOREGROUND_THRESHOLD, mmet.MASK_COUNT)
    if masker.needs_foreground:
        kept = geometric_transforms_kept(cfg)
        if kept:
            raise ConfigError(f"{', '.join(kept)}: the pedestrian's patches (MODEL.MMET.MASK_MODE "
                              f"{mmet.MASK_MODE}, MASK_COUNT {mmet.MASK_COUNT}) follow only flip "
                              "and pad (INPUT.FLIP, INPUT.PADDING); disable these augmentations "
                              "or use MODEL.MMET.MASK_MODE random with MASK_COUNT region")
    return masker


class TokenMasker:
    """BERT masking of one caption: ``(ids) -> (masked ids, bool mask of the chosen positions)``."""

    def __init__(self, ratio, tokenizer, ratio_key="MODEL.MMET.TEXT_MASK_RATIO"):
        self.ratio = check_ratio(ratio, ratio_key)
        self.mask_id = tokenizer.mask_token_id
        self.special_ids = torch.tensor(sorted(set(tokenizer.all_special_ids)), dtype=torch.long)
        vocab = tokenizer.get_vocab()
        # random replacements are real words: no special or [unusedN] token
        self.word_ids = torch.tensor(sorted(i for t, i in vocab.items()
                                            if not (t.startswith("[") and t.endswith("]"))))

    def __call__(self, ids, generator=None):
        candidates = torch.nonzero(~torch.isin(ids, self.special_ids)).flatten()
        mask = torch.zeros_like(ids, dtype=torch.bool)
        if len(candidates) == 0:
            return ids.clone(), mask
        count = max(1, int(round(self.ratio * len(candidates))))
        chosen = candidates[torch.randperm(len(candidates), generator=generator)[:count]]
        mask[chosen] = True
        masked = ids.clone()
        roll = torch.rand(count, generator=generator)
        masked[chosen[roll < 0.8]] = self.mask_id
        swap = chosen[(roll >= 0.8) & (roll < 0.9)]
        if len(swap):
            picks = torch.randint(0, len(self.word_ids), (len(swap),), generator=generator)
            masked[swap] = self.word_ids[picks]
        return masked, mask


def build_token_masker(cfg, tokenizer):
    return TokenMasker(cfg.MODEL.MMET.TEXT_MASK_RATIO, tokenizer)


def masked_modalities(cfg):
    """(modalities whose patches are masked, modalities whose tokens are masked): what the
    configured MMET losses predict (MIM: unpaired images, MLM: unpaired texts, MMM: pairs)."""
    names = set(cfg.MODEL.LOSSES.NAME)
    images = [m for m, loss in ((IMAGE, "MaskedImageModeling"), (PAIR, "MaskedMultimodalModeling"))
              if loss in names]
    texts = [m for m, loss in ((TEXT, "MaskedLanguageModeling"), (PAIR, "MaskedMultimodalModeling"))
             if loss in names]
    return images, texts
