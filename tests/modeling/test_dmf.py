"""DMF backbone and meta-architecture: shared blocks, per-modality paths, losses, loading."""
import os

import pytest
import torch
from fastreid.modeling.meta_arch import build_model
from fastreid.utils.checkpoint import Checkpointer
from fastreid.utils.events import EventStorage

from fastreid_multimodal.engine import load_config
from fastreid_multimodal.errors import ConfigError

TINY = ["MODEL.VIT.EMBED_DIM", "32", "MODEL.BACKBONE.FEAT_DIM", "32", "MODEL.VIT.DEPTH", "2",
        "MODEL.VIT.NUM_HEADS", "2", "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]",
        "MODEL.TEXT.MAX_LENGTH", "16", "MODEL.HEADS.NUM_CLASSES", "4", "MODEL.DEVICE", "cpu",
        "MODEL.BACKBONE.DROP_PATH_RATIO", "0.0",
        "MODEL.IMAGE.TRANSLATOR", ""]  # the patch embedding: every image-path weight trains
IMAGE_PATH = ("patch_embed", "image_proj", "cls_token", "pos_embed")
TEXT_PATH = ("text_proj", "text_cls_token", "text_pos_embed")  # the translator is frozen


def tiny_dmf(*extra, config="configs/Demo/Base-DMF-tiny.yml"):
    torch.manual_seed(0)
    return build_model(load_config(config, TINY + list(extra)))


def batch(modalities):
    modality = torch.tensor(modalities)
    n_img, n_txt = int((modality == 0).sum()), int((modality == 1).sum())
    out = {"modality": modality, "targets": torch.arange(len(modalities)) % 2}
    if n_img:
        out["images"] = torch.rand(n_img, 3, 64, 32) * 255
    if n_txt:
        ids = torch.randint(1000, 2000, (n_txt, 10))
        ids[:, 0], ids[:, -1] = 101, 102
        mask = torch.ones_like(ids, dtype=torch.bool)
        mask[0, 6:] = False  # one padded caption
        out["text_ids"], out["text_mask"] = ids.masked_fill(~mask, 0), mask
    return out


def test_modalities_have_own_paths_and_share_the_blocks():
    backbone = tiny_dmf().backbone
    assert backbone.cls_token is not backbone.text_cls_token
    assert backbone.pos_embed.shape[1] == 1 + 8 and backbone.text_pos_embed.shape[1] == 17
    calls = []
    backbone.blocks[0].register_forward_hook(lambda m, i, o: calls.append(i[0].shape[1]))
    backbone.forward_image(torch.rand(2, 3, 64, 32))
    backbone.forward_text(torch.randint(0, 100, (2, 5)), torch.ones(2, 5, dtype=torch.bool))
    assert calls == [9, 6]  # the same block object ran the image and the text sequence


def test_padding_does_not_change_the_text_feature():
    backbone = tiny_dmf().backbone.eval()
    ids = torch.randint(1000, 2000, (1, 6))
    mask = torch.ones(1, 6, dtype=torch.bool)
    padded = torch.cat([ids, torch.zeros(1, 4, dtype=torch.long)], 1)
    padded_mask = torch.cat([mask, torch.zeros(1, 4, dtype=torch.bool)], 1)
    torch.testing.assert_close(backbone.forward_text(ids, mask),
                               backbone.forward_text(padded, padded_mask))


@pytest.mark.parametrize("modalities,trained,untouched", [
    ([1, 1, 1, 1], TEXT_PATH, IMAGE_PATH),
    ([0, 0, 0, 0], IMAGE_PATH, TEXT_PATH),
    ([0, 1, 1, 0], IMAGE_PATH + TEXT_PATH, ()),
])
def test_losses_and_gradients_reach_the_right_parameters(modalities, trained, untouched):
    model = tiny_dmf().train()
    with EventStorage(0):
        losses = model(batch(modalities))
    assert set(losses) == {"loss_cls", "loss_triplet"}
    sum(losses.values()).backward()
    grads = {n: p.grad for n, p in model.backbone.named_parameters()}

    def has_grad(prefix):
        return any(g is not None and g.abs().sum() > 0 for n, g in grads.items() if n.startswith(prefix))

    assert has_grad("blocks.0") and model.heads.weight.grad.abs().sum() > 0
    assert not has_grad("text_translator")  # pre-trained and frozen (demo configs)
    for prefix in trained:
        assert has_grad(prefix), prefix
    for prefix in untouched:
        assert not has_grad(prefix), prefix


