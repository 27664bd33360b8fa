"""MMET backbone and meta-architecture: three encoders; a clean pass (Re-ID on CLS_I / CLS_T /
CLS_M, each with its own BNNeck) and a masked pass (MIM / MLM / MMM / ITM) whose heads read the
masked positions; ITM negatives across identities; evaluation features; configs and loaders.
Hand-computed loss values: test_mmet_losses.py."""
import copy
import os

import pytest
import torch
from fastreid.modeling.meta_arch import build_model
from fastreid.utils.events import EventStorage

from fastreid_multimodal.data.build import build_train_loader
from fastreid_multimodal.data.samples import IMAGE, PAIR, TEXT
from fastreid_multimodal.engine import MultimodalTrainer, load_config
from fastreid_multimodal.errors import ConfigError
from fastreid_multimodal.evaluation.text_retrieval import text_to_image_metrics
from fastreid_multimodal.modeling.losses import build_losses
from fastreid_multimodal.modeling.losses.image_text_matching import mine_negatives
from fastreid_multimodal.modeling.meta_arch.mmet import MMET

TINY = ["MODEL.VIT.EMBED_DIM", "32", "MODEL.BACKBONE.FEAT_DIM", "32", "MODEL.VIT.DEPTH", "1",
        "MODEL.VIT.NUM_HEADS", "2", "MODEL.MMET.TEXT_DEPTH", "1", "MODEL.MMET.FUSION_DEPTH", "1",
        "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]", "MODEL.TEXT.MAX_LENGTH", "16",
        "MODEL.HEADS.NUM_CLASSES", "4", "MODEL.DEVICE", "cpu", "MODEL.BACKBONE.DROP_PATH_RATIO", "0.0",
        "MODEL.IMAGE.TRANSLATOR", "",  # the patch embedding: every image-encoder weight trains
        "MODEL.VIT.PATCH_SIZE", "16", "MODEL.BACKBONE.STRIDE_SIZE", "(16, 16)"]
NUM_PATCHES = 8  # 64x32 in 16x16 patches
IMAGE_ENCODER = ("backbone.patch_embed", "backbone.blocks", "backbone.cls_token", "backbone.pos_embed")
TEXT_ENCODER = ("backbone.word_embeddings", "backbone.text_blocks", "backbone.text_cls_token")
FUSION = ("backbone.fusion_blocks", "backbone.fusion_cls_token")


def tiny_mmet(*extra):
    torch.manual_seed(0)
    return build_model(load_config("configs/Demo/mmet_synth.yml", TINY + list(extra)))


@pytest.fixture(scope="module")
def model():
    return tiny_mmet()


def make_batch(modalities, pids=None, seed=0):
    """A collated MMET batch: images of IMAGE/PAIR samples, captions of TEXT/PAIR samples, one
    masked patch per image, two masked tokens per caption (BERT-style inputs)."""
    g = torch.Generator().manual_seed(seed)
    modality = torch.tensor(modalities)
    pids = torch.tensor(pids if pids is not None else [i % 4 for i in range(len(modalities))])
    n_image, n_text = int((modality != TEXT).sum()), int((modality != IMAGE).sum())
    batch = {"modality": modality, "targets": pids}
    if n_image:
        batch["images"] = torch.rand(n_image, 3, 64, 32, generator=g) * 255
        patch_mask = torch.zeros(n_image, NUM_PATCHES, dtype=torch.bool)
        patch_mask[torch.arange(n_image), torch.randint(0, NUM_PATCHES, (n_image,), generator=g)] = True
        batch["patch_mask"] = patch_mask
    if n_text:
        ids = torch.randint(1000, 2000, (n_text, 10), generator=g)
        ids[:, 0], ids[:, -1] = 101, 102
        text_mask = torch.ones_like(ids, dtype=torch.bool)
        text_mask[0, 7:] = False  # one padded caption
        ids = ids.masked_fill(~text_mask, 0)
        ids[0, 6] = 102
        token_mask = torch.zeros_like(text_mask)
        token_mask[:, 2:4] = True
        batch.update(text_ids=ids, text_mask=text_mask, token_mask=token_mask,
                     text_input=ids.masked_fill(token_mask, 103))
    return batch


MIXED = [IMAGE, TEXT, PAIR, PAIR, IMAGE, PAIR, TEXT, PAIR]


def run(model, batch):
    model.train()
    with EventStorage(0):
        return model(batch)


# -- encoders -----------------------------------------------------------------------------------------
def test_each_encoder_runs_alone_with_its_own_parameters(model):
    backbone = model.backbone.eval()
    assert backbone.blocks is not backbone.text_blocks is not backbone.fusion_blocks
    assert backbone.cls_token is not backbone.text_cls_token is not backbone.fusion_cls_token
    images, ids = torch.rand(2, 3, 64, 32), torch.randint(1000, 2000, (2, 6))
    mask = torch.ones_like(ids, dtype=torch.bool)
    h_image = backbone.encode_image(images)
    h_text = backbone.encode_text(ids, mask)
    assert h_image.shape == (2, 1 + NUM_PATCHES, 32) and h_text.shape == (2, 7, 32)
    assert backbone.fuse(h_image).shape == (2, 1 + 1 + NUM_PATCHES, 32)
    assert backbone.fuse(None, h_text, mask).shape == (2, 1 + 7, 32)
    assert backbone.fuse(h_image, h_text, mask).shape == (2, 1 + 1 + NUM_PATCHES + 7, 32)
    assert backbone(images).shape == (2, 32, 1, 1)  # a plain FastReID backbone: [CLS_I]
    torch.testing.assert_close(backbone(images)[..., 0, 0], h_image[:, 0])


def test_text_padding_changes_neither_text_nor_fused_features(model):
    backbone = model.backbone.eval()
    ids = torch.randint(1000, 2000, (1, 6))
    mask = torch.ones(1, 6, dtype=torch.bool)
    padded = torch.cat([ids, torch.zeros(1, 3, dtype=torch.long)], 1)
    padded_mask = torch.cat([mask, torch.zeros(1, 3, dtype=torch.bool)], 1)
    h_short, h_long = backbone.encode_text(ids, mask), backbone.encode_text(padded, padded_mask)
    torch.testing.assert_close(h_short[:, 0], h_long[:, 0])
    h_image = backbone.encode_image(torch.rand(1, 3, 64, 32))
    torch.testing.assert_close(backbone.fuse(h_image, h_short, mask)[:, 0],
                               backbone.fuse(h_image, h_long, padded_mask)[:, 0])


@pytest.mark.parametrize("stem", ["patch", "conv"])
def test_masked_patches_enter_as_the_mask_token_and_reach_no_other_token(stem):
    backbone = tiny_mmet("MODEL.VIT.STEM", stem).backbone.eval()
    images = torch.rand(1, 3, 64, 32)
    patch_mask = torch.zeros(1, NUM_PATCHES, dtype=torch.bool)
    patch_mask[0, 3] = True  # row 1, column 1: pixels [16:32, 16:32]
    changed = images.clone()
    changed[..., 16:32, 16:32] = 0.5
    torch.testing.assert_close(backbone.encode_image(images, patch_mask),
                               backbone.encode_image(changed, patch_mask))
    assert not torch.allclose(backbone.encode_image(images), backbone.encode_image(changed))


