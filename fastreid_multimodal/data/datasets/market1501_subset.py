"""Market1501Subset: Market-1501's training split less the identities held out for validation."""
from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.data.datasets.market1501 import Market1501

from .held_out import TrainIdentitySubset


@DATASET_REGISTRY.register()
class Market1501Subset(TrainIdentitySubset, Market1501):
    """DATASETS.HELD_OUT.TRAIN_IDS training identities (Market1501Val's never among them); the full
    Market-1501 query and gallery."""
