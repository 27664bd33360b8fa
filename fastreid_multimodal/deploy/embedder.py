"""Embedder: a trained model (config + weights) as numpy embeddings of images and captions, the
ones its evaluation compares.

    from fastreid_multimodal import Embedder
    embedder = Embedder.from_config("configs/Demo/mmet_synth.yml", "output/model_final.pth")
    images = embedder.embed_images(["a.jpg", "b.jpg"])       # (2, D) float32
    texts = embedder.embed_texts(["a man in a red coat"])    # (1, D), same space (DMF, MMET)
"""
import os

import numpy as np
import torch
from fastreid.data.data_utils import read_image
from fastreid.data.transforms import build_transforms
from PIL import Image

from ..errors import UserError
from .encoders import ImageEncoder, TextEncoder, has_text_path

SINGLE_ITEMS = (str, os.PathLike, Image.Image)


class ImageInputs(torch.utils.data.Dataset):
    """Image files or PIL images through the test transforms (as FastReID's test loader)."""

    def __init__(self, items, transform):
        self.items, self.transform = items, transform

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        item = self.items[index]
        image = item.convert("RGB") if isinstance(item, Image.Image) else read_image(item)
        return self.transform(image)


class Embedder:
    """Embeddings of a model in eval mode, batch by batch, on the model's device.

    ``batch_size`` defaults to TEST.IMS_PER_BATCH, ``num_workers`` (image decoding) to
    DATALOADER.NUM_WORKERS."""

    def __init__(self, cfg, model, batch_size=None, num_workers=None):
        self.cfg, self.model = cfg, model.eval()
        self.batch_size = int(batch_size or max(1, cfg.TEST.IMS_PER_BATCH))
        self.num_workers = cfg.DATALOADER.NUM_WORKERS if num_workers is None else int(num_workers)
        self.image_encoder = ImageEncoder(model, flip=cfg.TEST.FLIP.ENABLED).eval()
        self.transform = build_transforms(cfg, is_train=False)
        self._tokenizer = None

    @classmethod
    def from_config(cls, config_file, weights, opts=(), device=None, batch_size=None,
                    num_workers=None):
        """From a config file, a checkpoint (``"init"``: the untrained model) and KEY VALUE
        overrides; ``device`` ("cpu", "cuda", "cuda:1") overrides MODEL.DEVICE."""
        from ..engine.inference import load_model
        opts = [*opts, "MODEL.DEVICE", str(device)] if device else list(opts)
        cfg, model = load_model(config_file, weights, opts)
        return cls(cfg, model, batch_size, num_workers)

    @property
    def device(self):
        return self.model.device

    @property
    def has_text(self):
        return has_text_path(self.model)

    @torch.no_grad()
    def embed_images(self, images):
        """(N, D) float32 embeddings of image paths and/or PIL images (one item: N = 1)."""
        items = [images] if isinstance(images, SINGLE_ITEMS) else list(images)
        missing = [str(p) for p in items if not isinstance(p, Image.Image) and not os.path.isfile(p)]
        if missing:
            raise UserError(f"{len(missing)} image file(s) do not exist: {', '.join(missing[:3])}")
        workers = self.num_workers if len(items) > self.batch_size else 0
        loader = torch.utils.data.DataLoader(ImageInputs(items, self.transform),
                                             batch_size=self.batch_size, num_workers=workers)
        feats = [self.image_encoder(batch).float().cpu() for batch in loader]
        return torch.cat(feats).numpy() if feats else np.zeros((0, 0), np.float32)

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from ..data.text import text_tokenizer
            self._tokenizer = text_tokenizer(self.cfg)
        return self._tokenizer

    @torch.no_grad()
    def embed_texts(self, texts):
        """(N, D) float32 embeddings of captions, in the space of ``embed_images`` (DMF, MMET)."""
        from ..evaluation.features import tokens
        texts = [texts] if isinstance(texts, str) else list(texts)
        encoder = TextEncoder(self.model)
        feats = [encoder(*tokens(self.cfg, self.tokenizer, texts[i:i + self.batch_size], self.device))
                 .float().cpu() for i in range(0, len(texts), self.batch_size)]
        return torch.cat(feats).numpy() if feats else np.zeros((0, 0), np.float32)