def test_word_embeddings_from_the_packaged_minilm():
    runs = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        runs.append(build_model(load_config("configs/Demo/mmet_synth.yml", TINY + [
            "MODEL.TEXT.TRANSLATOR", "packaged", "MODEL.TEXT.FREEZE_TRANSLATOR", "True"])))
    words = runs[0].backbone.word_embeddings
    assert words.weight.shape == (30522, 384) and not words.weight.requires_grad
    torch.testing.assert_close(words.weight, runs[1].backbone.word_embeddings.weight)  # loaded
    losses = run(runs[0], make_batch(MIXED))
    sum(losses.values()).backward()
    assert runs[0].backbone.text_proj.weight.grad.abs().sum() > 0  # 384 -> 32
    assert runs[0].mlm_head.transform[0].weight.grad.abs().sum() > 0


# -- meta-architecture ------------------------------------------------------------------------------
def test_reid_groups_are_the_clean_cls_of_every_image_text_and_pair(model):
    model.eval()
    batch = make_batch(MIXED)
    enc = model.encode(batch)
    groups = {name: (feats, targets, head) for name, feats, targets, head in
              model.reid_groups(enc, batch["targets"])}
    backbone = model.backbone
    images = model.preprocess_image(batch["images"])
    h_image = backbone.encode_image(images)  # no patch masked
    h_text = backbone.encode_text(batch["text_ids"], batch["text_mask"])  # no token masked
    modality = batch["modality"]
    torch.testing.assert_close(groups["image"][0], h_image[:, 0])  # every image, pairs too
    assert torch.equal(groups["image"][1], batch["targets"][modality != TEXT])
    torch.testing.assert_close(groups["text"][0], h_text[:, 0])  # every text, pairs too
    assert torch.equal(groups["text"][1], batch["targets"][modality != IMAGE])
    pair_image = (torch.cumsum((modality != TEXT).long(), 0) - 1)[modality == PAIR]
    pair_text = (torch.cumsum((modality != IMAGE).long(), 0) - 1)[modality == PAIR]
    fused = backbone.fuse(h_image[pair_image], h_text[pair_text], batch["text_mask"][pair_text])
    torch.testing.assert_close(groups["fusion"][0], fused[:, 0])
    assert (groups["image"][2], groups["text"][2], groups["fusion"][2]) == \
        (model.heads, model.text_heads, model.fusion_heads)
    # own BNNecks, one classifier
    assert model.text_heads.bottleneck is not model.heads.bottleneck is not model.fusion_heads.bottleneck
    assert model.text_heads.weight is model.heads.weight is model.fusion_heads.weight


def test_per_modality_classifiers_keep_captions_off_the_image_classifier():
    """MODEL.MMET.CLASSIFIER per_modality: three classifiers; a batch of unpaired captions moves
    only the text one (shared: the one classifier every group reads), a bad value is refused."""
    model = tiny_mmet("MODEL.MMET.CLASSIFIER", "per_modality",
                      "MODEL.LOSSES.NAME", '("CrossEntropyLoss", "TripletLoss")')
    weights = (model.heads.weight, model.text_heads.weight, model.fusion_heads.weight)
    assert len({id(w) for w in weights}) == 3
    losses = run(model, make_batch([TEXT] * 8))
    sum(losses.values()).backward()
    assert model.text_heads.weight.grad.abs().sum() > 0
    assert model.heads.weight.grad is None and model.fusion_heads.weight.grad is None
    shared = tiny_mmet("MODEL.LOSSES.NAME", '("CrossEntropyLoss", "TripletLoss")')
    sum(run(shared, make_batch([TEXT] * 8)).values()).backward()
    assert shared.heads.weight.grad.abs().sum() > 0
    with pytest.raises(ConfigError, match="MODEL.MMET.CLASSIFIER"):
        tiny_mmet("MODEL.MMET.CLASSIFIER", "separate")


def test_reid_losses_do_not_depend_on_the_mask_ratios(model):
    """One batch and seed, masks drawn at 15 % and at 50 %: identical ID and triplet losses (the
    clean pass), different masked-modeling losses (the masks are used)."""
    from fastreid_multimodal.data.masking import PatchMasker, TokenMasker
    from fastreid_multimodal.data.text import build_tokenizer
    tokenizer = build_tokenizer("")
    results = []
    for ratio in (0.15, 0.5):
        batch = make_batch(MIXED)
        patch = PatchMasker(ratio, "random", 16, 16, (64, 32), count="region")
        token = TokenMasker(ratio, tokenizer)
        g = torch.Generator().manual_seed(0)
        batch["patch_mask"] = torch.stack([patch(None, g) for _ in batch["images"]])
        masked = [token(ids, g) for ids in batch["text_ids"]]
        batch["text_input"] = torch.stack([m[0] for m in masked])
        batch["token_mask"] = torch.stack([m[1] for m in masked])
        torch.manual_seed(0)
        with torch.no_grad():
            results.append(run(model, batch))
    for key in ("loss_cls", "loss_triplet", "loss_gc"):
        assert torch.equal(results[0][key], results[1][key]), key
    for key in ("loss_mim", "loss_mlm", "loss_mmm_image", "loss_mmm_text"):
        assert not torch.equal(results[0][key], results[1][key]), key


def weighted_and_per_group(key, weight):
    """A mixed batch, a model with ``key`` at ``weight`` and the same weights, and each Re-ID
    group's own losses from the unweighted model (what the weighted mean is built from)."""
    batch = make_batch(MIXED)
    full, weighted = tiny_mmet(), tiny_mmet(key, str(weight))
    weighted.load_state_dict(full.state_dict())
    full.train()
    with EventStorage(0):
        per_group = {group[0]: full.reid_losses([group])
                     for group in full.reid_groups(full.encode(batch), batch["targets"])}
    return batch, weighted, per_group


@pytest.mark.parametrize("weight", [0.0, 0.25])
def test_fusion_reid_weight_weights_cls_m_in_the_reid_losses(weight):
    """ID and triplet: the weighted mean of the three groups' losses, [CLS_M]'s weight
    MODEL.MMET.FUSION_REID_WEIGHT; at 0 [CLS_M] gets no Re-ID gradient at all."""
    batch, weighted, per_group = weighted_and_per_group("MODEL.MMET.FUSION_REID_WEIGHT", weight)
    for key in ("loss_cls", "loss_triplet"):
        expected = (per_group["image"][key] + per_group["text"][key] +
                    weight * per_group["fusion"][key]) / (2 + weight)
        torch.testing.assert_close(run(weighted, batch)[key], expected)
    weighted.zero_grad()
    out = run(weighted, batch)
    (out["loss_cls"] + out["loss_triplet"]).backward()
    fusion_grad = weighted.backbone.fusion_cls_token.grad
    moved = fusion_grad is not None and bool(fusion_grad.abs().sum() > 0)
    assert moved == (weight > 0)


