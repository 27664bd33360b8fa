"""Datasets (registered in FastReID's DATASET_REGISTRY), the SynthPerson renderer and text."""
from . import datasets  # noqa: F401
