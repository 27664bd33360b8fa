"""Market1501Val: held-out Market-1501 training identities, for choosing settings."""
from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.data.datasets.market1501 import Market1501

from .held_out import HeldOutIdentities


@DATASET_REGISTRY.register()
class Market1501Val(HeldOutIdentities, Market1501):
    """DATASETS.HELD_OUT.VAL_IDS identities of Market-1501's training split, all-vs-all."""
