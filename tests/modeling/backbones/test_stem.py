"""MODEL.VIT.STEM: the patchify conv (ViT, TransReID) or a convolutional stem, in both backbones."""
import logging

import pytest
import torch
from fastreid.modeling.backbones import build_backbone
from fastreid.modeling.meta_arch import build_model
from fastreid.utils.events import EventStorage

from fastreid_multimodal.data.samples import IMAGE
from fastreid_multimodal.engine import load_config
from fastreid_multimodal.errors import ConfigError
from fastreid_multimodal.modeling.backbones.pretrained import load_vit_weights
from fastreid_multimodal.modeling.backbones.vit_parts import ConvStemPatchEmbed

TINY = ["MODEL.VIT.EMBED_DIM", "32", "MODEL.BACKBONE.FEAT_DIM", "32", "MODEL.VIT.DEPTH", "1",
        "MODEL.VIT.NUM_HEADS", "2", "MODEL.MMET.TEXT_DEPTH", "1", "MODEL.MMET.FUSION_DEPTH", "1",
        "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]", "MODEL.TEXT.MAX_LENGTH", "16",
        "MODEL.HEADS.NUM_CLASSES", "4", "MODEL.DEVICE", "cpu", "MODEL.IMAGE.TRANSLATOR", "",
        "MODEL.VIT.PATCH_SIZE", "16", "MODEL.BACKBONE.STRIDE_SIZE", "(16, 16)", "MODEL.VIT.STEM", "conv"]
CONFIGS = ("configs/Demo/mmet_synth.yml", "configs/Demo/dmf_stage1_synth.yml")


@pytest.mark.parametrize("config", CONFIGS)
def test_conv_stem_gives_one_token_per_patch_that_sees_only_its_neighbourhood(config):
    backbone = build_backbone(load_config(config, TINY)).eval()
    stem = backbone.patch_embed
    assert isinstance(stem, ConvStemPatchEmbed) and stem.grid_size == (4, 2)
    images = torch.rand(2, 3, 64, 32)
    tokens = stem(images)
    assert tokens.shape == (2, 8, 32)
    changed = images.clone()
    changed[:, :, 32:48, 16:] += 1.0  # the 16x16 patch of grid row 2, column 1
    moved = (stem(changed) - tokens).abs().amax(dim=(0, 2)).view(4, 2)
    # token (r, c) sees pixels 16r-15 .. 16r+15 (four 3x3 stride-2 convs): its own patch and the
    # 15 pixels before it, so this patch reaches its own token and the one below, nothing else
    assert moved[2, 1] > 0 and moved[3, 1] > 0
    assert moved[:2].max() == 0 and moved[:, 0].max() == 0
    assert backbone(images).shape == (2, 32, 1, 1)


def test_a_vit_checkpoint_loads_its_blocks_and_not_the_patch_kernel_into_a_conv_stem(tmp_path, caplog):
    cfg = load_config("configs/Demo/mmet_synth.yml", TINY)
    source = build_backbone(load_config("configs/Demo/mmet_synth.yml",
                                        TINY[:-2] + ["MODEL.VIT.STEM", "patch"]))
    path = tmp_path / "vit.pth"
    torch.save({k: v for k, v in source.state_dict().items() if not k.startswith(("text", "fusion",
                "word", "image_to", "text_to"))}, path)
    model = build_backbone(cfg)
    with caplog.at_level(logging.WARNING):
        loaded = load_vit_weights(model, str(path))
    assert "blocks.0.attn.qkv.weight" in loaded and "patch_embed.proj.weight" not in loaded
    assert torch.equal(model.blocks[0].attn.qkv.weight, source.blocks[0].attn.qkv.weight)
    assert "patch_embed.proj.weight" in caplog.text and "not loaded" in caplog.text


def test_mmet_trains_with_a_conv_stem_and_its_masks_fit_the_grid():
    torch.manual_seed(0)
    model = build_model(load_config("configs/Demo/mmet_synth.yml", TINY)).train()
    images = torch.rand(4, 3, 64, 32) * 255
    batch = {"modality": torch.full((4,), IMAGE), "targets": torch.tensor([0, 0, 1, 1]),
             "images": images, "patch_mask": torch.eye(4, 8, dtype=torch.bool)}
    with EventStorage(0):
        losses = model(batch)
    total = sum(losses.values())
    total.backward()
    assert torch.isfinite(total) and losses["loss_mim"] > 0
    assert model.backbone.patch_embed.stem[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("opts, message", [
    (["MODEL.VIT.STEM", "resnet"], "MODEL.VIT.STEM must be one of ['patch', 'conv']"),
    (["MODEL.BACKBONE.STRIDE_SIZE", "(12, 12)"], "MODEL.BACKBONE.STRIDE_SIZE must equal"),
    (["MODEL.VIT.PATCH_SIZE", "12", "MODEL.BACKBONE.STRIDE_SIZE", "(12, 12)"], "power of 2"),
    (["INPUT.SIZE_TEST", "[72, 32]"], "INPUT.SIZE_TEST [72, 32] must be a multiple"),
])
def test_bad_stem_settings_are_config_errors_naming_the_key(opts, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        build_backbone(load_config("configs/Demo/mmet_synth.yml", TINY + opts))