@pytest.mark.parametrize("modalities", [[0, 0, 0, 0], [1, 1, 1, 1], [0, 1, 1, 0]])
def test_per_modality_classifier_keeps_captions_off_the_image_class_weights(modalities):
    """per_modality: a caption's ID loss moves only ``text_weight``, an image's only the head's
    weight; the shared classifier (DMF) gets both. Image logits are the shared model's."""
    shared, own = tiny_dmf().train(), tiny_dmf("MODEL.DMF.CLASSIFIER", "per_modality").train()
    assert shared.text_weight is None
    torch.testing.assert_close(own.text_weight, own.heads.weight)  # same start, own tensor
    assert own.text_weight.data_ptr() != own.heads.weight.data_ptr()
    own.text_weight.data.add_(0.5 * torch.randn_like(own.text_weight))  # tell the two apart
    data = batch(modalities)
    with EventStorage(0):
        losses = own(data)
        reference = shared(data)
    losses["loss_cls"].backward()
    has_images, has_texts = 0 in modalities, 1 in modalities
    assert (own.heads.weight.grad is not None and own.heads.weight.grad.abs().sum() > 0) == has_images
    assert (own.text_weight.grad is not None and own.text_weight.grad.abs().sum() > 0) == has_texts
    if not has_texts:  # nothing else differs from the shared model
        torch.testing.assert_close(losses["loss_cls"], reference["loss_cls"])
    else:
        assert not torch.allclose(losses["loss_cls"], reference["loss_cls"])



@pytest.mark.parametrize("modalities,idle,trained", [("image", TEXT_PATH, IMAGE_PATH),
                                                     ("text", IMAGE_PATH, TEXT_PATH)])
def test_a_modality_never_trained_on_is_frozen_and_ddp_needs_no_unused_search(modalities, idle, trained):
    """Single-modality runs (stage II: images) freeze the other path, so that no parameter that
    requires a gradient goes without one (DDP's find_unused_parameters stays off)."""
    model = tiny_dmf("MODEL.DMF.MODALITIES", modalities, "MODEL.DMF.CLASSIFIER", "per_modality").train()
    assert not model.may_skip_parameters and tiny_dmf().may_skip_parameters  # "both" may skip
    names = {n for n, p in model.backbone.named_parameters() if not p.requires_grad}
    assert all(any(n.startswith(prefix) for n in names) for prefix in idle)
    assert not any(n.startswith(trained) for n in names)
    assert model.text_weight.requires_grad == (modalities == "text")
    with EventStorage(0):
        losses = model(batch([0, 0, 0, 0] if modalities == "image" else [1, 1, 1, 1]))
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)

def test_bad_dmf_classifier_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError, match=r"MODEL.DMF.CLASSIFIER must be one of .*'split'"):
        tiny_dmf("MODEL.DMF.CLASSIFIER", "split")


def test_features_keep_batch_order():
    model = tiny_dmf().eval()
    mixed = batch([1, 0, 1, 0])
    feats = model.features(mixed)
    images_only = model.backbone.forward_image(model.preprocess_image(mixed["images"]))
    texts_only = model.backbone.forward_text(mixed["text_ids"], mixed["text_mask"])
    torch.testing.assert_close(feats[[1, 3]], images_only)
    torch.testing.assert_close(feats[[0, 2]], texts_only)


def test_stage_two_loads_every_image_path_weight(tmp_path):
    stage1 = tiny_dmf("MODEL.HEADS.NUM_CLASSES", "10")
    Checkpointer(stage1, str(tmp_path)).save("model_final")
    stage2 = tiny_dmf("MODEL.HEADS.NUM_CLASSES", "3", "MODEL.DMF.MODALITIES", "image")
    Checkpointer(stage2).load(str(tmp_path / "model_final.pth"))
    before = dict(stage1.state_dict())
    after = stage2.state_dict()
    image_keys = [k for k in after if k.startswith(("backbone.patch_embed", "backbone.image_proj",
                                                    "backbone.cls_token", "backbone.pos_embed",
                                                    "backbone.blocks", "backbone.norm"))]
    assert len(image_keys) > 10
    for key in image_keys:
        assert torch.equal(before[key], after[key]), key
    assert after["heads.weight"].shape == (3, 32)


