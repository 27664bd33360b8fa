"""CUHK-PEDES: pedestrian images with two captions each, for text->image retrieval; its reader
also reads ICFG-PEDES and RSTPReid, which publish the same shape of JSON."""
import json
import os
from collections import defaultdict

from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.data.datasets.bases import ImageDataset

from ...errors import DataFormatError
from ..finegpr_folder import SkipLog
from ..layouts import datasets_root
from ..samples import Caption

QUERY_CAMERA, GALLERY_CAMERA = 0, 1  # the set has no cameras; keep query/gallery apart


@DATASET_REGISTRY.register()
class CUHKPEDES(ImageDataset):
    """$FASTREID_DATASETS/CUHK-PEDES/{reid_raw.json, imgs/}. reid_raw.json is a list of
    {"file_path", "id", "captions": [...], "split": train|val|test}.

    ``train`` are the train-split images, ``texts`` their captions; for evaluation the first
    image of each test identity is the image query, the rest the gallery, and ``text_queries``
    are the captions of every test image (text->image retrieval against all test images); the
    val split is not read. ICFGPEDES and RSTPReid change only the class attributes below."""

    dataset_dir = "CUHK-PEDES"
    dataset_name = "cuhkpedes"
    annotation_file = "reid_raw.json"
    path_field = "file_path"  # RSTPReid calls it img_path

    def __init__(self, root=None, dataset_cfg=None, **kwargs):
        self.root = root if root is not None else datasets_root()
        folder = os.path.join(self.root, self.dataset_dir)
        annotations = os.path.join(folder, self.annotation_file)
        self.check_before_run([folder, annotations, os.path.join(folder, "imgs")])
        skips = SkipLog(annotations)
        by_split = defaultdict(list)
        for number, record in enumerate(self.records(annotations)):
            path, pid, captions, split = self.fields(annotations, number, record)
            path = os.path.join(folder, "imgs", path)
            if not os.path.isfile(path):
                skips.skip("records whose image does not exist", path)
                continue
            by_split[split].append((path, pid, captions))
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

    @staticmethod
    def records(annotations):
        try:
            with open(annotations, encoding="utf-8") as f:
                records = json.load(f)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DataFormatError(f"{annotations}: not a JSON file ({exc})") from None
        if not isinstance(records, list):
            raise DataFormatError(f"{annotations}: expected a JSON list of records, got "
                                  f"{type(records).__name__}")
        return records

    def fields(self, annotations, number, record):
        """(image path under imgs/, pid, captions, split) of one record, checked."""
        wanted = (self.path_field, "id", "captions", "split")
        if not isinstance(record, dict):
            raise DataFormatError(f"{annotations}: record {number} is not an object")
        missing = [k for k in wanted if k not in record]
        if missing:
            raise DataFormatError(f"{annotations}: record {number} lacks {missing} (each record "
                                  f"has {', '.join(wanted)})")
        try:
            pid = int(record["id"])
        except (TypeError, ValueError):
            raise DataFormatError(f"{annotations}: record {number}: 'id' must be an integer, got "
                                  f"{record['id']!r}") from None
        captions = record["captions"]
        if not isinstance(captions, list) or not all(isinstance(c, str) for c in captions):
            raise DataFormatError(f"{annotations}: record {number}: 'captions' must be a list of "
                                  f"strings, got {captions!r:.80}")
        captions = [c.strip() for c in captions if c.strip()]
        return str(record[self.path_field]), pid, captions, record["split"]
