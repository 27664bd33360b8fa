"""Every module here registers dataset entries in fastreid's DATASET_REGISTRY."""
from . import (cuhkpedes, finegpr, finegpr_caption, randperson, synth_person,  # noqa: F401
               synth_person_source_val)
