"""Every module here registers dataset entries in fastreid's DATASET_REGISTRY."""
from . import (cuhkpedes, dukemtmc_subset, dukemtmc_val, finegpr, finegpr_caption,  # noqa: F401
               market1501_subset, market1501_val, randperson, synth_person,
               synth_person_source_val)
