import pytest

from fastreid_multimodal.data.text import build_tokenizer, packaged_text_model_dir, tokenize
from fastreid_multimodal.errors import ConfigError


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer("")


def test_real_words_get_real_ids(tokenizer):
    assert len(tokenizer) > 30000
    ids = tokenizer("a woman in a red coat with a backpack")["input_ids"]
    unk = tokenizer.unk_token_id
    assert unk not in ids and len(set(ids)) >= 7
    assert tokenizer.convert_ids_to_tokens(ids)[1:-1] == ["a", "woman", "in", "a", "red", "coat",
                                                          "with", "a", "backpack"]


def test_vocab_txt_path_is_not_the_five_token_trap(tmp_path):
    from transformers import BertTokenizer
    vocab = packaged_text_model_dir() + "/vocab.txt"
    trap = BertTokenizer(vocab_file=vocab)  # what the obvious call gives in transformers 5
    ours = build_tokenizer(vocab)
    if len(trap) < 100:  # the pitfall is real on this transformers version
        assert set(trap("red coat")["input_ids"][1:-1]) == {trap.unk_token_id}
    assert ours("red coat")["input_ids"] == build_tokenizer("")("red coat")["input_ids"]


def test_missing_tokenizer_path_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match="MODEL.TEXT.TOKENIZER.*nowhere"):
        build_tokenizer(str(tmp_path / "nowhere" / "vocab.txt"))


def test_tokenize_pads_truncates_and_counts(tokenizer):
    long = "a man with a " + "very " * 40 + "long coat"
    batch = tokenize(tokenizer, ["a red coat", long], max_length=16)
    assert batch.input_ids.shape == (2, 16) and batch.truncated == 1
    assert batch.input_ids[1, -1] == tokenizer.sep_token_id
    assert batch.attention_mask[0].sum() == 5  # [CLS] a red coat [SEP]
    with pytest.raises(ValueError, match="empty caption"):
        tokenize(tokenizer, ["ok", "  "], max_length=8)
