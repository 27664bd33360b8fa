"""The text "translator" of DMF: token ids -> token features before the projection L."""
import logging
import os

import torch
from torch import nn

from ...data.text import packaged_text_model_dir
from ...errors import ConfigError

logger = logging.getLogger("fastreid_multimodal")


class LearnedTokenEmbedding(nn.Module):
    """A trainable word embedding (no pre-trained text model)."""

    def __init__(self, vocab_size, dim):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim)
        nn.init.normal_(self.embedding.weight, std=0.02)
        self.dim = dim

    def forward(self, input_ids, attention_mask):
        return self.embedding(input_ids)


class PretrainedTextTranslator(nn.Module):
    """A pre-trained HF text encoder from a local folder (MiniLM, data2vec-text, BERT ...)."""

    def __init__(self, path, freeze=True):
        super().__init__()
        from transformers import AutoModel
        folder = packaged_text_model_dir() if path == "packaged" else path
        if not os.path.isdir(folder):
            raise ConfigError(f"MODEL.TEXT.TRANSLATOR: '{path}' is not a local model folder "
                              "(expected a HF folder with config.json and weights, or 'packaged')")
        self.encoder = AutoModel.from_pretrained(folder, local_files_only=True)
        self.dim = self.encoder.config.hidden_size
        self.frozen = freeze
        if freeze:
            self.encoder.requires_grad_(False)
        logger.info("Text translator: %s (%d-d, %s)", folder, self.dim,
                    "frozen" if freeze else "trained")

    def train(self, mode=True):
        super().train(mode)
        if self.frozen:
            self.encoder.eval()  # no dropout in a frozen translator
        return self

    def forward(self, input_ids, attention_mask):
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            out = self.encoder(input_ids=input_ids, attention_mask=attention_mask.long())
        return out.last_hidden_state


def build_text_translator(cfg, vocab_size, dim):
    path = cfg.MODEL.TEXT.TRANSLATOR
    if not path:
        return LearnedTokenEmbedding(vocab_size, dim)
    return PretrainedTextTranslator(path, freeze=cfg.MODEL.TEXT.FREEZE_TRANSLATOR)
