"""The fused sample list S_i ∪ S_t (DMF Algorithm 1) as a dataset, its collate, and its loader.

Samples keep FastReID's (item, pid, camid) shape — ``item`` is an image path or a ``Caption`` —
so FastReID's identity samplers draw P ids x K samples across both modalities unchanged. Captions
are tokenized once, at construction (truncations counted in the log); collate stacks the images,
pads the token ids and keeps the sampler's order in ``modality``/``targets``.
"""
import logging

import torch
from fastreid.data.build import _train_loader_from_config
from fastreid.data.data_utils import DataLoaderX, read_image
from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.data.transforms import build_transforms
from fastreid.utils import comm
from torch.utils.data import BatchSampler, Dataset

from ..errors import ConfigError
from .captions import identity_keywords
from .finegpr_folder import Caption
from .modality_sampler import ModalityBalancedIdentitySampler
from .layouts import datasets_root
from .text import text_tokenizer

logger = logging.getLogger("fastreid.multimodal")
IMAGE, TEXT = 0, 1
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


class MultimodalCollate:
    def __init__(self, pad_id):
        self.pad_id = pad_id

    def __call__(self, samples):
        batch = {key: torch.tensor([s[key] for s in samples])
                 for key in ("targets", "camids", "modality")}
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


def fused_items(cfg, modalities):
    """S_i ∪ S_t over DATASETS.NAMES, restricted to ``modalities`` (both / image / text)."""
    if modalities not in MODALITIES:
        raise ConfigError(f"MODEL.DMF.MODALITIES must be one of {MODALITIES}, got {modalities!r}")
    items, num_texts = [], 0
    for name in cfg.DATASETS.NAMES:
        data = DATASET_REGISTRY.get(name)(root=datasets_root(), dataset_cfg=cfg,
                                          combineall=cfg.DATASETS.COMBINEALL)
        if comm.is_main_process():
            data.show_train()
        if modalities in ("both", "image"):
            items.extend(data.train)
        texts = getattr(data, "texts", [])
        if modalities in ("both", "text"):
            items.extend(texts)
            num_texts += len(texts)
    if modalities == "text" and not num_texts:
        raise ConfigError(f"MODEL.DMF.MODALITIES is 'text' but DATASETS.NAMES {tuple(cfg.DATASETS.NAMES)} "
                          "have no captions (use FineGPRCaption, SynthPerson*, CUHKPEDES)")
    return items


def build_multimodal_train_loader(cfg, modalities="both"):
    items = fused_items(cfg, modalities)
    tokenizer = text_tokenizer(cfg)
    train_set = MultimodalDataset(items, build_transforms(cfg, is_train=True), tokenizer,
                                  cfg.MODEL.TEXT.MAX_LENGTH,
                                  caption_words=cfg.MODEL.TEXT.CAPTION_WORDS)
    logger.info("Training samples: %d images + %d texts of %d identities",
                len(train_set) - train_set.num_texts, train_set.num_texts, train_set.num_classes)
    sampler = None
    if cfg.DATALOADER.MODALITY_BALANCED and modalities == "both" and train_set.num_texts:
        sampler = ModalityBalancedIdentitySampler(
            train_set.img_items, cfg.SOLVER.IMS_PER_BATCH // comm.get_world_size(),
            cfg.DATALOADER.NUM_INSTANCE, seed=comm.shared_random_seed())
        logger.info("Using training sampler ModalityBalancedIdentitySampler (%d identities x "
                    "(%d images + %d captions) a batch)", sampler.num_pids_per_batch,
                    cfg.DATALOADER.NUM_INSTANCE, cfg.DATALOADER.NUM_INSTANCE)
    return identity_batch_loader(cfg, train_set, MultimodalCollate(train_set.pad_id), sampler)


IDENTITY_SAMPLERS = ("NaiveIdentitySampler", "BalancedIdentitySampler", "SetReWeightSampler")


def check_identity_batches(cfg, num_identities):
    """FastReID's identity samplers loop forever on a batch they cannot fill: refuse it first."""
    if cfg.DATALOADER.SAMPLER_TRAIN not in IDENTITY_SAMPLERS:
        return
    batch, k = cfg.SOLVER.IMS_PER_BATCH // comm.get_world_size(), cfg.DATALOADER.NUM_INSTANCE
    if k < 1 or batch % k:
        raise ConfigError(f"SOLVER.IMS_PER_BATCH per process ({batch}) must be a multiple of "
                          f"DATALOADER.NUM_INSTANCE ({k}): a batch is P identities x K images")
    if num_identities < batch // k:
        raise ConfigError(f"the training set has {num_identities} identities, a batch of "
                          f"SOLVER.IMS_PER_BATCH {batch} needs {batch // k} (x NUM_INSTANCE {k}): "
                          "lower SOLVER.IMS_PER_BATCH or add identities")


def identity_batch_loader(cfg, train_set, collate, sampler=None):
    """FastReID's training sampler (DATALOADER.SAMPLER_TRAIN, unless ``sampler`` is given) and
    DataLoaderX with our collate."""
    if sampler is None:
        check_identity_batches(cfg, train_set.num_classes)
        sampler = _train_loader_from_config(cfg, train_set=train_set)["sampler"]
    mini_batch = cfg.SOLVER.IMS_PER_BATCH // comm.get_world_size()
    return DataLoaderX(comm.get_local_rank(), dataset=train_set,
                       num_workers=cfg.DATALOADER.NUM_WORKERS,
                       batch_sampler=BatchSampler(sampler, mini_batch, True),
                       collate_fn=collate, pin_memory=True)
