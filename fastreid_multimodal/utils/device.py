"""Where a run computes: the device a config asks for, or the CPU when there is no GPU."""
import logging

import torch


def resolve_device(cfg, quiet=False):
    """MODEL.DEVICE defaults to 'cuda' in fastreid; fall back to the CPU where there is none."""
    if str(cfg.MODEL.DEVICE).startswith("cuda") and not torch.cuda.is_available():
        frozen = cfg.is_frozen()
        cfg.defrost()
        cfg.MODEL.DEVICE = "cpu"
        if frozen:
            cfg.freeze()
        if not quiet:
            logging.getLogger("fastreid.multimodal").info("No CUDA device: MODEL.DEVICE set to cpu")
    return cfg
