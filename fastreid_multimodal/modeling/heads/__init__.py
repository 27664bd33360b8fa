"""Heads beyond FastReID's EmbeddingHead (REID_HEADS_REGISTRY); importing registers them."""
from .image_text_matching_head import ImageTextMatchingHead  # noqa: F401
from .masked_patch_head import MaskedPatchHead  # noqa: F401
from .masked_token_head import MaskedTokenHead  # noqa: F401
