"""Pre-trained models by name: local folder, 'packaged', a Hugging Face id or a timm name from the
local cache; offline and not cached is one clear error; nothing is ever downloaded here."""
import os
import shutil

import pytest
import torch

from fastreid_multimodal.engine import load_config
from fastreid_multimodal.errors import ConfigError
from fastreid_multimodal.modeling.backbones.pretrained import read_checkpoint, resolve_vit_weights
from fastreid_multimodal.modeling.backbones.text_translator import (PretrainedTextTranslator,
                                                                    build_text_translator)
from fastreid_multimodal.utils.hub import packaged_text_model_dir, resolve_text_model
from fastreid_multimodal.utils.safe_load import UnsafeCheckpointError

COMMIT = "0" * 40


def add_to_hub_cache(cache, repo_id, files):
    """Lay out ``files`` ({name: source path}) as the HF cache holds a downloaded repository."""
    repo = os.path.join(cache, "models--" + repo_id.replace("/", "--"))
    snapshot = os.path.join(repo, "snapshots", COMMIT)
    os.makedirs(snapshot, exist_ok=True)
    os.makedirs(os.path.join(repo, "refs"), exist_ok=True)
    with open(os.path.join(repo, "refs", "main"), "w") as f:
        f.write(COMMIT)
    for name, source in files.items():
        shutil.copy(source, os.path.join(snapshot, name))
    return snapshot


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    cache = str(tmp_path / "hub")
    monkeypatch.setenv("HF_HUB_CACHE", cache)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def cfg_with(*opts):
    return load_config("configs/Demo/dmf_stage1_synth.yml", list(opts), check_files=False)


def test_hub_id_resolves_from_the_local_cache(hub_cache):
    packaged = packaged_text_model_dir()
    names = ("config.json", "model.safetensors", "vocab.txt", "tokenizer.json",
             "tokenizer_config.json", "special_tokens_map.json")
    snapshot = add_to_hub_cache(hub_cache, "someone/minilm", {
        n: os.path.join(packaged, n) for n in names})
    cfg = cfg_with("MODEL.TEXT.TRANSLATOR", "someone/minilm")
    assert os.path.samefile(resolve_text_model(cfg), snapshot)
    translator = build_text_translator(cfg, 30522, 192)
    assert isinstance(translator, PretrainedTextTranslator) and translator.dim == 384
    # with MODEL.TEXT.TOKENIZER empty, captions are tokenized with the translator's own vocabulary
    from fastreid_multimodal.data.text import text_tokenizer
    assert text_tokenizer(cfg).name_or_path == snapshot


def test_uncached_hub_id_offline_is_one_error_naming_it(hub_cache):
    cfg = cfg_with("MODEL.TEXT.TRANSLATOR", "facebook/data2vec-text-base")
    with pytest.raises(ConfigError) as err:
        resolve_text_model(cfg)
    message = str(err.value)
    assert "MODEL.TEXT.TRANSLATOR" in message and "facebook/data2vec-text-base" in message
    assert "huggingface-cli download facebook/data2vec-text-base" in message
    assert "MODEL.ALLOW_DOWNLOAD" in message and hub_cache in message


def test_missing_local_folder_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_text_model(cfg_with("MODEL.TEXT.TRANSLATOR", str(tmp_path / "nowhere")))


def test_translator_with_another_vocabulary_is_refused(tmp_path):
    vocab = tmp_path / "vocab.txt"
    words = open(os.path.join(packaged_text_model_dir(), "vocab.txt")).read().split("\n")
    words[2000], words[2001] = words[2001], words[2000]  # same size, two ids swapped
    vocab.write_text("\n".join(words))
    cfg = cfg_with("MODEL.TEXT.TRANSLATOR", "packaged", "MODEL.TEXT.TOKENIZER", str(vocab))
    with pytest.raises(ConfigError, match="another vocabulary than MODEL.TEXT.TOKENIZER"):
        build_text_translator(cfg, len(words), 192)


def test_frozen_translator_encodes_each_caption_once_and_exactly():
    translator = PretrainedTextTranslator(packaged_text_model_dir()).train()
    ids = torch.tensor([[101, 2417, 5435, 102, 0], [101, 2304, 102, 0, 0], [101, 2417, 5435, 102, 0]])
    mask = ids != 0
    first = translator(ids, mask)
    assert translator.cache_misses == 2 and translator.cache_hits == 1
    direct = translator.encode(ids, mask) * mask[..., None]
    torch.testing.assert_close(first, direct, atol=1e-5, rtol=1e-5)
    again = translator(ids[[1, 0]], mask[[1, 0]])
    assert translator.cache_misses == 2 and translator.cache_hits == 3
    assert torch.equal(again, first[[1, 0]])


