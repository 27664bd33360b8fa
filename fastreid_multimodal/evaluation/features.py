"""Features of image files and captions from a model in eval mode, batch by batch (tools).

Image features are what the evaluator compares: ``model(images)``, FastReID's convention, so any
meta-architecture works. Text features come from ``model.text_features(input_ids, attention_mask)``,
which DMF and MMET both provide, in the same space as their image features.
"""
import torch
from fastreid.data.data_utils import read_image
from fastreid.data.transforms import build_transforms

from ..data.text import text_tokenizer, tokenize
from ..errors import UserError
from ..utils.model import unwrap

# backbones with a text path: forward_image / forward_text give their [cls] (B, D) before any head
TEXT_BACKBONES = ("build_dmf_vit_backbone", "build_mmet_backbone")
TEXT_MODELS = ("DMF", "MMET")  # meta-architectures whose text_features() give caption features


def load_images(cfg, paths):
    """(N, 3, H, W) float tensor of image files, with the test transforms (0-255, unnormalised)."""
    transform = build_transforms(cfg, is_train=False)
    return torch.stack([transform(read_image(p)) for p in paths])


def tokens(cfg, tokenizer, captions, device):
    """(input_ids, attention_mask) of captions, on ``device``."""
    encoded = tokenize(tokenizer, list(captions), cfg.MODEL.TEXT.MAX_LENGTH)
    return encoded.input_ids.to(device), encoded.attention_mask.to(device)


@torch.no_grad()
def in_batches(encode, items, batch_size):
    """``encode`` applied to consecutive slices of ``items``, concatenated on the CPU, (N, D)."""
    feats = [encode(items[i:i + batch_size]).cpu() for i in range(0, len(items), batch_size)]
    return torch.cat(feats) if feats else torch.zeros(0, 0)


class ImageFiles(torch.utils.data.Dataset):
    """Image files with the test transforms, for a loader with DATALOADER.NUM_WORKERS workers."""

    def __init__(self, cfg, paths):
        self.paths, self.transform = list(paths), build_transforms(cfg, is_train=False)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        return self.transform(read_image(self.paths[index]))


@torch.no_grad()
def image_features(cfg, model, paths, batch_size=None):
    """Re-ID features of image files (what the evaluator uses), (N, D)."""
    model = unwrap(model)
    loader = torch.utils.data.DataLoader(ImageFiles(cfg, paths),
                                         batch_size=batch_size or max(1, cfg.TEST.IMS_PER_BATCH),
                                         num_workers=cfg.DATALOADER.NUM_WORKERS)
    feats = [model(images).cpu() for images in loader]
    return torch.cat(feats) if feats else torch.zeros(0, 0)


def text_features(cfg, model, captions, batch_size=None):
    """Features of captions in the image-feature space (DMF, MMET), (N, D)."""
    if cfg.MODEL.META_ARCHITECTURE not in TEXT_MODELS:
        raise UserError(f"MODEL.META_ARCHITECTURE {cfg.MODEL.META_ARCHITECTURE} has no text path "
                        f"(expected one of {', '.join(TEXT_MODELS)})")
    model = unwrap(model)
    tokenizer = text_tokenizer(cfg)

    def encode(chunk):
        return model.text_features(*tokens(cfg, tokenizer, chunk, model.device))

    return in_batches(encode, captions, batch_size or max(1, cfg.TEST.IMS_PER_BATCH))


@torch.no_grad()
def encoder_features(cfg, model, paths, captions):
    """The backbone's [cls] of images and of captions, before any head (DMF Fig. 3):
    (Ni, D), (Nt, D)."""
    model = unwrap(model)
    if cfg.MODEL.BACKBONE.NAME not in TEXT_BACKBONES:
        raise UserError(f"MODEL.BACKBONE.NAME {cfg.MODEL.BACKBONE.NAME} has no text path "
                        f"(expected one of {', '.join(TEXT_BACKBONES)})")
    images = model.preprocess_image(load_images(cfg, paths))
    ids, mask = tokens(cfg, text_tokenizer(cfg), captions, model.device)
    return model.backbone.forward_image(images).cpu(), model.backbone.forward_text(ids, mask).cpu()
