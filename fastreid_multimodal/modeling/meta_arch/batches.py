"""What DMF and MMET training batches are, and the error when a FastReID loader feeds them."""
from ...errors import UserError


def require_multimodal_batch(batch, meta_arch):
    """DMF / MMET train on batches of images AND captions with a per-sample "modality", built by
    their own loaders; FastReID's DefaultTrainer feeds image batches (a KeyError deep in forward)."""
    if not isinstance(batch, dict) or "modality" not in batch:
        raise UserError(
            f"MODEL.META_ARCHITECTURE {meta_arch} trains on image+caption batches that FastReID's "
            "DefaultTrainer does not build: train with fastreid_multimodal.engine.MultimodalTrainer "
            "(tools/train_net.py), or use MODEL.META_ARCHITECTURE Baseline with "
            "MODEL.BACKBONE.NAME build_dmf_vit_backbone for image-only training")