@pytest.mark.parametrize("weight", [0.0, 0.25])
def test_text_reid_weight_weights_cls_t_and_its_bnneck_still_tracks_captions(weight):
    """MODEL.MMET.TEXT_REID_WEIGHT weighs [CLS_T] in the ID and triplet means; at 0 its BNNeck
    gets no gradient but its running statistics still follow [CLS_T] (text->image reads them),
    and a batch of captions alone has no ID loss instead of 0/0."""
    batch, weighted, per_group = weighted_and_per_group("MODEL.MMET.TEXT_REID_WEIGHT", weight)
    for key in ("loss_cls", "loss_triplet"):
        expected = (per_group["image"][key] + weight * per_group["text"][key] +
                    per_group["fusion"][key]) / (2 + weight)
        torch.testing.assert_close(run(weighted, batch)[key], expected)
    weighted.zero_grad()
    bn = weighted.text_heads.bottleneck[0]
    before = bn.running_mean.clone()
    out = run(weighted, batch)
    (out["loss_cls"] + out["loss_triplet"]).backward()
    assert not torch.equal(bn.running_mean, before)
    assert (bn.weight.grad is not None and bool(bn.weight.grad.abs().sum() > 0)) == (weight > 0)
    if weight == 0:
        with EventStorage(0):
            texts_only = weighted.reid_losses([g for g in weighted.reid_groups(
                weighted.encode(batch), batch["targets"]) if g[0] == "text"])
        assert texts_only == {}


def test_eval_feature_fusion_needs_a_trained_cls_m_bnneck():
    with pytest.raises(ConfigError, match=r"FUSION_REID_WEIGHT"):
        MMET(load_config("configs/Demo/mmet_synth.yml", TINY + [
            "MODEL.MMET.EVAL_FEATURE", "fusion", "MODEL.MMET.FUSION_REID_WEIGHT", "0.0"]))


def test_every_image_samples_cls_i_gets_an_id_loss_gradient(model):
    seen = {}

    def keep(module, inputs, output):
        if module.training:
            inputs[0].retain_grad()
            seen["feats"] = inputs[0]

    handle = model.heads.register_forward_hook(keep)
    try:
        model.zero_grad(set_to_none=True)
        batch = make_batch(MIXED)
        run(model, batch)["loss_cls"].backward()
    finally:
        handle.remove()
    grad = seen["feats"].grad[:, :, 0, 0]
    assert grad.shape[0] == int((batch["modality"] != TEXT).sum())  # unpaired images AND pairs
    assert (grad.abs().sum(1) > 0).all()


def test_every_loss_is_logged_on_a_mixed_batch(model):
    losses = run(model, make_batch(MIXED))
    assert set(losses) == {"loss_cls", "loss_triplet", "loss_gc", "loss_mim", "loss_mlm",
                           "loss_mmm_image", "loss_mmm_text", "loss_itm"}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    images_only = run(model, make_batch([IMAGE] * 4))
    assert set(images_only) == set(losses)  # the same keys: zeros for what needs text
    assert {k for k, v in images_only.items() if v.requires_grad} == {"loss_cls", "loss_triplet", "loss_mim"}


def test_each_groups_id_accuracy_is_logged_under_its_own_name(model):
    """FastReID logs the median of a window of entries: three groups under one name would mix."""
    calls = []
    handle = model.loss_fns["CrossEntropyLoss"].register_forward_hook(
        lambda m, args, out: calls.append(
            (args[0]["accuracy_name"],
             (args[0]["pred_class_logits"].argmax(1) == args[1]["targets"]).float().mean().item())))
    model.train()
    try:
        with EventStorage(0) as storage:
            model(make_batch(MIXED, pids=[0, 1, 2, 3, 0, 1, 2, 3][:len(MIXED)]))
    finally:
        handle.remove()
    names = [name for name, _ in calls]
    assert sorted(names) == ["cls_accuracy", "cls_accuracy_fusion", "cls_accuracy_text"]
    for name, accuracy in calls:
        assert [v for v, _ in storage.history(name).values()] == [accuracy], name


@pytest.mark.parametrize("loss,trained,untouched", [
    ("loss_mim", IMAGE_ENCODER + ("backbone.mask_token", "mim_head"),
     TEXT_ENCODER + FUSION + ("mlm_head", "mmm_image_head", "mmm_text_head", "itm_head", "heads",
                              "text_heads", "fusion_heads")),
    ("loss_mlm", TEXT_ENCODER + ("mlm_head",),
     IMAGE_ENCODER + FUSION + ("mim_head", "mmm_text_head", "itm_head", "heads")),
    ("loss_mmm_image", IMAGE_ENCODER + TEXT_ENCODER + FUSION + ("mmm_image_head",),
     ("mim_head", "mlm_head", "mmm_text_head", "itm_head", "heads")),
    ("loss_mmm_text", IMAGE_ENCODER + TEXT_ENCODER + FUSION + ("mmm_text_head",),
     ("mim_head", "mlm_head", "mmm_image_head", "itm_head", "heads")),
    ("loss_itm", IMAGE_ENCODER + TEXT_ENCODER + FUSION + ("itm_head",),
     ("mim_head", "mlm_head", "mmm_image_head", "mmm_text_head", "heads")),
    ("loss_cls", IMAGE_ENCODER + TEXT_ENCODER + FUSION + ("heads", "text_heads", "fusion_heads"),
     ("mim_head", "mlm_head", "mmm_image_head", "mmm_text_head", "itm_head")),
    ("loss_gc", IMAGE_ENCODER + TEXT_ENCODER,
     FUSION + ("mim_head", "mlm_head", "mmm_image_head", "mmm_text_head", "itm_head", "heads")),
])
def test_gradients_reach_the_right_encoders_per_loss(model, loss, trained, untouched):
    model.zero_grad(set_to_none=True)
    run(model, make_batch(MIXED))[loss].backward()

    def has_grad(prefix):
        return any(p.grad is not None and p.grad.abs().sum() > 0
                   for n, p in model.named_parameters() if n.startswith(prefix))

    for prefix in trained:
        assert has_grad(prefix), prefix
    for prefix in untouched:
        assert not has_grad(prefix), prefix


def test_id_loss_of_unpaired_images_leaves_text_and_fusion_alone(model):
    model.zero_grad(set_to_none=True)
    run(model, make_batch([IMAGE] * 4))["loss_cls"].backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert grads["backbone.blocks.0.attn.qkv.weight"].abs().sum() > 0
    assert all(grads[n] is None for n in grads if n.startswith(TEXT_ENCODER + FUSION))


# -- masked positions only ----------------------------------------------------------------------------
def outputs_of(model, batch):
    model.train()
    enc = model.encode(batch, masked=True)
    return model.masked_predictions(enc)


@pytest.mark.parametrize("key,sub,loss_name", [
    ("mim", None, "MaskedImageModeling"), ("mlm", None, "MaskedLanguageModeling"),
    ("mmm", "image", "MaskedMultimodalModeling"), ("mmm", "text", "MaskedMultimodalModeling")])
