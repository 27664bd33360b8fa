"""FineGPR (images): the synthetic pedestrian set DMF and MMET pre-train on."""
import json
import logging
import os

from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.data.datasets.bases import ImageDataset

from ..finegpr_folder import (SkipLog, count_single_image_ids, group_by_pid, list_images,
                              sample_per_identity)
from ..finegpr_names import parse_image_name
from ...config import active_config
from ..layouts import datasets_root

logger = logging.getLogger("fastreid.multimodal")


@DATASET_REGISTRY.register()
class FineGPR(ImageDataset):
    """$FASTREID_DATASETS/FineGPR/images/{pid}_c{cc}_w{ww}_l{ll}_p{pp}.jpg (+ optional files, see
    ``finegpr_folder``). Training draws DATASETS.FINEGPR.IMAGES_PER_ID images per identity
    (the papers: 11 of 1,150 ids); ``splits.json``, when present, adds query/gallery."""

    dataset_dir = "FineGPR"
    dataset_name = "finegpr"

    def __init__(self, root=None, dataset_cfg=None, **kwargs):
        self.root = root if root is not None else datasets_root()
        # FastReID's DefaultTrainer builds data sets without dataset_cfg: the run's config then
        self.dataset_cfg = dataset_cfg if dataset_cfg is not None else active_config()
        self.folder = self.locate()
        self.check_before_run([self.folder, os.path.join(self.folder, "images")])
        self.skips = SkipLog(self.folder)
        self.images = list_images(self.folder, self.skips, verify=self.option("VERIFY_IMAGES", True))
        self.load_extras()
        self.skipped = self.skips.report()
        train, query, gallery = self.split()
        super().__init__(train, query, gallery, **kwargs)

    # -- hooks for subclasses ------------------------------------------------------------------
    def locate(self):
        return os.path.join(self.root, self.dataset_dir)

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
            names = {k: [n for n in splits.get(k, []) if n in self.images]
                     for k in ("train", "query", "gallery")}
        else:
            names = {"train": list(self.images), "query": [], "gallery": []}
        self.train_names = sample_per_identity(group_by_pid(names["train"], self.images),
                                               self.images_per_id(), self.option("SEED", 0))
        count_single_image_ids(self.train_names, self.images, self.folder, "training")
        train = [self.train_item(n) for n in self.train_names]
        query = [self.test_item(n) for n in names["query"]]
        gallery = [self.test_item(n) for n in names["gallery"]]
        return train, query, gallery

    def path(self, name):
        return os.path.join(self.folder, "images", name)

    def train_item(self, name):
        parsed = parse_image_name(name)
        return (self.path(name), f"{self.dataset_name}_{parsed['pid']}",
                f"{self.dataset_name}_{parsed['camera']}")

    def test_item(self, name):
        parsed = parse_image_name(name)
        return self.path(name), parsed["pid"], parsed["camera"]
