"""MMET's training samples: image-text pairs plus unpaired images and unpaired texts.

Every training image with a caption (the data set's ``caption_of``) is a *captioned image* sample;
each time it is loaded its role is drawn anew (so the pair / unpaired split changes every epoch,
never fixed at start): a pair with probability PAIR_PROB x (1 - SPLIT_PROB), else an unpaired image
or — when the pair is split (PAIR_PROB x SPLIT_PROB, MMET's "incomplete modality") — half the time
its unpaired text. So one split pair yields, in expectation, half an unpaired image and half an
unpaired text, as a split into two samples would over two epochs, and the sample list (which
FastReID's identity samplers index once) keeps its length. An image without a caption is always
image-only (counted in the log). The draw uses the loader worker's torch RNG, seeded from cfg.SEED.

Samples keep FastReID's (item, pid, camid) shape — ``item`` is an image path or a ``Pair`` — so
FastReID's identity samplers work unchanged. ``PairDataset`` extends ``MultimodalDataset`` (which
tokenizes every Pair's caption once) with the draw and the masks; ``PairCollate`` stacks the images
of image and pair samples, pads the token ids of text and pair samples, and keeps the sampler's
order in ``modality``/``targets``.
"""
import logging
from dataclasses import dataclass

import torch
from fastreid.data.data_utils import read_image
from fastreid.data.transforms import build_transforms

from .masking import JointFlipPad, load_foreground
from .multimodal import MultimodalCollate, MultimodalDataset
from .samples import IMAGE, PAIR, TEXT, Caption, Pair

logger = logging.getLogger("fastreid.multimodal")


@dataclass
class PairingStats:
    captioned: int = 0        # captioned images: pair / unpaired image / unpaired text, drawn per load
    missing_caption: int = 0  # images without a caption: always image-only
    pair_prob: float = 0.0
    split_prob: float = 0.0

    def __str__(self):
        pair, split = self.pair_prob, self.split_prob
        return (f"{self.captioned} captioned images (per load: pair {pair * (1 - split):.2f}, "
                f"unpaired image {1 - pair + pair * split / 2:.2f}, unpaired text "
                f"{pair * split / 2:.2f}), {self.missing_caption} images without a caption")


def pair_samples(train, caption_of, stats=None):
    """(image path, pid, camid) items -> captioned-image (``Pair``) / image-only items."""
    stats = stats if stats is not None else PairingStats()
    items = []
    for path, pid, camid in train:
        caption = (caption_of.get(path) or "").strip()
        if caption:
            stats.captioned += 1
            items.append((Pair(caption, path), pid, camid))
        else:
            stats.missing_caption += 1
            items.append((path, pid, camid))
    return items, stats


def draw_modality(pair_prob, split_prob, generator=None):
    """The role of a captioned image for one load: PAIR, IMAGE or TEXT (see the module doc)."""
    u = torch.rand(3, generator=generator).tolist()
    if u[0] >= pair_prob:
        return IMAGE
    if u[1] < split_prob:
        return TEXT if u[2] < 0.5 else IMAGE
    return PAIR


class PairDataset(MultimodalDataset):
    """Samples: {"modality" (IMAGE/TEXT/PAIR), "targets", "camids", "images"?, "patch_mask"?,
    "text_ids"?, "text_input"?, "token_mask"?}; ``text_input`` is the (masked) encoder input,
    ``text_ids`` the original tokens (the masked-word targets)."""

    def __init__(self, img_items, transform, tokenizer=None, max_length=64, joint=None,
                 patch_masker=None, token_masker=None, mask_images_of=(), mask_texts_of=(),
                 pair_prob=1.0, split_prob=0.0):
        super().__init__(img_items, transform, tokenizer, max_length)
        self.pair_prob, self.split_prob = pair_prob, split_prob
        self.joint = joint or JointFlipPad()
        self.patch_masker, self.token_masker = patch_masker, token_masker
        self.mask_images_of = set(mask_images_of) if patch_masker is not None else set()
        self.mask_texts_of = set(mask_texts_of) if token_masker is not None else set()
        self.num_pairs = sum(isinstance(item, Pair) for item, _, _ in self.img_items)

    def __getitem__(self, index):
        item, pid, camid = self.img_items[index]
        if self.relabel:
            pid, camid = self.pid_dict[pid], self.cam_dict[camid]
        if isinstance(item, Pair):
            modality = draw_modality(self.pair_prob, self.split_prob)
        else:
            modality = TEXT if isinstance(item, Caption) else IMAGE
        sample = {"targets": pid, "camids": camid, "modality": modality}
        if modality != TEXT:
            sample.update(self.load_image(item.image if isinstance(item, Pair) else item, modality))
        if modality != IMAGE:
            ids = self.token_ids[index]
            sample["text_ids"] = ids
            if modality in self.mask_texts_of:
                sample["text_input"], sample["token_mask"] = self.token_masker(ids)
        return sample

    def load_image(self, path, modality):
        image = self.transform(read_image(path))
        masked = modality in self.mask_images_of
        foreground = None
        if masked and self.patch_masker.needs_foreground:
            foreground = load_foreground(path, image.shape[-2:])
        image, foreground = self.joint(image, foreground)
        out = {"images": image}
        if self.patch_masker is not None:
            out["patch_mask"] = (self.patch_masker(foreground) if masked else
                                 torch.zeros(self.patch_masker.num_patches, dtype=torch.bool))
        return out


