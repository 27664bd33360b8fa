"""RSTPReid: text-based person search (from MSMT17's images), read as CUHK-PEDES is."""
from fastreid.data.datasets import DATASET_REGISTRY

from .cuhkpedes import CUHKPEDES


@DATASET_REGISTRY.register()
class RSTPReid(CUHKPEDES):
    """$FASTREID_DATASETS/RSTPReid/{data_captions.json, imgs/}: the published JSON, a list of
    {"img_path", "id", "captions": [...], "split": train|val|test}; splits as CUHKPEDES."""

    dataset_dir = "RSTPReid"
    dataset_name = "rstpreid"
    annotation_file = "data_captions.json"
    path_field = "img_path"
