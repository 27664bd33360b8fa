from .build import LOSS_REGISTRY, build_losses, fill_absent_losses  # noqa: F401
from . import cross_entropy, triplet  # noqa: F401,E402  (register)
from . import (global_contrastive, image_text_matching, masked_image_modeling, masked_language_modeling,  # noqa: F401,E402
               masked_multimodal_modeling)
