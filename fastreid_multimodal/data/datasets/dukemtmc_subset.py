"""DukeMTMCSubset: DukeMTMC-reID's training split less the identities held out for validation."""
from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.data.datasets.dukemtmcreid import DukeMTMC

from .held_out import TrainIdentitySubset


@DATASET_REGISTRY.register()
class DukeMTMCSubset(TrainIdentitySubset, DukeMTMC):
    """DATASETS.HELD_OUT.TRAIN_IDS training identities (DukeMTMCVal's never among them); the full
    DukeMTMC-reID query and gallery."""
