"""CUHK-PEDES: pedestrian images with two captions each, for text->image retrieval."""
import json
import os
from collections import defaultdict

from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.data.datasets.bases import ImageDataset

from ..finegpr_folder import SkipLog
from ..samples import Caption
from ..layouts import datasets_root

QUERY_CAMERA, GALLERY_CAMERA = 0, 1  # the set has no cameras; keep query/gallery apart


@DATASET_REGISTRY.register()
class CUHKPEDES(ImageDataset):
    """$FASTREID_DATASETS/CUHK-PEDES/{reid_raw.json, imgs/}. reid_raw.json is a list of
    {"file_path", "id", "captions": [...], "split": train|val|test}.

    ``train`` are the train-split images, ``texts`` their captions; for evaluation the first
    image of each test identity is the image query, the rest the gallery, and ``text_queries``
    are the captions of every test image (text->image retrieval against all test images)."""

    dataset_dir = "CUHK-PEDES"
    dataset_name = "cuhkpedes"

    def __init__(self, root=None, dataset_cfg=None, **kwargs):
        self.root = root if root is not None else datasets_root()
        folder = os.path.join(self.root, self.dataset_dir)
        annotations = os.path.join(folder, "reid_raw.json")
        self.check_before_run([folder, annotations, os.path.join(folder, "imgs")])
        with open(annotations, encoding="utf-8") as f:
            records = json.load(f)
        skips = SkipLog(annotations)
        by_split = defaultdict(list)
        for number, record in enumerate(records):
            missing = {"file_path", "id", "captions", "split"} - set(record)
            if missing:
                raise ValueError(f"{annotations}: record {number} lacks {sorted(missing)}")
            path = os.path.join(folder, "imgs", record["file_path"])
            if not os.path.isfile(path):
                skips.skip("records whose image does not exist", path)
                continue
            captions = [c.strip() for c in record["captions"] if c and c.strip()]
            by_split[record["split"]].append((path, int(record["id"]), captions))
        skips.report()

        train = [(p, f"{self.dataset_name}_{pid}", f"{self.dataset_name}_0")
                 for p, pid, _ in by_split["train"]]
        self.texts = [(Caption(c, p), f"{self.dataset_name}_{pid}", f"{self.dataset_name}_0")
                      for p, pid, caps in by_split["train"] for c in caps]
        self.caption_of = {p: caps[0] for split in by_split.values() for p, _, caps in split if caps}
        query, gallery, seen = [], [], set()
        for path, pid, _ in by_split["test"]:
            target = gallery if pid in seen else query
            target.append((path, pid, GALLERY_CAMERA if pid in seen else QUERY_CAMERA))
            seen.add(pid)
        self.text_queries = [(Caption(c, p), pid, QUERY_CAMERA)
                             for p, pid, caps in by_split["test"] for c in caps]
        self.text_gallery = [(p, pid, GALLERY_CAMERA) for p, pid, _ in by_split["test"]]
        super().__init__(train, query, gallery, **kwargs)
