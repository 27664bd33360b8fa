"""The fused sample list S_i ∪ S_t (DMF Algorithm 1): its dataset and collate (its loader: data.build).

Samples keep FastReID's (item, pid, camid) shape — ``item`` is an image path or a ``Caption`` —
so FastReID's identity samplers draw P ids x K samples across both modalities unchanged. Captions
are tokenized once, at construction (truncations counted in the log); collate stacks the images,
pads the token ids and keeps the sampler's order in ``modality``/``targets``.
"""
import logging

import torch
from fastreid.data.data_utils import read_image
from torch.utils.data import Dataset

from ..errors import ConfigError
from .captions import identity_keywords
from .samples import IMAGE, TEXT, Caption

logger = logging.getLogger("fastreid.multimodal")
CAPTION_WORDS = ("all", "identity")
MODALITIES = ("both", "image", "text")  # MODEL.DMF.MODALITIES: DMF, image-only, text-only pre-training


def caption_text(text, words):
    """What the text path reads of a caption: all of it, or its identity key words."""
    if words not in CAPTION_WORDS:
        raise ConfigError(f"MODEL.TEXT.CAPTION_WORDS must be one of {CAPTION_WORDS}, got {words!r}")
    return identity_keywords(text) if words == "identity" else text


class MultimodalDataset(Dataset):
    def __init__(self, img_items, transform, tokenizer=None, max_length=64, relabel=True,
                 caption_words="all"):
        self.transform = transform
        self.max_length = max_length
        self.pad_id = tokenizer.pad_token_id if tokenizer is not None else 0
        self.img_items, self.token_ids = [], {}
        texts = [(i, item) for i, (item, _, _) in enumerate(img_items) if isinstance(item, Caption)]
        empty = [i for i, item in texts if not item.text.strip()]
        if empty:
            logger.warning("skipped %d empty captions", len(empty))
        keep = [i for i in range(len(img_items)) if i not in set(empty)]
        self.img_items = [img_items[i] for i in keep]
        captions = [(j, item) for j, (item, _, _) in enumerate(self.img_items)
                    if isinstance(item, Caption)]
        if captions:
            if tokenizer is None:
                raise ValueError("captions in the sample list but no tokenizer")
            texts = [caption_text(c.text, caption_words) for _, c in captions]
            encoded = tokenizer(texts, add_special_tokens=True)["input_ids"]
            self.truncated = sum(len(ids) > max_length for ids in encoded)
            for (j, _), ids in zip(captions, encoded):
                if len(ids) > max_length:  # keep [CLS] ..., end with [SEP]
                    ids = ids[:max_length - 1] + [tokenizer.sep_token_id]
                self.token_ids[j] = torch.tensor(ids, dtype=torch.long)
            if self.truncated:
                logger.info("%d of %d captions are longer than MODEL.TEXT.MAX_LENGTH=%d tokens "
                            "and were truncated", self.truncated, len(captions), max_length)
        else:
            self.truncated = 0
        pids = sorted({pid for _, pid, _ in self.img_items}, key=str)
        cams = sorted({cam for _, _, cam in self.img_items}, key=str)
        self.relabel = relabel
        self.pid_dict = {p: i for i, p in enumerate(pids)}
        self.cam_dict = {c: i for i, c in enumerate(cams)}
        self.num_texts = len(captions)

    def __len__(self):
        return len(self.img_items)

    @property
    def num_classes(self):
        return len(self.pid_dict)

    def __getitem__(self, index):
        item, pid, camid = self.img_items[index]
        if self.relabel:
            pid, camid = self.pid_dict[pid], self.cam_dict[camid]
        sample = {"targets": pid, "camids": camid}
        if isinstance(item, Caption):
            sample.update(modality=TEXT, text_ids=self.token_ids[index])
        else:
            image = read_image(item)
            sample.update(modality=IMAGE, images=self.transform(image) if self.transform else image)
        return sample


def modality_layout(modality):
    """Which samples of a DMF batch are images and which captions, in Python ints (batch
    positions; the i-th image position is row i of ``images``). MultimodalCollate computes it on
    the CPU so that the model groups the batch without reading a device tensor back."""
    modality = [int(m) for m in modality]
    return {"image": [i for i, m in enumerate(modality) if m == IMAGE],
            "text": [i for i, m in enumerate(modality) if m == TEXT]}


class MultimodalCollate:
    def __init__(self, pad_id):
        self.pad_id = pad_id

    def __call__(self, samples):
        batch = {key: torch.tensor([s[key] for s in samples])
                 for key in ("targets", "camids", "modality")}
        batch["layout"] = modality_layout(batch["modality"])
        images = [s["images"] for s in samples if s["modality"] == IMAGE]
        if images:
            batch["images"] = torch.stack(images)
        texts = [s["text_ids"] for s in samples if s["modality"] == TEXT]
        if texts:
            ids = torch.full((len(texts), max(len(t) for t in texts)), self.pad_id, dtype=torch.long)
            for row, t in enumerate(texts):
                ids[row, :len(t)] = t
            batch["text_ids"], batch["text_mask"] = ids, ids != self.pad_id
        return batch
