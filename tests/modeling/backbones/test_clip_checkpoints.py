"""CLIP ViT-B/16 image towers (OpenAI's and open_clip's key names) load into the multimodal ViT's
image path and as the image translator: every encoder tensor placed, positions resampled to the
config's grid, and the loaded image path computes CLIP's own image features. The state dict is
synthesised from a randomly initialised open_clip ViT-B-16 (no download)."""
import copy
import logging

import pytest
import torch
from fastreid.modeling.meta_arch import build_model

from fastreid_multimodal.engine import load_config
from vit_b import vit_b as shared_vit_b
from fastreid_multimodal.errors import ConfigError
from fastreid_multimodal.modeling.backbones.pretrained import (checkpoint_filter_fn,
                                                               missing_encoder_keys,
                                                               read_checkpoint)

open_clip = pytest.importorskip("open_clip", reason="open-clip-torch (the test extra) synthesises CLIP")

CLIP_MEAN = [v * 255 for v in (0.48145466, 0.4578275, 0.40821073)]
CLIP_STD = [v * 255 for v in (0.26862954, 0.26130258, 0.27577711)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """(open_clip ViT-B-16 in eval mode, its state dict saved as a file)."""
    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-16", pretrained=None).eval()
    path = tmp_path_factory.mktemp("clip") / "open_clip_vit_b16.pth"
    torch.save(model.state_dict(), path)
    return model, str(path)


def vit_b(path, *opts):
    return shared_vit_b(path, "MODEL.VIT.PRE_NORM", "True", *opts)  # CLIP's ln_pre


def clip_normalised(images):
    mean, std = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return (images - mean) / std


def test_open_clip_vit_b16_loads_with_no_missing_encoder_key_at_transreids_grid(clip, caplog):
    model, path = clip
    with caplog.at_level(logging.INFO, logger="fastreid.multimodal"):
        backbone = vit_b(path, "MODEL.BACKBONE.STRIDE_SIZE", "(12, 12)", "INPUT.SIZE_TRAIN",
                         "[256, 128]", "INPUT.SIZE_TEST", "[256, 128]")  # 21x10 patches
    state = model.state_dict()
    loaded = checkpoint_filter_fn(state, backbone)
    assert missing_encoder_keys(backbone, loaded) == []
    assert backbone.pos_embed.shape == (1, 1 + 21 * 10, 768)
    assert "pos_embed resampled from 14x14 to 21x10" in caplog.text
    assert "CLIP image tower 'visual.*'" in caplog.text and "head.weight" in caplog.text  # CLIP's proj
    assert "image-encoder tensors of the model are not in the checkpoint" not in caplog.text
    assert torch.equal(backbone.blocks[5].attn.qkv.weight,
                       state["visual.transformer.resblocks.5.attn.in_proj_weight"])
    assert torch.equal(backbone.blocks[5].mlp.fc2.bias,
                       state["visual.transformer.resblocks.5.mlp.c_proj.bias"])
    assert torch.equal(backbone.norm_pre.weight, state["visual.ln_pre.weight"])
    assert torch.equal(backbone.norm.weight, state["visual.ln_post.weight"])
    assert torch.equal(backbone.cls_token.flatten(), state["visual.class_embedding"])
    assert torch.equal(backbone.pos_embed[0, 0], state["visual.positional_embedding"][0])
    assert not backbone.patch_embed.proj.bias.any()  # CLIP's patch convolution has no bias

    # OpenAI's names (its state dict also holds three integers), an open_clip training
    # checkpoint (wrapped, DDP prefix) and a tower saved alone all give the same tensors
    openai = {**state, "input_resolution": torch.tensor(224), "context_length": torch.tensor(77),
              "vocab_size": torch.tensor(49408)}
    trained = {"epoch": 10, "name": "run", "state_dict": {"module." + k: v for k, v in state.items()}}
    alone = {k[len("visual."):]: v for k, v in state.items() if k.startswith("visual.")}
    for variant in (openai, trained, alone):
        again = checkpoint_filter_fn(variant, backbone)
        assert again.keys() == loaded.keys()
        assert all(torch.equal(again[k], loaded[k]) for k in loaded)


def test_the_loaded_image_path_computes_clips_image_features(clip):
    model, path = clip
    backbone = vit_b(path, "INPUT.SIZE_TRAIN", "[224, 224]", "INPUT.SIZE_TEST", "[224, 224]",
                     "MODEL.BACKBONE.STRIDE_SIZE", "(16, 16)")
    images = clip_normalised(torch.rand(2, 3, 224, 224) * 255)
    visual = copy.copy(model.visual)
    visual.proj = None  # CLIP's image-text projection is not part of the Re-ID encoder
    with torch.no_grad():
        expected = visual(images)
        got = backbone.forward_image(images)
    # only the final LayerNorm's eps differs (1e-6 here, 1e-5 in CLIP)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_a_clip_tower_as_image_translator_gives_its_patch_tokens(clip):
    model, path = clip
    cfg = load_config("configs/Demo/Base-DMF-tiny.yml", [
        "MODEL.VIT.EMBED_DIM", "32", "MODEL.BACKBONE.FEAT_DIM", "32", "MODEL.VIT.DEPTH", "1",
        "MODEL.VIT.NUM_HEADS", "2", "INPUT.SIZE_TRAIN", "[224, 224]", "INPUT.SIZE_TEST", "[224, 224]",
        "MODEL.TEXT.PATH", "off", "MODEL.HEADS.NUM_CLASSES", "4", "MODEL.DEVICE", "cpu",
        "MODEL.IMAGE.TRANSLATOR", path], check_files=False)
    translator = build_model(cfg).eval().backbone.patch_embed
    assert translator.dim == 768 and translator.grid_size == (14, 14) and translator.frozen
    # auto: a CLIP layout is taken for OpenAI's weights, trained with QuickGELU; the reference
    # tower gets the same activation
    assert type(translator.network.blocks[0].mlp.act).__name__ == "QuickGELU"
    visual = copy.deepcopy(model.visual)
    for block in visual.transformer.resblocks:
        block.mlp.gelu = open_clip.transformer.QuickGELU()
    visual.output_tokens = True
    raw = torch.rand(1, 3, 224, 224) * 255
    with torch.no_grad():
        _, expected = visual(clip_normalised(raw))
        got = translator((raw - 127.5) / 127.5)  # the DMF config's own pixel normalisation
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_openais_torchscript_release_is_refused_with_the_way_to_convert_it(tmp_path, monkeypatch):
    path = tmp_path / "ViT-B-16.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    with pytest.raises(ConfigError, match="TorchScript archive.*torch.jit.load"):
        read_checkpoint(str(path), "MODEL.BACKBONE.PRETRAIN_PATH")
    monkeypatch.setenv("FASTREID_TRUSTED_CHECKPOINTS", str(path))  # trusted: its state dict
    assert set(read_checkpoint(str(path), "MODEL.BACKBONE.PRETRAIN_PATH")) == {"weight", "bias"}