def test_pos_embed_resampled_from_a_14x14_checkpoint(tmp_path):
    import timm
    from timm.layers import resample_abs_pos_embed
    vit = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=0)
    path = tmp_path / "vit_tiny.pth"
    torch.save(vit.state_dict(), path)
    model = build_model(load_config("configs/Base-DMF.yml", [
        "MODEL.VIT.EMBED_DIM", "192", "MODEL.BACKBONE.FEAT_DIM", "192", "MODEL.VIT.DEPTH", "12",
        "MODEL.VIT.NUM_HEADS", "3", "MODEL.HEADS.NUM_CLASSES", "2", "MODEL.DEVICE", "cpu",
        "MODEL.BACKBONE.PRETRAIN", "True", "MODEL.BACKBONE.PRETRAIN_PATH", str(path)]))
    backbone = model.backbone
    assert backbone.patch_embed.grid_size == (21, 10)  # 256x128, patch 16, stride 12
    expected = resample_abs_pos_embed(vit.pos_embed.detach(), new_size=[21, 10], old_size=[14, 14],
                                      num_prefix_tokens=1)
    torch.testing.assert_close(backbone.pos_embed.detach(), expected)
    torch.testing.assert_close(backbone.blocks[5].attn.qkv.weight, vit.blocks[5].attn.qkv.weight)
    torch.testing.assert_close(backbone.patch_embed.proj.weight, vit.patch_embed.proj.weight)


def test_stock_baseline_can_use_the_backbone():
    cfg = load_config("configs/Base-Baseline.yml", TINY + [
        "MODEL.BACKBONE.NAME", "build_dmf_vit_backbone", "MODEL.HEADS.POOL_LAYER", "Identity"])
    model = build_model(cfg).train()
    with EventStorage(0):
        losses = model({"images": torch.rand(4, 3, 64, 32) * 255, "targets": torch.tensor([0, 0, 1, 1])})
    assert losses["loss_cls"] > 0


@pytest.mark.parametrize("config", sorted(f"configs/DMF/{c}" for c in os.listdir("configs/DMF")
                                          if c.endswith(".yml") and not c.startswith("Base")))
def test_paper_configs_build_with_the_right_shapes(config):
    cfg = load_config(config, ["MODEL.HEADS.NUM_CLASSES", "8", "MODEL.BACKBONE.PRETRAIN", "False"])
    assert tuple(cfg.INPUT.SIZE_TRAIN) == (256, 128) and cfg.SOLVER.IMS_PER_BATCH == 64
    assert cfg.SOLVER.BASE_LR == 0.01 and cfg.SOLVER.MAX_EPOCH == 120
    model = build_model(cfg).eval()
    assert model.backbone.patch_embed.grid_size == (21, 10)
    assert sum(p.numel() for p in model.backbone.blocks.parameters()) > 80e6  # ViT-B
    with torch.no_grad():
        feats = model({"images": torch.rand(2, 3, 256, 128) * 255})
    assert feats.shape == (2, 768)


@pytest.mark.parametrize("config", ["configs/DMF/real/duke_to_market.yml",
                                    "configs/DMF/real/baseline_duke_to_market.yml"])
def test_real_photo_configs_train_on_duke_identities_and_test_on_market(config):
    """CPU-scale stage II of the real-photo table: the DMF config is the demo model (so the
    synthetic table's stage I loads), the anchor FastReID's stock Baseline; same data, epochs."""
    cfg = load_config(config, ["MODEL.HEADS.NUM_CLASSES", "8"])
    assert cfg.DATASETS.NAMES == ("DukeMTMCSubset",) and cfg.DATASETS.TESTS == ("Market1501",)
    assert (cfg.DATASETS.HELD_OUT.TRAIN_IDS, cfg.DATASETS.HELD_OUT.VAL_IDS, cfg.SOLVER.MAX_EPOCH) == (200, 100, 6)
    stage1 = load_config("configs/Demo/dmf_stage1_synth.yml" if "baseline" not in config
                         else "configs/Demo/baseline_stage1_synth.yml")
    assert cfg.MODEL.BACKBONE == stage1.MODEL.BACKBONE and tuple(cfg.INPUT.SIZE_TRAIN) == (128, 64)
    with torch.no_grad():
        feats = build_model(cfg).eval()({"images": torch.rand(2, 3, 128, 64) * 255})
    assert feats.shape == (2, cfg.MODEL.BACKBONE.FEAT_DIM)