def test_frozen_translator_cache_keeps_the_most_recently_used_captions_only():
    ids = torch.tensor([[101, 2417, 5435, 102, 0], [101, 2304, 102, 0, 0]])
    mask = ids != 0
    bounded = PretrainedTextTranslator(packaged_text_model_dir(), cache_size=1).train()
    first = bounded(ids, mask)
    assert list(bounded.cache) == [(101, 2304, 102)]  # the batch's last caption
    bounded(ids[:1], mask[:1])
    assert list(bounded.cache) == [(101, 2417, 5435, 102)] and bounded.cache_misses == 3
    uncached = PretrainedTextTranslator(packaged_text_model_dir(), cache_size=0).train()
    torch.testing.assert_close(uncached(ids, mask), first, atol=1e-5, rtol=1e-5)
    assert not uncached.cache


def test_the_cache_is_kept_on_the_cpu_only():
    """On a GPU a step's captions are encoded in one batched call (no ids read back, no loop)."""
    translator = PretrainedTextTranslator(packaged_text_model_dir())
    assert translator.caches_on("cpu") and not translator.caches_on("cuda:0")
    assert not PretrainedTextTranslator(packaged_text_model_dir(), cache_size=0).caches_on("cpu")
    assert not PretrainedTextTranslator(packaged_text_model_dir(), freeze=False).caches_on("cpu")


def test_negative_cache_size_is_a_config_error_naming_the_key():
    cfg = cfg_with("MODEL.TEXT.TRANSLATOR", "packaged", "MODEL.TEXT.CACHE_SIZE", "-5")
    with pytest.raises(ConfigError, match="MODEL.TEXT.CACHE_SIZE must be >= 0"):
        build_text_translator(cfg, 30522, 192)


def test_timm_name_resolves_from_the_local_cache(hub_cache, tmp_path):
    timm = pytest.importorskip("timm")
    from safetensors.torch import save_file
    name = "vit_tiny_patch16_224.augreg_in21k_ft_in1k"
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False)
    weights = tmp_path / "model.safetensors"
    save_file(model.state_dict(), str(weights))
    add_to_hub_cache(hub_cache, "timm/" + name, {"model.safetensors": str(weights)})
    path = resolve_vit_weights(name)
    state = read_checkpoint(name, "MODEL.BACKBONE.PRETRAIN_PATH")
    assert path.endswith("model.safetensors")
    assert torch.equal(state["pos_embed"], model.state_dict()["pos_embed"])
    with pytest.raises(ConfigError, match="vit_small_patch16_224.augreg_in21k_ft_in1k"):
        resolve_vit_weights("vit_small_patch16_224.augreg_in21k_ft_in1k")


def test_weight_file_with_code_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "ran"),))

    path = tmp_path / "evil.pth"
    torch.save({"model": {"w": torch.zeros(1)}, "x": Payload()}, str(path))
    with pytest.raises(UnsafeCheckpointError, match="evil.pth.*posix.system"):
        read_checkpoint(str(path), "MODEL.BACKBONE.PRETRAIN_PATH")
    assert not (tmp_path / "ran").exists()


def test_checkpoint_blocks_beyond_the_model_depth_are_named(tmp_path, caplog):
    import logging

    from fastreid.modeling.meta_arch import build_model
    timm = pytest.importorskip("timm")
    vit = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=0, depth=4)
    path = tmp_path / "vit_tiny.pth"
    torch.save(vit.state_dict(), path)
    cfg = load_config("configs/Base-Baseline.yml", [
        "MODEL.BACKBONE.NAME", "build_dmf_vit_backbone", "MODEL.VIT.EMBED_DIM", "192",
        "MODEL.BACKBONE.FEAT_DIM", "192", "MODEL.VIT.DEPTH", "2", "MODEL.VIT.NUM_HEADS", "3",
        "MODEL.HEADS.POOL_LAYER", "Identity", "MODEL.HEADS.NUM_CLASSES", "2", "MODEL.DEVICE", "cpu",
        "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]",
        "MODEL.BACKBONE.PRETRAIN", "True", "MODEL.BACKBONE.PRETRAIN_PATH", str(path)])
    with caplog.at_level(logging.INFO, logger="fastreid.multimodal"):
        backbone = build_model(cfg).backbone
    assert "blocks 2-3 of the checkpoint are not loaded: the model has 2 blocks" in caplog.text
    assert torch.equal(backbone.blocks[1].attn.qkv.weight, vit.blocks[1].attn.qkv.weight)
