"""Every config key fastreid-multimodal adds to FastReID's defaults, each with a one-line comment."""
from fastreid.config import CfgNode as CN


def add_multimodal_config(cfg):
    """Add this project's keys to a FastReID config (call before merge_from_file)."""
    _C = cfg
    _C.SEED = -1  # global RNG seed for torch/numpy/random; < 0 draws a fresh one (FastReID's default)

    _C.TEST.RESULTS = CN()
    _C.TEST.RESULTS.WRITE = True  # write results.md / results.json (R1/R5/R10/mAP per target) to OUTPUT_DIR
    return cfg
