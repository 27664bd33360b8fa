from . import dmf_vit  # noqa: F401  (registers build_dmf_vit_backbone)
