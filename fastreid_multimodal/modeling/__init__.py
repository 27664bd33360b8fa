"""Backbones, meta-architectures and losses; importing registers them in FastReID's registries."""
from . import backbones, losses, meta_arch  # noqa: F401
