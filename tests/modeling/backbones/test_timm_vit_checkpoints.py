"""timm / DeiT ViT-B/16 checkpoints, TransReID's starting points, load into the multimodal ViT's
image path and as the image translator. Synthesised from a randomly initialised timm
vit_base_patch16_224 (TransReID's jx_vit_base and DeiT-B share its architecture); DeiT's distilled
release layout (+ dist_token, head_dist, a 198-token pos_embed, wrapped in "model") is built from
the same tensors. No download."""
import logging

import pytest
import torch
from fastreid.modeling.meta_arch import build_model

from fastreid_multimodal.engine import load_config
from vit_b import vit_b
from fastreid_multimodal.modeling.backbones.pretrained import checkpoint_filter_fn, missing_encoder_keys

timm = pytest.importorskip("timm")

IMAGENET_MEAN = [v * 255 for v in (0.485, 0.456, 0.406)]
IMAGENET_STD = [v * 255 for v in (0.229, 0.224, 0.225)]


@pytest.fixture(scope="module")
def vit(tmp_path_factory):
    """(timm vit_base_patch16_224 in eval mode, its state dict saved as a bare file, as jx_vit)."""
    torch.manual_seed(0)
    model = timm.create_model("vit_base_patch16_224", pretrained=False).eval()
    path = tmp_path_factory.mktemp("vit") / "vit_base_p16_224.pth"
    torch.save(model.state_dict(), path)
    return model, str(path)




def test_the_loaded_image_path_computes_the_timm_vits_features(vit):
    model, path = vit
    backbone = vit_b(path, "INPUT.SIZE_TRAIN", "[224, 224]", "INPUT.SIZE_TEST", "[224, 224]",
                     "MODEL.BACKBONE.STRIDE_SIZE", "(16, 16)")
    assert missing_encoder_keys(backbone, checkpoint_filter_fn(model.state_dict(), backbone)) == []
    images = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected = model.forward_features(images)[:, 0]
        got = backbone.forward_image(images)
    # the blocks' LayerNorm eps differs (1e-5 here, 1e-6 in timm's ViT)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_a_deit_distilled_checkpoint_loads_at_transreids_grid(vit, tmp_path, caplog):
    model, _ = vit
    state = model.state_dict()
    dist_token, dist_pos = torch.randn(1, 1, 768), torch.randn(1, 1, 768)
    pos_embed = torch.cat([state["pos_embed"][:, :1], dist_pos, state["pos_embed"][:, 1:]], dim=1)
    deit = {"model": {**state, "dist_token": dist_token, "pos_embed": pos_embed,
                      "head_dist.weight": torch.randn(1000, 768), "head_dist.bias": torch.zeros(1000)}}
    path = tmp_path / "deit_base_distilled_patch16_224.pth"
    torch.save(deit, path)
    with caplog.at_level(logging.INFO, logger="fastreid.multimodal"):
        backbone = vit_b(str(path), "INPUT.SIZE_TRAIN", "[256, 128]", "INPUT.SIZE_TEST", "[256, 128]",
                         "MODEL.BACKBONE.STRIDE_SIZE", "(12, 12)")
    assert missing_encoder_keys(backbone, checkpoint_filter_fn(deit, backbone)) == []
    assert backbone.pos_embed.shape == (1, 1 + 21 * 10, 768)
    assert torch.equal(backbone.pos_embed[0, 0], pos_embed[0, 0])  # [cls]'s, not the distillation token's
    assert torch.equal(backbone.blocks[11].attn.proj.weight, state["blocks.11.attn.proj.weight"])
    assert "pos_embed resampled from 14x14 to 21x10" in caplog.text
    assert "have no place in the model, not loaded" in caplog.text and "dist_token" in caplog.text
    assert "head_dist.weight" in caplog.text and "head.weight" in caplog.text


def test_a_timm_vit_file_as_image_translator_gives_its_patch_tokens(vit):
    model, path = vit
    cfg = load_config("configs/Demo/Base-DMF-tiny.yml", [
        "MODEL.VIT.EMBED_DIM", "32", "MODEL.BACKBONE.FEAT_DIM", "32", "MODEL.VIT.DEPTH", "1",
        "MODEL.VIT.NUM_HEADS", "2", "INPUT.SIZE_TRAIN", "[224, 224]", "INPUT.SIZE_TEST", "[224, 224]",
        "MODEL.TEXT.PATH", "off", "MODEL.HEADS.NUM_CLASSES", "4", "MODEL.DEVICE", "cpu",
        "MODEL.IMAGE.TRANSLATOR", path], check_files=False)
    translator = build_model(cfg).eval().backbone.patch_embed
    assert translator.dim == 768 and translator.grid_size == (14, 14)
    assert type(translator.network.blocks[0].mlp.act).__name__ == "GELU"  # auto: timm layout
    raw = torch.rand(1, 3, 224, 224) * 255
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = model.forward_features((raw - mean) / std)[:, 1:]  # auto: ImageNet statistics
        got = translator((raw - 127.5) / 127.5)  # the DMF config's own pixel normalisation
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("opts, key", [
    (["MODEL.VIT.ACT_LAYER", "relu", "MODEL.IMAGE.TRANSLATOR", ""], "MODEL.VIT.ACT_LAYER"),
    (["MODEL.IMAGE.VIT_NORM", "imagenet21k"], "MODEL.IMAGE.VIT_NORM"),
    (["MODEL.IMAGE.VIT_ACT_LAYER", "silu"], "MODEL.IMAGE.VIT_ACT_LAYER"),
])
def test_unknown_activation_or_statistics_names_are_config_errors_naming_the_key(vit, opts, key):
    from fastreid_multimodal.errors import ConfigError
    _, path = vit
    cfg = load_config("configs/Demo/Base-DMF-tiny.yml", [
        "MODEL.VIT.EMBED_DIM", "32", "MODEL.BACKBONE.FEAT_DIM", "32", "MODEL.VIT.DEPTH", "1",
        "MODEL.VIT.NUM_HEADS", "2", "MODEL.TEXT.PATH", "off", "MODEL.DEVICE", "cpu",
        "MODEL.IMAGE.TRANSLATOR", path, *opts], check_files=False)
    with pytest.raises(ConfigError, match=key):
        build_model(cfg)
