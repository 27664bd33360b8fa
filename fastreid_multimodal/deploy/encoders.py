"""The two encoders a trained model is used through, as modules: the image embedding FastReID's
inference returns (what the evaluator compares) and the caption embedding text->image retrieval
compares. ``Embedder`` runs them; the ONNX export traces them."""
import torch
from torch import nn

from ..errors import UserError
from ..utils.model import unwrap


class ImageEncoder(nn.Module):
    """(B, 3, H, W) images after the test transforms (RGB, 0-255, INPUT.SIZE_TEST) -> (B, D).

    The model normalises them itself (MODEL.PIXEL_MEAN / PIXEL_STD); with TEST.FLIP the embedding
    is the mean with the mirrored image's, as FastReID's ``inference_on_dataset`` computes it."""

    def __init__(self, model, flip=False):
        super().__init__()
        self.model, self.flip = unwrap(model), bool(flip)

    def forward(self, images):
        feats = self.model(images)
        if self.flip:
            feats = (feats + self.model(images.flip(dims=[3]))) / 2
        return feats


def has_text_path(model):
    """DMF and MMET embed captions, except a DMF backbone built without its text path."""
    model = unwrap(model)
    return hasattr(model, "text_features") and \
        getattr(model.backbone, "text_translator", "not a DMF backbone") is not None


class TextEncoder(nn.Module):
    """(input_ids, attention_mask) (B, L), L <= MODEL.TEXT.MAX_LENGTH -> (B, D): the caption
    embedding in the image-embedding space (``model.text_features``)."""

    def __init__(self, model):
        super().__init__()
        model = unwrap(model)
        if not has_text_path(model):
            raise UserError(f"{type(model).__name__} has no text path: it embeds images only")
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model.text_features(input_ids, attention_mask)


def random_images(cfg, batch, generator):
    """A batch as the test transforms give it (0-255 floats at INPUT.SIZE_TEST)."""
    height, width = cfg.INPUT.SIZE_TEST
    return torch.rand(batch, 3, height, width, generator=generator) * 255


def random_captions(tokenizer, batch, length, generator):
    """(input_ids, attention_mask) of ``batch`` captions of random words, ``length`` tokens with
    [CLS] and [SEP]; every other row is shorter and padded, so both cases are in any batch > 1."""
    special = set(tokenizer.all_special_ids)
    words = torch.tensor([i for i in range(len(tokenizer)) if i not in special])
    ids = words[torch.randint(len(words), (batch, length), generator=generator)]
    mask = torch.ones(batch, length, dtype=torch.long)
    for row in range(batch):
        used = length if row % 2 == 0 else max(3, length // 2)
        ids[row, 0], ids[row, used - 1] = tokenizer.cls_token_id, tokenizer.sep_token_id
        ids[row, used:], mask[row, used:] = tokenizer.pad_token_id, 0
    return ids, mask
