from . import dmf_vit  # noqa: F401  (registers build_dmf_vit_backbone)
from . import mmet  # noqa: F401  (registers build_mmet_backbone)