def test_bad_inputs(tmp_path):
    with pytest.raises(ConfigError, match="PRETRAIN_PATH.*does not exist"):
        load_config("configs/Demo/Base-DMF-tiny.yml", ["MODEL.BACKBONE.PRETRAIN", "True",
                                                     "MODEL.BACKBONE.PRETRAIN_PATH", str(tmp_path / "x.pth")])
    with pytest.raises(ConfigError, match="PRETRAIN_PATH is empty"):
        tiny_dmf("MODEL.BACKBONE.PRETRAIN", "True")
    text_only = tiny_dmf("MODEL.DMF.MODALITIES", "text").eval()
    with pytest.raises(ConfigError, match="image features"):
        text_only({"images": torch.rand(1, 3, 64, 32)})


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    from fastreid_multimodal.engine.trainer import check_checkpoint_matches
    resnet = build_model(load_config("configs/Base-Baseline.yml", [
        "MODEL.HEADS.NUM_CLASSES", "4", "MODEL.DEVICE", "cpu"]))
    Checkpointer(resnet, str(tmp_path)).save("resnet")
    with pytest.raises(ConfigError) as exc:
        check_checkpoint_matches(tiny_dmf(), str(tmp_path / "resnet.pth"))
    message = str(exc.value)
    assert "missing in the checkpoint: backbone.blocks" in message
    assert "unexpected in the checkpoint: backbone.bn1, backbone.conv1" in message


# -- host reads (synchronisations on a GPU) -----------------------------------------------------------
DMF_FILES = ("meta_arch/dmf.py", "losses/cross_entropy.py", "losses/triplet.py", "compat/losses.py",
             "losses/cross_entroy_loss.py", "losses/triplet_loss.py")  # the last two: fastreid's


@pytest.mark.parametrize("weight", ["1.0", "0.1"])
def test_a_collated_batch_trains_without_reading_the_device_back(weight, monkeypatch):
    """With MultimodalCollate's layout the meta-architecture, its losses and fastreid's (patched)
    loss functions group the batch with index tensors: no .item(), nonzero or mask indexing of
    theirs in a training step (forward and backward). The control: fastreid's own loss functions
    are seen reading."""
    import sys
    from host_reads import HostReads
    from fastreid_multimodal import compat
    from fastreid_multimodal.data.multimodal import modality_layout
    from fastreid_multimodal.modeling.losses import cross_entropy, triplet
    model = tiny_dmf("MODEL.DMF.TEXT_LOSS_WEIGHT", weight, "MODEL.LOSSES.TRI.MARGIN", "0.0").train()
    data = batch([0, 1, 0, 1, 1, 0])
    data["layout"] = modality_layout(data["modality"])

    def reads():
        counter = HostReads()
        with EventStorage(0), counter:
            sum(model(data).values()).backward()
        return {k: v for k, v in counter.where.items() if k.split(":")[0].endswith(DMF_FILES)}
    assert not reads()
    for ours, stock in ((cross_entropy, "fastreid.modeling.losses.cross_entroy_loss"),
                        (triplet, "fastreid.modeling.losses.triplet_loss")):
        name = stock.rsplit(".", 1)[1].replace("cross_entroy_loss", "cross_entropy_loss")
        monkeypatch.setattr(ours, name, compat.original(sys.modules[stock], name))
    stock_reads = reads()
    assert any("cross_entroy_loss.py" in k for k in stock_reads)
    assert any("triplet_loss.py" in k for k in stock_reads) == (weight == "1.0")  # else ours


@pytest.mark.parametrize("extra", [(), ("MODEL.DMF.TEXT_LOSS_WEIGHT", "0.1"),
                                   ("MODEL.DMF.CLASSIFIER", "per_modality")])
def test_the_layout_groups_what_the_modality_tensor_groups(extra):
    from fastreid_multimodal.data.multimodal import MultimodalCollate, modality_layout
    data = batch([1, 0, 0, 1, 0, 1])
    layout = modality_layout(data["modality"])
    assert layout == {"image": [1, 2, 4], "text": [0, 3, 5]}
    losses, grads = [], []
    for b in ({**data, "layout": layout}, {**data, "layout": None}):
        model = tiny_dmf(*extra).train()
        with EventStorage(0):
            out = model(b)
        sum(out.values()).backward()
        losses.append({k: v.item() for k, v in out.items()})
        grads.append([p.grad for p in model.parameters()])
    assert losses[0] == losses[1]
    assert all((a is None and b is None) or torch.equal(a, b) for a, b in zip(*grads))
    collated = MultimodalCollate(pad_id=0)([
        {"targets": 0, "camids": 0, "modality": 1, "text_ids": torch.tensor([101, 5, 102])},
        {"targets": 0, "camids": 1, "modality": 0, "images": torch.zeros(3, 4, 2)}])
    assert collated["layout"] == {"image": [1], "text": [0]}
