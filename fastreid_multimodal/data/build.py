"""From a config to training data: the registered data sets, the sample list the model trains on,
and its loader. The trainer's ``build_train_loader`` calls ``build_train_loader``; models never build
data.

Sample lists, picked by MODEL.META_ARCHITECTURE:
* images (FastReID's meta-architectures): FastReID's own loader;
* fused (DMF): S_i ∪ S_t, images and captions as separate samples (data.multimodal);
* pairs (MMET): captioned images drawn per load as pairs / unpaired images / unpaired texts,
  with the masks the configured losses need (data.pairs, data.masking).
"""
import logging

from fastreid.data import build_reid_train_loader
from fastreid.data.build import _train_loader_from_config
from fastreid.data.data_utils import DataLoaderX
from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.data.transforms import build_transforms
from fastreid.utils import comm
from torch.utils.data import BatchSampler

from ..config import check_mmet_config, check_probability
from ..errors import ConfigError
from .layouts import datasets_root
from .masking import build_patch_masker, build_token_masker, masked_modalities
from .modality_sampler import ModalityBalancedIdentitySampler
from .multimodal import MODALITIES, MultimodalCollate, MultimodalDataset
from .pairs import PairCollate, PairDataset, PairingStats, pair_samples, pair_transforms
from .text import text_tokenizer

logger = logging.getLogger("fastreid.multimodal")
SAMPLE_LISTS = {"DMF": "fused", "MMET": "pairs"}  # MODEL.META_ARCHITECTURE -> its samples (else images)
IDENTITY_SAMPLERS = ("NaiveIdentitySampler", "BalancedIdentitySampler", "SetReWeightSampler")


def build_dataset(cfg, name, **kwargs):
    """The registered data set ``name`` under FASTREID_DATASETS; ``cfg`` reaches our data sets'
    constructors (FastReID's own ignore it)."""
    return DATASET_REGISTRY.get(name)(root=datasets_root(), dataset_cfg=cfg, **kwargs)


def training_sets(cfg):
    """The data sets of DATASETS.NAMES, each announced once (its train split's statistics)."""
    for name in cfg.DATASETS.NAMES:
        data = build_dataset(cfg, name, combineall=cfg.DATASETS.COMBINEALL)
        if comm.is_main_process():
            data.show_train()
        yield name, data


def build_train_loader(cfg):
    samples = SAMPLE_LISTS.get(cfg.MODEL.META_ARCHITECTURE, "images")
    if samples == "fused":
        return fused_train_loader(cfg, cfg.MODEL.DMF.MODALITIES)
    if samples == "pairs":
        check_mmet_config(cfg)
        return pair_train_loader(cfg, *masked_modalities(cfg))
    loader = build_reid_train_loader(cfg, combineall=cfg.DATASETS.COMBINEALL, dataset_cfg=cfg)
    check_identity_batches(cfg, loader.dataset.num_classes)
    return loader


# -- DMF: the fused sample list -----------------------------------------------------------------
def fused_items(cfg, modalities):
    """S_i ∪ S_t over DATASETS.NAMES, restricted to ``modalities`` (both / image / text)."""
    if modalities not in MODALITIES:
        raise ConfigError(f"MODEL.DMF.MODALITIES must be one of {MODALITIES}, got {modalities!r}")
    items, num_texts = [], 0
    for _, data in training_sets(cfg):
        if modalities in ("both", "image"):
            items.extend(data.train)
        texts = getattr(data, "texts", [])
        if modalities in ("both", "text"):
            items.extend(texts)
            num_texts += len(texts)
    if modalities == "text" and not num_texts:
        raise ConfigError(f"MODEL.DMF.MODALITIES is 'text' but DATASETS.NAMES {tuple(cfg.DATASETS.NAMES)} "
                          "have no captions (use FineGPRCaption, SynthPerson*, CUHKPEDES, "
                          "ICFGPEDES, RSTPReid, CaptionedImages)")
    return items


def fused_train_loader(cfg, modalities="both"):
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
                    "(%d images + %d captions) a batch of each process)", sampler.pids_per_process,
                    sampler.num_instances, sampler.num_instances)
    return identity_batch_loader(cfg, train_set, MultimodalCollate(train_set.pad_id), sampler)


# -- MMET: pairs and unpaired samples -----------------------------------------------------------
def paired_items(cfg):
    """MMET samples of DATASETS.NAMES, with their PairingStats (logged)."""
    mmet = cfg.MODEL.MMET
    stats = PairingStats(pair_prob=check_probability(mmet.PAIR_PROB, "MODEL.MMET.PAIR_PROB"),
                         split_prob=check_probability(mmet.SPLIT_PROB, "MODEL.MMET.SPLIT_PROB"))
    items = []
    for name, data in training_sets(cfg):
        before = stats.missing_caption
        new, _ = pair_samples(data.train, getattr(data, "caption_of", {}), stats)
        items.extend(new)
        if stats.missing_caption > before:
            logger.warning("%s: %d training images have no caption: image-only samples", name,
                           stats.missing_caption - before)
    logger.info("MMET samples: %s", stats)
    return items, stats


def pair_train_loader(cfg, mask_images_of=(), mask_texts_of=()):
    """MMET's training loader; patches of ``mask_images_of`` modalities and tokens of
    ``mask_texts_of`` modalities are masked (e.g. (IMAGE, PAIR) for MIM + MMM)."""
    items, stats = paired_items(cfg)
    tokenizer = text_tokenizer(cfg)  # the one the model's vocabulary is sized from
    transform, joint = pair_transforms(cfg)
    train_set = PairDataset(
        items, transform, tokenizer, cfg.MODEL.TEXT.MAX_LENGTH, joint,
        build_patch_masker(cfg) if mask_images_of else None,
        build_token_masker(cfg, tokenizer) if mask_texts_of else None,
        mask_images_of, mask_texts_of, stats.pair_prob, stats.split_prob)
    train_set.pairing = stats
    logger.info("Training samples: %d captioned + %d uncaptioned images of %d identities",
                train_set.num_pairs, len(train_set) - train_set.num_pairs, train_set.num_classes)
    return identity_batch_loader(cfg, train_set, PairCollate(train_set.pad_id))


# -- batches of identities ----------------------------------------------------------------------
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
