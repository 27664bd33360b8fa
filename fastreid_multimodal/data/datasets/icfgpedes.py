"""ICFG-PEDES: text-based person search (from MSMT17's images), read as CUHK-PEDES is."""
from fastreid.data.datasets import DATASET_REGISTRY

from .cuhkpedes import CUHKPEDES


@DATASET_REGISTRY.register()
class ICFGPEDES(CUHKPEDES):
    """$FASTREID_DATASETS/ICFG-PEDES/{ICFG-PEDES.json, imgs/}: the published JSON, a list of
    {"file_path", "id", "captions": [...], "split": train|test}; splits as CUHKPEDES."""

    dataset_dir = "ICFG-PEDES"
    dataset_name = "icfgpedes"
    annotation_file = "ICFG-PEDES.json"
