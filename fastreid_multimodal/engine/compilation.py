"""SOLVER.COMPILE: torch.compile for the transformer blocks, where nearly all of a step's FLOPs are.

Each block is compiled in place (``nn.Module.compile``): parameter names, checkpoints and DDP stay
as they are, and blocks of one class share their compiled code. The rest of a step (the batch's
grouping by modality, the losses) runs eagerly, as its shapes change with every batch's layout;
sequence lengths that change (captions) are compiled once as dynamic shapes."""
import logging

from ..errors import ConfigError

logger = logging.getLogger("fastreid.multimodal")
COMPILE_MODES = ("", "default", "reduce-overhead", "max-autotune")
RECOMPILE_LIMIT = 64


def transformer_blocks(model):
    from timm.models.vision_transformer import Block
    return [m for m in model.modules() if isinstance(m, Block)]


def compile_blocks(model, mode, backend="inductor"):
    """Compile every timm ``Block`` of ``model`` with ``mode`` ("": nothing); their number."""
    if mode not in COMPILE_MODES:
        raise ConfigError(f"SOLVER.COMPILE.MODE must be one of {COMPILE_MODES}, got {mode!r}")
    if not mode:
        return 0
    import torch._dynamo
    # one code object (the block class's forward) serves every block of every model in the
    # process: image and caption sequences, training and evaluation, autocast on and off are
    # each a graph, and torch's default of 8 would fall back to eager after the first few
    limits = torch._dynamo.config
    name = "recompile_limit" if hasattr(limits, "recompile_limit") else "cache_size_limit"
    setattr(limits, name, max(getattr(limits, name), RECOMPILE_LIMIT))
    blocks = transformer_blocks(model)
    for block in blocks:
        block.compile(mode=mode, backend=backend, dynamic=None)
    logger.info("torch.compile (%s, %s): %d transformer blocks", mode, backend, len(blocks))
    return len(blocks)