def test_only_masked_positions_contribute(model, key, sub, loss_name):
    loss_fn = build_losses(load_config("configs/Demo/mmet_synth.yml", TINY))[loss_name]
    with torch.no_grad():
        outputs = outputs_of(model, make_batch(MIXED))
    part = outputs[key] if sub is None else outputs[key][sub]
    target_key = "target" if "target" in part else "labels"

    def total(out):
        return sum(loss_fn(out, {}).values())

    base = total(outputs)
    changed = copy.deepcopy(outputs)
    p = changed[key] if sub is None else changed[key][sub]
    unmasked = ~p["mask"]
    if target_key == "target":
        p["target"][unmasked] += 5.0
    else:
        p["labels"][unmasked] = (p["labels"][unmasked] + 7) % 30522
    torch.testing.assert_close(total(changed), base)  # unmasked targets do not count
    # a masked target does count
    if target_key == "target":
        p["target"][p["mask"]] += 5.0
    else:
        p["labels"][p["mask"]] = (p["labels"][p["mask"]] + 7) % 30522
    assert not torch.allclose(total(changed), base)


def test_mim_target_is_the_original_pixels_of_the_masked_patch(model):
    batch = make_batch([IMAGE])
    batch["patch_mask"][:] = False
    batch["patch_mask"][0, 3] = True
    with torch.no_grad():
        base = outputs_of(model, batch)["mim"]
        changed_batch = copy.deepcopy(batch)
        changed_batch["images"][..., 16:32, 16:32] = torch.rand(3, 16, 16) * 255  # the masked patch
        changed = outputs_of(model, changed_batch)["mim"]
    torch.testing.assert_close(changed["pred"], base["pred"])  # the encoder never saw it
    assert not torch.allclose(changed["target"][0, 3], base["target"][0, 3])
    torch.testing.assert_close(changed["target"][0, :3], base["target"][0, :3])


class PositionwiseEncoders:
    """Stand-in encoders with no mixing between positions: h at a position is a fixed function of
    that position's input alone (a patch's pixels, a token's id), masked or not, and fusion is the
    plain concatenation [CLS_M], h_I, h_T. Perturbing one input position then moves exactly the
    predictions of the head that reads that position's hidden state."""

    def __init__(self, backbone, dim=32):
        g = torch.Generator().manual_seed(0)
        self.pixels = torch.randn(3 * 16 * 16, dim, generator=g) / 30
        self.words = torch.randn(30522, dim, generator=g)
        self.backbone = backbone

    def encode_image(self, images, patch_mask=None):
        patches = torch.nn.functional.unfold(images, 16, stride=16).transpose(1, 2)
        return torch.cat([torch.zeros(len(images), 1, self.pixels.shape[1]), patches @ self.pixels], 1)

    def encode_text(self, ids, mask):
        return torch.cat([torch.zeros(len(ids), 1, self.words.shape[1]), self.words[ids]], 1)

    def fuse(self, h_image=None, h_text=None, text_mask=None):
        parts = [p for p in (h_image, h_text) if p is not None]
        return torch.cat([torch.zeros(len(parts[0]), 1, parts[0].shape[2])] + parts, 1)


@pytest.mark.parametrize("key,sub,modality", [("mim", None, IMAGE), ("mmm", "image", PAIR),
                                              ("mlm", None, TEXT), ("mmm", "text", PAIR)])
def test_each_head_reads_the_hidden_state_of_its_masked_positions(model, monkeypatch, key, sub,
                                                                  modality):
    stub = PositionwiseEncoders(model.backbone)
    for name in ("encode_image", "encode_text", "fuse"):
        monkeypatch.setattr(model.backbone, name, getattr(stub, name))
    batch = make_batch([modality, modality])
    image = sub == "image" or key == "mim"

    def predictions(b):
        with torch.no_grad():
            part = outputs_of(model, b)[key]
            part = part[sub] if sub else part
        return part["pred"] if image else part["logits"], part["mask"]

    base, mask = predictions(batch)
    sample, position = 1, int(torch.nonzero(mask[1])[0])  # a masked position of the second sample
    for pos, should_move in ((position, True), (int(torch.nonzero(~mask[1])[-1]), False)):
        changed = copy.deepcopy(batch)
        if image:  # the patch's pixels (row-major grid of 2 columns)
            r, c = divmod(pos, 2)
            changed["images"][sample, :, 16 * r:16 * r + 16, 16 * c:16 * c + 16] += 50.0
        else:  # the token the encoder reads (text_input: masked ids)
            changed["text_input"][sample, pos] = (changed["text_input"][sample, pos] + 1) % 30522
        moved = (predictions(changed)[0] - base).abs().sum(1) > 0
        row = int(mask[:sample].sum()) + int(mask[sample, :pos].sum())  # its row in the predictions
        expected = torch.zeros(len(base), dtype=torch.bool)
        if should_move:
            expected[row] = True
        assert torch.equal(moved, expected), (pos, moved)


# -- image-text matching ------------------------------------------------------------------------------
def test_itm_negatives_never_pair_an_identity_with_itself(model):
    for seed in range(50):
        pids = torch.randint(0, 4, (12,), generator=torch.Generator().manual_seed(seed))
        negative = mine_negatives(pids, torch.Generator().manual_seed(seed))
        valid = negative >= 0
        assert (pids[negative[valid]] != pids[valid]).all()
        assert valid.all() == (len(pids.unique()) > 1)
    assert (mine_negatives(torch.tensor([2, 2, 2])) == -1).all()
    batch = make_batch([PAIR] * 8, pids=[0, 0, 1, 1, 2, 2, 3, 3])
    with torch.no_grad():
        model.train()
        itm = model.image_text_matching(model.encode(batch), batch["targets"])
    negatives = itm["labels"] == 0
    assert negatives.sum() == 16 and (itm["labels"] == 1).sum() == 8  # image->text, text->image
    assert (itm["image_targets"][negatives] != itm["text_targets"][negatives]).all()
    assert (itm["image_targets"][~negatives] == itm["text_targets"][~negatives]).all()
    one_identity = run(model, make_batch([PAIR] * 4, pids=[1, 1, 1, 1]))
    # no negative in the batch: ITM logs a constant zero (same keys every iteration)
    assert float(one_identity["loss_itm"]) == 0 and not one_identity["loss_itm"].requires_grad


def test_every_configured_loss_is_logged_even_when_the_batch_has_nothing_for_it(model):
    losses = run(model, make_batch([PAIR, PAIR, IMAGE, IMAGE], pids=[0, 1, 0, 1]))  # no unpaired text
    assert float(losses["loss_mlm"]) == 0 and not losses["loss_mlm"].requires_grad
    assert losses["loss_mim"].requires_grad and losses["loss_mim"].item() > 0
    assert set(losses) >= {"loss_cls", "loss_triplet", "loss_gc", "loss_mim", "loss_mlm",
                           "loss_mmm_image", "loss_mmm_text", "loss_itm"}


def test_hard_itm_negatives_follow_the_similarity():
    pids = torch.tensor([0, 1, 2, 3])
    similarity = torch.full((4, 4), -20.0)
    similarity[0, 2] = similarity[1, 3] = similarity[2, 0] = similarity[3, 0] = 20.0
    similarity[0, 0] = 50.0  # the positive itself is never drawn
    negative = mine_negatives(pids, torch.Generator().manual_seed(0), similarity)
    assert negative.tolist() == [2, 3, 0, 0]


