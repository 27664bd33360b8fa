"""DukeMTMCVal: held-out DukeMTMC-reID training identities, for choosing settings."""
from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.data.datasets.dukemtmcreid import DukeMTMC

from .held_out import HeldOutIdentities


@DATASET_REGISTRY.register()
class DukeMTMCVal(HeldOutIdentities, DukeMTMC):
    """DATASETS.HELD_OUT.VAL_IDS identities of DukeMTMC-reID's training split, all-vs-all."""
