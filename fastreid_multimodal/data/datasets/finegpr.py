"""FineGPR (images): the synthetic pedestrian set DMF and MMET pre-train on."""
import json
import logging
import os

from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.data.datasets.bases import ImageDataset

from ...config import active_config
from ...errors import DatasetNotFoundError
from ..finegpr_folder import (EXPECTED_NAMES, SkipLog, count_single_image_ids, decodable,
                              group_by_pid, list_images, sample_per_identity)
from ..finegpr_names import parse_image_name
from ..layouts import FINEGPR_IMAGE_DIRS, datasets_root

logger = logging.getLogger("fastreid.multimodal")


@DATASET_REGISTRY.register()
class FineGPR(ImageDataset):
    """$FASTREID_DATASETS/FineGPR/images/[<pid>/]{pid}_c{cc}_w{ww}_l{ll}_p{pp}.jpg, or FineGPR's
    release (FineGPR_Dataset/FineGPR/<pid>/*.jpg, FineGPR_Dataset/FineGPR_subset/*.jpg), the first
    found unless DATASETS.FINEGPR.IMAGE_DIR names one; optional files (``finegpr_folder``) lie in the
    folder above the images. Training draws DATASETS.FINEGPR.IMAGES_PER_ID images per identity
    (the papers: 11 of 1,150 ids); ``splits.json``, when present, adds query/gallery."""

    dataset_dir = "FineGPR"
    dataset_name = "finegpr"
    image_dir = None  # found by locate(); None: <folder>/images (SynthPerson's domains)

    def __init__(self, root=None, dataset_cfg=None, **kwargs):
        self.root = root if root is not None else datasets_root()
        # FastReID's DefaultTrainer builds data sets without dataset_cfg: the run's config then
        self.dataset_cfg = dataset_cfg if dataset_cfg is not None else active_config()
        self.folder = self.locate()
        self.image_dir = self.image_dir or os.path.join(self.folder, "images")
        self.check_before_run(self.image_dir)
        self.skips = SkipLog(self.image_dir)
        listed = list_images(self.image_dir, self.skips)
        self.images = {name: pid for name, (pid, _) in listed.items()}
        self.image_paths = {name: relative for name, (_, relative) in listed.items()}
        self.load_extras()
        train, query, gallery = self.split()
        self.skipped = self.skips.report()
        super().__init__(train, query, gallery, **kwargs)

    # -- hooks for subclasses ------------------------------------------------------------------
    def locate(self):
        """The annotation folder; sets ``image_dir``: DATASETS.FINEGPR.IMAGE_DIR, else the first
        of FINEGPR_IMAGE_DIRS that exists."""
        chosen = self.option("IMAGE_DIR", "")
        candidates = [chosen] if chosen else list(FINEGPR_IMAGE_DIRS)
        paths = [os.path.join(self.root, c) for c in candidates]
        self.image_dir = next((p for p in paths if os.path.isdir(p)), paths[0])
        return os.path.dirname(os.path.normpath(self.image_dir))

    def load_extras(self):
        """Read what a subclass needs besides the images (captions, attributes)."""

    def images_per_id(self):
        return self.option("IMAGES_PER_ID", 0)

    # -- shared -----------------------------------------------------------------------------------
    def option(self, key, default):
        node = getattr(getattr(self.dataset_cfg, "DATASETS", None), "FINEGPR", None)
        return getattr(node, key, default) if node is not None else default

    def split(self):
        splits_path = os.path.join(self.folder, "splits.json")
        if os.path.isfile(splits_path):
            with open(splits_path) as f:
                splits = json.load(f)
            # names with or without their identity folder
            names = {k: [os.path.basename(n) for n in splits.get(k, [])
                         if os.path.basename(n) in self.images]
                     for k in ("train", "query", "gallery")}
        else:
            names = {"train": list(self.images), "query": [], "gallery": []}
        train_names = sample_per_identity(group_by_pid(names["train"], self.images),
                                          self.images_per_id(), self.option("SEED", 0),
                                          self.image_dir)
        if self.option("VERIFY_IMAGES", True):
            # only the images used are decoded: FineGPR has 2,028,600, a run draws 12,650
            used = dict.fromkeys(train_names + names["query"] + names["gallery"])
            ok = set(decodable(used, self.path, self.skips))
            if used and not ok:
                raise DatasetNotFoundError(f"{self.image_dir}: no usable image ({len(used)} images "
                                           f"that fail to decode); expected FineGPR file names "
                                           f"{EXPECTED_NAMES}")
            train_names = [n for n in train_names if n in ok]
            names = {k: [n for n in v if n in ok] for k, v in names.items()}
        self.train_names = train_names
        count_single_image_ids(self.train_names, self.images, self.folder, "training")
        train = [self.train_item(n) for n in self.train_names]
        query = [self.test_item(n) for n in names["query"]]
        gallery = [self.test_item(n) for n in names["gallery"]]
        return train, query, gallery

    def path(self, name):
        return os.path.join(self.image_dir, self.image_paths[name])

    def train_item(self, name):
        parsed = parse_image_name(name)
        return (self.path(name), f"{self.dataset_name}_{parsed['pid']}",
                f"{self.dataset_name}_{parsed['camera']}")

    def test_item(self, name):
        parsed = parse_image_name(name)
        return self.path(name), parsed["pid"], parsed["camera"]