def test_itm_inputs_clean_matches_the_unmasked_pairs():
    """ITM_INPUTS clean: what the ITM head reads in a training step comes from the clean
    encodings (other masks change nothing); masked: from the masked pass (they do)."""
    batch = make_batch([PAIR] * 4 + [IMAGE, TEXT], pids=[0, 1, 2, 3, 0, 1])
    other_masks = dict(batch, patch_mask=batch["patch_mask"].roll(1, dims=1),
                       text_input=batch["text_ids"].masked_fill(batch["token_mask"].roll(1, dims=1), 103))
    for inputs, same in (("clean", True), ("masked", False)):
        model = tiny_mmet("MODEL.MMET.ITM_INPUTS", inputs)
        read = []
        handle = model.itm_head.register_forward_hook(lambda m, args, out: read.append(args[0].detach()))
        try:
            for b in (batch, other_masks):
                torch.manual_seed(0)  # the same negatives and dropout
                run(model, b)
        finally:
            handle.remove()
        assert len(read) == 6  # positives, text negatives, image negatives; twice
        assert all(torch.equal(a, b) for a, b in zip(read[:3], read[3:])) == same, inputs
    model = tiny_mmet("MODEL.MMET.ITM_INPUTS", "clean", "MODEL.LOSSES.NAME",
                      "('CrossEntropyLoss', 'ImageTextMatching')")
    assert not model.uses_masked_pass  # ITM alone on clean encodings needs no masked pass


def test_gc_feature_bnneck_compares_batch_normalised_cls_and_leaves_running_stats_alone():
    batch = make_batch([PAIR] * 4 + [IMAGE, TEXT], pids=[0, 1, 2, 3, 0, 1])
    seen, stats = {}, {}
    for choice in ("cls", "bnneck"):
        model = tiny_mmet("MODEL.MMET.GC_FEATURE", choice)
        with torch.no_grad():  # distinct affine: a swapped or skipped BNNeck shows
            for k, head in enumerate((model.heads, model.text_heads)):
                head.bottleneck[0].weight.fill_(1.0 + k)
                head.bottleneck[0].bias.fill_(0.5 * (k + 1))
        handle = model.loss_fns["GlobalContrastive"].register_forward_hook(
            lambda m, args, out: seen.__setitem__(choice, {k: v.detach() for k, v in args[0]["gc"].items()
                                                           if torch.is_tensor(v) and k != "targets"}))
        torch.manual_seed(0)
        run(model, batch)
        handle.remove()
        stats[choice] = [b.clone() for h in (model.heads, model.text_heads)
                         for b in (h.bottleneck[0].running_mean, h.bottleneck[0].running_var)]
    raw = seen["cls"]
    for key, k in (("image", 0), ("text", 1)):
        x = raw[key]
        expected = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-5) * (1.0 + k) + 0.5 * (k + 1)
        assert torch.allclose(seen["bnneck"][key], expected, atol=1e-4), key
    assert all(torch.equal(a, b) for a, b in zip(stats["cls"], stats["bnneck"]))


