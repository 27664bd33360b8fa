"""Pixel normalisation shared by the multimodal meta-architectures (as FastReID's Baseline)."""
import torch
from torch import nn


class PixelNormalization(nn.Module):
    """Registers MODEL.PIXEL_MEAN/STD buffers; ``device``, out-of-place ``preprocess_image`` and
    ``index`` (batch rows from the host-side layout as a device index tensor)."""

    def init_pixel_stats(self, cfg):
        self.register_buffer("pixel_mean", torch.tensor(cfg.MODEL.PIXEL_MEAN).view(1, -1, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(cfg.MODEL.PIXEL_STD).view(1, -1, 1, 1), False)

    @property
    def device(self):
        return self.pixel_mean.device

    def preprocess_image(self, images):
        return (images.to(self.device) - self.pixel_mean) / self.pixel_std

    def index(self, rows):
        return torch.tensor(rows, dtype=torch.long).to(self.device, non_blocking=True)
