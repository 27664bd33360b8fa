"""MaskedTokenHead: BERT's masked-word predictor (MLM, MMM) with the decoder tied to the text
encoder's word embeddings, so it adds D x E + V parameters instead of a V x D matrix."""
import torch
import torch.nn.functional as F
from fastreid.modeling.heads.build import REID_HEADS_REGISTRY
from torch import nn


@REID_HEADS_REGISTRY.register()
class MaskedTokenHead(nn.Module):
    """(M, D) token features -> (M, vocab) logits: dense + GELU + LayerNorm to the word-embedding
    width E, then the (shared) word-embedding matrix (V, E) and a bias per word."""

    def __init__(self, cfg, vocab_size=None, word_dim=None):
        super().__init__()
        if vocab_size is None:
            from ...data.text import vocabulary_size
            vocab_size = vocabulary_size(cfg)
        dim = cfg.MODEL.VIT.EMBED_DIM
        word_dim = word_dim or dim
        self.transform = nn.Sequential(nn.Linear(dim, word_dim), nn.GELU(),
                                       nn.LayerNorm(word_dim, eps=1e-12))
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def forward(self, tokens, word_embeddings):
        """``word_embeddings``: the text encoder's (V, E) embedding matrix."""
        return F.linear(self.transform(tokens), word_embeddings, self.bias)