def test_gc_projection_contrasts_linear_maps_of_the_cls_and_trains_them():
    """GC_PROJECTION D: L_GC reads each modality's own D-dim linear map of the clean CLS (the
    unprojected CLS through the maps, checked by hand) and its gradient reaches both maps."""
    batch = make_batch([PAIR] * 4 + [IMAGE, TEXT], pids=[0, 1, 2, 3, 0, 1])
    seen = {}
    for projection in (0, 8):
        model = tiny_mmet("MODEL.MMET.GC_PROJECTION", str(projection))
        handle = model.loss_fns["GlobalContrastive"].register_forward_hook(
            lambda m, args, out: seen.__setitem__(projection, args[0]["gc"]))
        torch.manual_seed(0)
        losses = run(model, batch)
        handle.remove()
        if projection:
            losses["loss_gc"].backward()
            for proj in (model.gc_image_proj, model.gc_text_proj):
                assert proj.weight.grad is not None and proj.weight.grad.abs().sum() > 0
            with torch.no_grad():  # same seed: the same CLS as the unprojected model's
                expected = {"image": model.gc_image_proj(seen[0]["image"]),
                            "text": model.gc_text_proj(seen[0]["text"])}
        else:
            assert model.gc_image_proj is None and model.gc_text_proj is None
    for key in ("image", "text"):
        assert seen[8][key].shape == (4, 8)
        torch.testing.assert_close(seen[8][key].detach(), expected[key], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("value,message", [("-1", "must be 0 .none. or a dimension > 0, got -1"),
                                           ("1.5", "Type mismatch"), ("True", "Type mismatch")])
def test_bad_gc_projection_is_a_config_error_naming_the_key(value, message):
    with pytest.raises(ConfigError, match=f"MODEL.MMET.GC_PROJECTION.*{message}|{message}.*MODEL.MMET.GC_PROJECTION"):
        tiny_mmet("MODEL.MMET.GC_PROJECTION", value)


# -- evaluation -------------------------------------------------------------------------------------
def test_eval_feature_is_exactly_the_configured_cls_after_its_own_bnneck():
    images = torch.rand(2, 3, 64, 32) * 255
    ids = torch.randint(1000, 2000, (2, 6))
    mask = torch.ones_like(ids, dtype=torch.bool)
    for choice in ("image", "fusion"):
        model = tiny_mmet("MODEL.MMET.EVAL_FEATURE", choice).eval()
        for k, head in enumerate((model.heads, model.text_heads, model.fusion_heads)):
            bn = head.bottleneck[0]  # distinct running statistics: a swapped head shows
            bn.running_mean.fill_(0.1 * (k + 1))
            bn.running_var.fill_(1.0 + k)
        backbone = model.backbone
        with torch.no_grad():
            feats = model({"images": images})
            text = model.text_features(ids, mask)
            h_image = backbone.encode_image(model.preprocess_image(images))
            h_text = backbone.encode_text(ids, mask)
            if choice == "image":
                cls, cls_t, head, head_t = h_image[:, 0], h_text[:, 0], model.heads, model.text_heads
            else:
                cls, cls_t = backbone.fuse(h_image)[:, 0], backbone.fuse(None, h_text, mask)[:, 0]
                head = head_t = model.fusion_heads
            bn, bn_t = head.bottleneck[0], head_t.bottleneck[0]
            expected = (cls - bn.running_mean) / (bn.running_var + bn.eps).sqrt() * bn.weight + bn.bias
            expected_t = (cls_t - bn_t.running_mean) / (bn_t.running_var + bn_t.eps).sqrt() * \
                bn_t.weight + bn_t.bias
        torch.testing.assert_close(feats, expected)
        torch.testing.assert_close(text, expected_t)
    with pytest.raises(ConfigError, match="MODEL.MMET.EVAL_FEATURE"):
        tiny_mmet("MODEL.MMET.EVAL_FEATURE", "text")


def test_text_to_image_metrics_with_fastreid_ranking():
    gallery = torch.eye(4).repeat_interleave(2, 0)  # 8 images, 2 per identity
    metrics = text_to_image_metrics(torch.eye(4), [10, 11, 12, 13], gallery, [10, 10, 11, 11, 12, 12, 13, 13])
    assert metrics["Rank-1"] == metrics["mAP"] == 100.0 and "Rank-10" not in metrics
    shuffled = text_to_image_metrics(torch.eye(4)[[1, 0, 2, 3]], [10, 11, 12, 13], gallery,
                                     [10, 10, 11, 11, 12, 12, 13, 13])
    assert shuffled["Rank-1"] == 50.0


@pytest.mark.parametrize("key,value,allowed", [
    ("MODEL.MMET.IMAGE_MASK_RATIO", "1.0", r"\(0, 1\)"), ("MODEL.MMET.IMAGE_MASK_RATIO", "0.0", r"\(0, 1\)"),
    ("MODEL.MMET.TEXT_MASK_RATIO", "1.5", r"\(0, 1\)"), ("MODEL.MMET.MIM_WEIGHT", "-1.0", ">= 0"),
    ("MODEL.MMET.GC_WEIGHT", "-0.5", ">= 0"), ("MODEL.MMET.ITM_WEIGHT", "-2.0", ">= 0"),
    ("MODEL.LOSSES.TRI.SCALE", "-1.0", ">= 0"), ("MODEL.MMET.ITM_INPUTS", "both", "'masked', 'clean'"),
    ("MODEL.MMET.FUSION_REID_WEIGHT", "-1.0", ">= 0"), ("MODEL.MMET.TEXT_REID_WEIGHT", "-0.1", ">= 0"),
    ("MODEL.LOSSES.NAME", "('CrossEntropyLoss', 'MaskedImageModelling')", "GlobalContrastive"),
])
def test_bad_mmet_config_is_a_config_error_naming_key_and_allowed_values(key, value, allowed):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")) as error:
        MMET(load_config("configs/Demo/mmet_synth.yml", TINY + [key, value]))
    assert __import__("re").search(allowed, str(error.value)), str(error.value)


# -- configs and the training loop ------------------------------------------------------------------
DEMO = sorted(f"configs/Demo/{c}" for c in os.listdir("configs/Demo") if c.startswith("mmet_"))
PAPER = sorted(f"configs/MMET/{c}" for c in os.listdir("configs/MMET") if not c.startswith("Base"))


@pytest.mark.parametrize("config", PAPER)
def test_paper_configs_have_the_paper_recipe(config):
    cfg = load_config(config)
    assert cfg.MODEL.META_ARCHITECTURE == "MMET" and tuple(cfg.INPUT.SIZE_TRAIN) == (256, 128)
    assert (cfg.MODEL.VIT.EMBED_DIM, cfg.MODEL.VIT.DEPTH, cfg.MODEL.MMET.TEXT_DEPTH) == (768, 12, 12)
    assert cfg.SOLVER.IMS_PER_BATCH == 64 and cfg.DATALOADER.NUM_INSTANCE == 4
    assert (cfg.SOLVER.OPT, cfg.SOLVER.BASE_LR, cfg.SOLVER.MOMENTUM, cfg.SOLVER.WEIGHT_DECAY) == \
        ("SGD", 0.001, 0.9, 0.1)
    assert cfg.SOLVER.SCHED == "CosineAnnealingLR" and cfg.SOLVER.WARMUP_ITERS > 0


def test_paper_vit_b_forward_at_batch_two():
    cfg = load_config("configs/MMET/finegpr.yml", ["MODEL.HEADS.NUM_CLASSES", "8", "MODEL.DEVICE", "cpu"])
    model = build_model(cfg).eval()
    backbone = model.backbone
    assert backbone.patch_embed.grid_size == (21, 10)  # 256x128, patch 16, stride 12
    assert (len(backbone.blocks), len(backbone.text_blocks), len(backbone.fusion_blocks)) == (12, 12, 6)
    assert sum(p.numel() for p in backbone.blocks.parameters()) > 80e6  # ViT-B
    with torch.no_grad():
        feats = model({"images": torch.rand(2, 3, 256, 128) * 255})
    assert feats.shape == (2, 768)


@pytest.mark.parametrize("config", DEMO)
def test_demo_configs_build_and_train_a_step(config):
    cfg = load_config(config, ["MODEL.HEADS.NUM_CLASSES", "4", "MODEL.DEVICE", "cpu"])
    assert tuple(cfg.INPUT.SIZE_TRAIN) == (128, 64) and cfg.MODEL.VIT.EMBED_DIM == 192
    torch.manual_seed(0)
    model = build_model(cfg)
    assert model.backbone.patch_embed.grid_size == (16, 8)  # 8-px patches: masks of several patches
    batch = make_batch(MIXED)
    batch["images"] = torch.rand(len(batch["images"]), 3, 128, 64) * 255
    batch["patch_mask"] = torch.zeros(len(batch["images"]), 128, dtype=torch.bool)
    batch["patch_mask"][:, 40:44] = True
    losses = run(model, batch)
    names = set(cfg.MODEL.LOSSES.NAME)
    assert ("loss_mmm_image" in losses) == ("MaskedMultimodalModeling" in names)
    assert {"loss_cls", "loss_triplet"} <= set(losses)
    sum(losses.values()).backward()


NEEDS = {  # loss -> (modality whose patches must be masked, modality whose tokens must be)
    "MaskedImageModeling": (IMAGE, None), "MaskedLanguageModeling": (None, TEXT),
    "MaskedMultimodalModeling": (PAIR, PAIR), "ImageTextMatching": (None, None)}


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("mmetloader"))


@pytest.mark.parametrize("config", DEMO)
def test_real_loader_batch_carries_the_masks_its_losses_need(config, synth_root, monkeypatch):
    monkeypatch.setenv("FASTREID_DATASETS", synth_root)
    cfg = load_config(config, TINY + [
        "DATASETS.SYNTH.NUM_IDS", "8", "DATASETS.SYNTH.TEST_IDS", "4",
        "DATASETS.SYNTH.IMAGES_PER_ID", "4",
        "DATASETS.SYNTH.SIZE", "[64, 32]", "SOLVER.IMS_PER_BATCH", "32", "SEED", "0",
        "DATALOADER.NUM_WORKERS", "0", "MODEL.HEADS.NUM_CLASSES", "8"])
    torch.manual_seed(0)
    batch = next(iter(build_train_loader(cfg)))
    names = set(cfg.MODEL.LOSSES.NAME)
    modality = batch["modality"]
    present = set(modality.tolist())
    if cfg.MODEL.MMET.PAIR_PROB == 0:
        assert present == {IMAGE}  # no text at all
    elif cfg.MODEL.MMET.SPLIT_PROB == 1:
        assert present == {IMAGE, TEXT}  # never paired
    else:
        assert PAIR in present and IMAGE in present  # (unpaired texts: 10 % of the samples)
    image_modality, text_modality = modality[modality != TEXT], modality[modality != IMAGE]
    patched = batch["patch_mask"].any(1) if "patch_mask" in batch else torch.zeros(len(image_modality), dtype=torch.bool)
    tokened = batch["token_mask"].any(1) if "token_mask" in batch else torch.zeros(len(text_modality), dtype=torch.bool)
    want_patch = {m for n in names if n in NEEDS for m in [NEEDS[n][0]] if m is not None}
    want_token = {m for n in names if n in NEEDS for m in [NEEDS[n][1]] if m is not None}
    for m in (IMAGE, PAIR):
        if (image_modality == m).any():
            assert bool(patched[image_modality == m].all()) == (m in want_patch), (m, config)
            assert bool(patched[image_modality == m].any()) == (m in want_patch), (m, config)
    for m in (TEXT, PAIR):
        if (text_modality == m).any():
            assert bool(tokened[text_modality == m].all()) == (m in want_token), (m, config)
            assert bool(tokened[text_modality == m].any()) == (m in want_token), (m, config)
    torch.manual_seed(0)
    model = build_model(cfg)
    losses = run(model, batch)
    expected = {"loss_cls", "loss_triplet"}
    for name, keys in (("MaskedImageModeling", {"loss_mim"}), ("MaskedLanguageModeling", {"loss_mlm"}),
                       ("MaskedMultimodalModeling", {"loss_mmm_image", "loss_mmm_text"}),
                       ("ImageTextMatching", {"loss_itm"}), ("GlobalContrastive", {"loss_gc"})):
        if name in names:
            expected |= keys
    assert set(losses) == expected, config


