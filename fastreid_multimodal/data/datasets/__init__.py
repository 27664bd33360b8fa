"""Every module here registers dataset entries in fastreid's DATASET_REGISTRY."""
from . import (captioned_images, cuhkpedes, dukemtmc_subset, dukemtmc_val, finegpr,  # noqa: F401
               finegpr_caption, icfgpedes, market1501_subset, market1501_val, randperson,
               rstpreid, synth_person, synth_person_source_val)
