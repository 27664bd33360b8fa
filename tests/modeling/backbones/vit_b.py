"""The ViT-B image path of the multimodal ViT, built from a checkpoint file (checkpoint tests)."""
from fastreid.modeling.backbones import build_backbone

from fastreid_multimodal.engine import load_config

VIT_B = ["MODEL.BACKBONE.NAME", "build_dmf_vit_backbone", "MODEL.VIT.EMBED_DIM", "768",
         "MODEL.BACKBONE.FEAT_DIM", "768", "MODEL.VIT.DEPTH", "12", "MODEL.VIT.NUM_HEADS", "12",
         "MODEL.DEVICE", "cpu", "MODEL.BACKBONE.PRETRAIN", "True"]


def vit_b(path, *opts):
    cfg = load_config("configs/Base-Baseline.yml", VIT_B + ["MODEL.BACKBONE.PRETRAIN_PATH", path, *opts])
    return build_backbone(cfg).eval()
