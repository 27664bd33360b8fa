"""Every module here registers dataset entries in fastreid's DATASET_REGISTRY."""
from . import finegpr, finegpr_caption, synth_person  # noqa: F401