def test_train_loader_and_text_retrieval_on_synthperson(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTREID_DATASETS", str(tmp_path))
    cfg = load_config("configs/Demo/mmet_synth.yml", TINY + [
        "DATASETS.SYNTH.NUM_IDS", "8", "DATASETS.SYNTH.TEST_IDS", "4",
        "DATASETS.SYNTH.IMAGES_PER_ID", "4",
        "DATASETS.SYNTH.SIZE", "[64, 32]", "SOLVER.IMS_PER_BATCH", "16",
        "DATALOADER.NUM_WORKERS", "0", "DATASETS.TESTS", "('SynthPersonCampus',)",
        "MODEL.LOSSES.NAME", "('CrossEntropyLoss', 'MaskedImageModeling', 'ImageTextMatching')"])
    loader = build_train_loader(cfg)
    assert loader.dataset.num_classes == 8
    batch = next(iter(loader))
    modality = batch["modality"]
    assert len(modality) == 16 and "token_mask" not in batch  # no MLM/MMM: no token masks
    masked = batch["patch_mask"].any(1)
    image_modality = modality[modality != TEXT]
    assert masked[image_modality == IMAGE].all() and not masked[image_modality == PAIR].any()
    model = tiny_mmet("MODEL.HEADS.NUM_CLASSES", "8")
    losses = run(model, batch)
    assert "loss_mim" in losses and "loss_cls" in losses

    results = MultimodalTrainer.test_text_to_image(cfg, model)
    metrics = results["SynthPersonCampus"]
    assert {"text2image/Rank-1", "text2image/Rank-5", "text2image/mAP"} <= set(metrics)
    assert 0 <= metrics["text2image/mAP"] <= 100


def test_itm_learns_to_tell_matching_from_mismatched_captions():
    """Four identities with distinct colours and captions, the full loss set: ITM goes from chance
    (labels 1:2, entropy 0.64) to well below it. Run in a fresh process on one thread with fixed
    seeds (itm_toy_probe.py), so the trajectory is the same whatever the machine's thread count or
    the tests run before (in the full suite an earlier in-process test changed it)."""
    import json
    import subprocess
    import sys
    probe = os.path.join(os.path.dirname(os.path.abspath(__file__)), "itm_toy_probe.py")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(probe)))
    run = subprocess.run([sys.executable, probe], capture_output=True, text=True, timeout=600,
                         cwd=repo, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert run.returncode == 0, run.stderr[-3000:]
    itm = json.loads(run.stdout.strip().splitlines()[-1])
    assert itm[0] > 0.55 and sum(itm[-5:]) / 5 < 0.3, itm


def test_fusion_lr_factor_scales_the_fusion_encoder_and_itm_head_only():
    from fastreid_multimodal.engine.trainer import MultimodalTrainer
    cfg = load_config("configs/Demo/mmet_synth.yml", TINY + ["MODEL.MMET.FUSION_LR_FACTOR", "0.2"])
    torch.manual_seed(0)
    model = build_model(cfg)
    optimizer, _ = MultimodalTrainer.build_optimizer(cfg, model)
    lr_of = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    base = cfg.SOLVER.BASE_LR
    for name, p in model.named_parameters():
        fusion = name.startswith(("backbone.fusion", "backbone.image_to_fusion",
                                  "backbone.text_to_fusion", "itm_head"))
        if id(p) in lr_of and not name.endswith("bias"):
            assert lr_of[id(p)] == pytest.approx(base * (0.2 if fusion else 1.0)), name
    assert lr_of[id(model.backbone.fusion_blocks[0].attn.qkv.weight)] == pytest.approx(0.2 * base)


def test_the_masked_pass_leaves_every_running_statistic_as_a_clean_step_does():
    batch = make_batch(MIXED)
    clean_only = {k: v for k, v in batch.items() if k not in ("patch_mask", "text_input", "token_mask")}
    clean_only["patch_mask"] = torch.zeros_like(batch["patch_mask"])  # nothing masked: no masked pass
    stats = []
    built = tiny_mmet("MODEL.VIT.STEM", "conv")  # BatchNorm in the stem
    for inputs in (batch, clean_only):
        model = copy.deepcopy(built)  # the same weights for both steps
        run(model, inputs)
        stats.append({k: v.clone() for k, v in model.state_dict().items()
                      if "running_" in k or "num_batches_tracked" in k})
    assert any(k.startswith("backbone.patch_embed.stem") for k in stats[0])
    for key, value in stats[0].items():
        assert torch.equal(value, stats[1][key]), key


def _hand_patch_targets(images, cfg_mean, cfg_std):
    """MAE's target by hand: the normalised image's 16x16 patches, each to zero mean, unit var."""
    normalised = (images - torch.tensor(cfg_mean).view(1, 3, 1, 1)) / torch.tensor(cfg_std).view(1, 3, 1, 1)
    rows = []
    for image in normalised:
        patches = [image[:, 16 * r:16 * r + 16, 16 * c:16 * c + 16].reshape(-1)
                   for r in range(4) for c in range(2)]
        rows.append(torch.stack([(p - p.mean()) / (p.var() + 1e-6).sqrt() for p in patches]))
    return torch.stack(rows)


def test_mim_reads_unpaired_images_mmm_paired_ones_each_with_per_patch_normalised_targets(model):
    """The meta-architecture's use of the helpers, not the helpers alone: MIM's rows are the
    unpaired images (never the pairs'), MMM's the pairs' images, MLM's the unpaired captions,
    and every patch target is MAE's per-patch normalised pixels of that very image."""
    batch = make_batch(MIXED)
    cfg = load_config("configs/Demo/mmet_synth.yml", TINY)
    with torch.no_grad():
        out = outputs_of(model, batch)
    modality = torch.tensor(MIXED)
    image_of = modality[modality != TEXT]  # batch["images"] holds the samples that have an image
    unpaired, paired = batch["images"][image_of == IMAGE], batch["images"][image_of == PAIR]
    mean, std = list(cfg.MODEL.PIXEL_MEAN), list(cfg.MODEL.PIXEL_STD)
    torch.testing.assert_close(out["mim"]["target"], _hand_patch_targets(unpaired, mean, std),
                               rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out["mmm"]["image"]["target"], _hand_patch_targets(paired, mean, std),
                               rtol=1e-4, atol=1e-4)
    assert torch.equal(out["mim"]["mask"], batch["patch_mask"][image_of == IMAGE])
    text_of = modality[modality != IMAGE]
    assert torch.equal(out["mlm"]["labels"], batch["text_ids"][text_of == TEXT])
    assert torch.equal(out["mmm"]["text"]["labels"], batch["text_ids"][text_of == PAIR])


# MIXED = [IMAGE, TEXT, PAIR, PAIR, IMAGE, PAIR, TEXT, PAIR]: images rows 0..5 (0 and 3 unpaired),
# texts rows 0..5 (0 and 4 unpaired)
PERTURBED = {  # which input element, then the losses that must move; every other loss must not
    "an unpaired image's pixel": (("images", 0), {"loss_cls", "loss_triplet", "loss_mim"}),
    "an unpaired caption's word": (("text_ids", 4), {"loss_cls", "loss_triplet", "loss_mlm"}),
    "a paired image's pixel": (("images", 1), {"loss_cls", "loss_triplet", "loss_gc", "loss_itm",
                                               "loss_mmm_image", "loss_mmm_text"}),
    "a paired caption's word": (("text_ids", 1), {"loss_cls", "loss_triplet", "loss_gc", "loss_itm",
                                                  "loss_mmm_image", "loss_mmm_text"}),
}


@pytest.mark.parametrize("what", sorted(PERTURBED))
def test_perturbing_one_input_moves_exactly_the_losses_that_read_it(model, what):
    """The whole forward on a mixed batch: MIM reads unpaired images only, MLM unpaired captions
    only, L_GC / ITM / MMM pairs only, ID + triplet everything."""
    (key, row), moving = PERTURBED[what]
    batch = make_batch(MIXED)
    changed = {k: v.clone() if torch.is_tensor(v) else v for k, v in batch.items()}
    if key == "images":
        changed["images"][row, :, 20, 10] += 60.0  # one pixel of an unmasked patch (mask: one patch)
        assert not batch["patch_mask"][row, 2]
    else:
        position = 5  # an unmasked real word of that caption (token_mask: positions 2, 3)
        for ids in (changed["text_ids"], changed["text_input"]):
            ids[row, position] = 1999 if ids[row, position] != 1999 else 1998
    results = []
    for inputs in (batch, changed):
        torch.manual_seed(0)  # the ITM negatives' draw
        with torch.no_grad():
            results.append(run(model, inputs))
    moved = {name for name in results[0] if not torch.equal(results[0][name], results[1][name])}
    assert moved == moving, (what, sorted(moved))


@pytest.mark.parametrize("modalities", [
    [IMAGE, IMAGE, TEXT, PAIR],  # one pair: [CLS_M] and L_GC get one sample
    [PAIR, IMAGE, IMAGE],  # one caption in all
    [TEXT, TEXT, PAIR],  # one image in all
    [IMAGE, IMAGE, IMAGE, IMAGE]])  # no caption, no pair
@pytest.mark.parametrize("gc_feature", ["cls", "bnneck"])
def test_groups_of_one_or_no_sample_train_without_error_or_nan(modalities, gc_feature):
    # a process's share of the paper config's batch on 8 GPUs (8 samples) can hold such groups
    model = tiny_mmet("MODEL.MMET.GC_FEATURE", gc_feature)
    batch = make_batch(modalities, pids=[0, 1, 2, 3][:len(modalities)])
    before = copy.deepcopy(model.state_dict())
    losses = run(model, batch)
    assert all(torch.isfinite(value).all() for value in losses.values())
    sum(losses.values()).backward()
    sizes = {"image": sum(m != TEXT for m in modalities), "text": sum(m != IMAGE for m in modalities),
             "fusion": sum(m == PAIR for m in modalities)}
    for group, prefix in (("image", "heads."), ("text", "text_heads."), ("fusion", "fusion_heads.")):
        moved = not torch.equal(before[prefix + "bottleneck.0.running_mean"],
                                model.state_dict()[prefix + "bottleneck.0.running_mean"])
        assert moved == (sizes[group] > 1), group  # a BNNeck sees only groups of two or more
    assert float(losses["loss_gc"]) == 0 or sizes["fusion"] > 1


# -- host reads (synchronisations on a GPU) -----------------------------------------------------------
MMET_FILES = ("meta_arch/mmet.py", "losses/masked_image_modeling.py", "losses/masked_language_modeling.py",
              "losses/masked_multimodal_modeling.py", "losses/global_contrastive.py",
              "losses/image_text_matching.py", "data/pairs.py", "losses/cross_entropy.py",
              "losses/triplet.py", "compat/losses.py", "losses/cross_entroy_loss.py",
              "losses/triplet_loss.py")  # the last two: fastreid's, patched by compat


def with_layout(batch):
    from fastreid_multimodal.data.pairs import pair_layout
    return {**batch, "layout": pair_layout(batch["modality"], batch["targets"], batch.get("patch_mask"),
                                           batch.get("token_mask"))}


def test_a_collated_batch_trains_without_reading_the_device_back():
    """With PairCollate's layout the meta-architecture and its losses select every group with
    index tensors: no .item(), nonzero, unique or mask indexing of theirs in a training step
    (forward and backward; the backbone's padding check reads on the CPU only, accuracies are
    logged as tensors); without it (a batch made elsewhere) the layout is read back from the
    tensors."""
    from host_reads import HostReads
    model = tiny_mmet("MODEL.MMET.ITM_HARD_NEGATIVES", "True").train()
    batch = make_batch(MIXED)
    reads = {}
    for name, data in (("layout", with_layout(batch)), ("none", batch)):
        counter = HostReads()
        with EventStorage(0), counter:
            sum(model(data).values()).backward()
        reads[name] = {k: v for k, v in counter.where.items() if k.split(":")[0].endswith(MMET_FILES)}
    assert not reads["layout"], reads["layout"]
    assert reads["none"]


def test_the_layout_selects_what_the_masks_select():
    batch = make_batch(MIXED)
    losses, grads = [], []
    for data in (with_layout(batch), batch):
        model = tiny_mmet("MODEL.MMET.ITM_HARD_NEGATIVES", "True").train()
        torch.manual_seed(1)
        with EventStorage(0):
            out = model(data)
        sum(out.values()).backward()
        losses.append({k: v.item() for k, v in out.items()})
        grads.append([p.grad for p in model.parameters()])
    assert losses[0] == losses[1] and len(losses[0]) >= 7
    assert all((a is None and b is None) or torch.equal(a, b) for a, b in zip(*grads))