def pair_layout(modality, targets, patch_mask=None, token_mask=None):
    """Where everything of an MMET batch is, in Python ints: the samples with an image / a text,
    the pairs, the IMAGE / TEXT samples (as rows of ``images`` / ``text_ids``), the pairs' rows,
    each row's masked patch / token positions, the targets. PairCollate computes it on the CPU, so
    that the model indexes its groups without reading a device tensor back (a host sync on a GPU)."""
    modality, targets = [int(m) for m in modality], [int(t) for t in targets]
    image = [i for i, m in enumerate(modality) if m != TEXT]
    text = [i for i, m in enumerate(modality) if m != IMAGE]
    image_row = {sample: row for row, sample in enumerate(image)}
    text_row = {sample: row for row, sample in enumerate(text)}
    pairs = [i for i, m in enumerate(modality) if m == PAIR]

    def positions(mask):
        return None if mask is None else [torch.nonzero(row).flatten().tolist() for row in mask.cpu()]
    return {"modality": modality, "targets": targets, "image": image, "text": text, "pair": pairs,
            "image_only": [image_row[i] for i, m in enumerate(modality) if m == IMAGE],
            "text_only": [text_row[i] for i, m in enumerate(modality) if m == TEXT],
            "pair_image": [image_row[i] for i in pairs], "pair_text": [text_row[i] for i in pairs],
            "masked_patches": positions(patch_mask), "masked_tokens": positions(token_mask)}


class PairCollate(MultimodalCollate):
    """Images (and patch masks) of IMAGE and PAIR samples in batch order; token ids (and masked
    inputs, token masks) of TEXT and PAIR samples in batch order, padded; ``layout``
    (``pair_layout``), which the loader leaves on the host."""

    def pad(self, rows, value):
        out = torch.full((len(rows), max(len(r) for r in rows)), value, dtype=rows[0].dtype)
        for i, row in enumerate(rows):
            out[i, :len(row)] = row
        return out

    def __call__(self, samples):
        batch = {key: torch.tensor([s[key] for s in samples])
                 for key in ("targets", "camids", "modality")}
        with_image = [s for s in samples if "images" in s]
        if with_image:
            batch["images"] = torch.stack([s["images"] for s in with_image])
            if "patch_mask" in with_image[0]:
                batch["patch_mask"] = torch.stack([s["patch_mask"] for s in with_image])
        with_text = [s for s in samples if "text_ids" in s]
        if with_text:
            ids = self.pad([s["text_ids"] for s in with_text], self.pad_id)
            batch["text_ids"], batch["text_mask"] = ids, ids != self.pad_id
            if any("text_input" in s for s in with_text):
                batch["text_input"] = self.pad([s.get("text_input", s["text_ids"])
                                                for s in with_text], self.pad_id)
                batch["token_mask"] = self.pad(
                    [s.get("token_mask", torch.zeros(len(s["text_ids"]), dtype=torch.bool))
                     for s in with_text], False)
        batch["layout"] = pair_layout(batch["modality"], batch["targets"], batch.get("patch_mask"),
                                      batch.get("token_mask"))
        return batch


def pair_transforms(cfg):
    """FastReID's training transforms without flip and pad, which JointFlipPad applies to the
    image and its foreground mask together."""
    plain = cfg.clone()
    plain.defrost()
    plain.INPUT.FLIP.ENABLED = False
    plain.INPUT.PADDING.ENABLED = False
    return build_transforms(plain, is_train=True), JointFlipPad.from_config(cfg)
