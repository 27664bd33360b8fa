"""Text "translators": token ids -> token features, learned or from a pre-trained text model
(DMF's translator before the projection L; MMET's word embeddings)."""
import logging
from collections import OrderedDict

import torch
from torch import nn

from ...data.text import build_tokenizer, text_tokenizer
from ...errors import ConfigError
from ...utils.hub import resolve_text_model

logger = logging.getLogger("fastreid.multimodal")


class LearnedTokenEmbedding(nn.Module):
    """A trainable word embedding (no pre-trained text model)."""

    def __init__(self, vocab_size, dim):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim)
        nn.init.normal_(self.embedding.weight, std=0.02)
        self.dim = dim

    def forward(self, input_ids, attention_mask):
        return self.embedding(input_ids)

    def describe(self):
        return f"learned word embedding ({self.embedding.num_embeddings} x {self.dim}, trained)"


class PretrainedTextTranslator(nn.Module):
    """A pre-trained HF text encoder (MiniLM, data2vec-text, BERT ...) from a local folder.

    Frozen, its output for a caption never changes, so each caption is encoded once and its token
    features are kept (in memory, in this module: no other translator can ever read them), the
    ``cache_size`` most recently used captions at most (MODEL.TEXT.CACHE_SIZE; 0: encode every
    batch). On the CPU only, where encoding is what costs: on a GPU a step's captions are encoded
    in one batched call, which needs neither their ids on the host nor a loop over them."""

    def __init__(self, folder, freeze=True, cache_size=20000):
        super().__init__()
        from transformers import AutoModel
        self.encoder = AutoModel.from_pretrained(folder, local_files_only=True)
        self.dim = self.encoder.config.hidden_size
        self.frozen = freeze
        self.cache = OrderedDict()  # token ids of one caption (tuple) -> its (length, dim) features
        self.cache_size = cache_size
        self.cache_hits = self.cache_misses = 0
        if freeze:
            self.encoder.requires_grad_(False)
        logger.info("Text translator: %s (%d-d, %s)", folder, self.dim,
                    "frozen, outputs cached" if freeze else "trained")

    def describe(self):
        params = sum(p.numel() for p in self.encoder.parameters())
        return (f"{self.encoder.config.name_or_path or type(self.encoder).__name__} "
                f"({self.dim}-d, {params / 1e6:.1f} M parameters, {'frozen' if self.frozen else 'trained'})")

    def train(self, mode=True):
        super().train(mode)
        if self.frozen:
            self.encoder.eval()  # no dropout in a frozen translator
        return self

    def encode(self, input_ids, attention_mask):
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            out = self.encoder(input_ids=input_ids, attention_mask=attention_mask.long())
        return out.last_hidden_state

    def caches_on(self, device):
        return bool(self.frozen and self.cache_size) and torch.device(device).type == "cpu"

    def forward(self, input_ids, attention_mask):
        if not self.frozen:
            return self.encode(input_ids, attention_mask)
        if not self.caches_on(input_ids.device):  # padding zeroed as the cached features are
            return self.encode(input_ids, attention_mask) * attention_mask[..., None]
        lengths = attention_mask.sum(1).tolist()
        keys = [tuple(ids[:n].tolist()) for ids, n in zip(input_ids, lengths)]
        first_row = {}
        for row, key in enumerate(keys):
            if key not in self.cache:
                first_row.setdefault(key, row)
            else:
                self.cache.move_to_end(key)
        unique = list(first_row.values())
        self.cache_misses += len(unique)
        self.cache_hits += len(keys) - len(unique)
        if unique:
            width = max(lengths[row] for row in unique)
            feats = self.encode(input_ids[unique, :width], attention_mask[unique, :width])
            for i, row in enumerate(unique):
                self.cache[keys[row]] = feats[i, :lengths[row]].detach().clone()
        out = input_ids.new_zeros((*input_ids.shape, self.dim), dtype=torch.float32)
        for row, key in enumerate(keys):
            out[row, :lengths[row]] = self.cache[key]
        while len(self.cache) > self.cache_size:  # least recently used first
            self.cache.popitem(last=False)
        return out


def check_same_vocabulary(cfg, folder):
    """The data set's tokenizer (MODEL.TEXT.TOKENIZER) must be the translator's own: the same ids
    mean the same words, or the translator reads noise."""
    ours = text_tokenizer(cfg).get_vocab()
    try:
        theirs = build_tokenizer(folder, key="MODEL.TEXT.TRANSLATOR").get_vocab()
    except ConfigError:
        return  # the translator ships no tokenizer: nothing to compare with
    if ours != theirs:
        differ = sorted(set(ours.items()) ^ set(theirs.items()))[:3]
        raise ConfigError(
            f"MODEL.TEXT.TRANSLATOR '{cfg.MODEL.TEXT.TRANSLATOR}' ({folder}) uses another "
            f"vocabulary than MODEL.TEXT.TOKENIZER '{cfg.MODEL.TEXT.TOKENIZER or 'packaged'}' "
            f"({len(theirs)} vs {len(ours)} tokens; e.g. {differ}): set MODEL.TEXT.TOKENIZER to "
            f"the translator's folder {folder}")


def build_text_translator(cfg, vocab_size, dim):
    if not cfg.MODEL.TEXT.TRANSLATOR:
        return LearnedTokenEmbedding(vocab_size, dim)
    if cfg.MODEL.TEXT.CACHE_SIZE < 0:
        raise ConfigError(f"MODEL.TEXT.CACHE_SIZE must be >= 0 (0: no cache), got {cfg.MODEL.TEXT.CACHE_SIZE}")
    folder = resolve_text_model(cfg)
    check_same_vocabulary(cfg, folder)
    return PretrainedTextTranslator(folder, freeze=cfg.MODEL.TEXT.FREEZE_TRANSLATOR,
                                    cache_size=cfg.MODEL.TEXT.CACHE_SIZE)


def pretrained_word_embeddings(cfg, vocab_size):
    """MMET's word embeddings: those of the text model MODEL.TEXT.TRANSLATOR."""
    from transformers import AutoModel
    folder = resolve_text_model(cfg)
    weight = AutoModel.from_pretrained(folder, local_files_only=True).get_input_embeddings().weight
    if weight.shape[0] != vocab_size:
        raise ConfigError(f"MODEL.TEXT.TRANSLATOR: '{folder}' has {weight.shape[0]} word embeddings "
                          f"but the tokenizer (MODEL.TEXT.TOKENIZER) {vocab_size} tokens")
    freeze = cfg.MODEL.TEXT.FREEZE_TRANSLATOR
    embedding = nn.Embedding.from_pretrained(weight.detach().clone(), freeze=freeze)
    logger.info("MMET word embeddings from %s (%d x %d, %s)", folder, *weight.shape,
                "frozen" if freeze else "trained")
    return embedding
