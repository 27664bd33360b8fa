"""What tools/visualize.py, tools/search.py and the Embedder load: a trained model with its config
(built as the trainer builds it, checked and loaded as --eval-only does, weights through the safe
loader, eval mode), a registered data set, a gallery."""
import os

import torch
from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.utils.checkpoint import Checkpointer

from ..data.build import build_dataset
from ..data.protocol import each_test_image
from ..errors import ConfigError, UserError
from ..utils.safe_load import load_weights
from .defaults import load_config
from .trainer import MultimodalTrainer, check_checkpoint_matches, num_classes_in_checkpoint
from .translators import check_same_translators

INIT = "init"  # "weights" of the untrained model
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def load_model(config, weights, opts=()):
    """(cfg, model in eval mode) from a config file, a checkpoint and KEY VALUE overrides.
    ``weights`` = "init": the untrained model (initialised with the config's SEED)."""
    if weights == INIT:
        cfg = load_config(config, [*opts, "MODEL.BACKBONE.PRETRAIN", "False"])
        if cfg.SEED >= 0:
            torch.manual_seed(cfg.SEED)
        return cfg, MultimodalTrainer.build_model(cfg).eval()
    if not weights or not os.path.isfile(weights):
        raise ConfigError(f"--weights: checkpoint file '{weights}' does not exist (expected a .pth "
                          "written by a fastreid-multimodal run, e.g. OUTPUT_DIR/model_final.pth)")
    cfg = load_config(config, [*opts, "MODEL.WEIGHTS", weights, "MODEL.BACKBONE.PRETRAIN", "False"])
    checkpoint = load_weights(weights, "--weights")
    cfg.defrost()
    classes = num_classes_in_checkpoint(weights, checkpoint)
    if classes:  # the checkpoint's classifier size, so that it loads without a shape warning
        cfg.MODEL.HEADS.NUM_CLASSES = classes
    cfg.freeze()
    model = MultimodalTrainer.build_model(cfg)
    # as --eval-only: another architecture or translator would embed with random/foreign weights
    check_checkpoint_matches(model, weights, checkpoint=checkpoint)
    check_same_translators(cfg, checkpoint, weights)
    Checkpointer(model).load(weights)  # compat routes Checkpointer's reads through safe_load
    return cfg, model.eval()


def load_dataset(cfg, name, flag="--dataset"):
    """A registered data set, built as the trainer builds it; an unknown name is an error that
    lists the registered ones."""
    if name not in DATASET_REGISTRY._obj_map:  # FastReID's Registry has no public lookup test
        known = sorted(DATASET_REGISTRY._obj_map)
        raise ConfigError(f"{flag}: unknown data set '{name}'; registered: {', '.join(known)}")
    return build_dataset(cfg, name)


def gallery_paths(cfg, gallery):
    """Image paths of a folder (recursive *.jpg/*.png) or of a data set's query + gallery."""
    if os.path.isdir(gallery):
        paths = sorted(os.path.join(d, f) for d, _, files in os.walk(gallery) for f in files
                       if f.lower().endswith(IMAGE_SUFFIXES))
        if not paths:
            raise UserError(f"--gallery: no *.jpg/*.png images under '{gallery}'")
        return paths
    if os.path.sep in gallery or os.path.exists(gallery):
        raise ConfigError(f"--gallery: '{gallery}' is not a folder (give a folder of images or a "
                          "registered data set name)")
    data = load_dataset(cfg, gallery, "--gallery")
    paths = [p for p, _, _ in each_test_image(data)]  # all-vs-all sets list each image twice
    if not paths:
        raise UserError(f"--gallery: data set {gallery} has no query/gallery images")
    return paths
