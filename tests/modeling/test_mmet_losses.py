"""MMET's losses on fixed tiny inputs, each against a value computed by hand (so that a change of
what a loss computes — a dropped term, a skipped normalisation, an ignored weight — fails here)."""
import math

import pytest
import torch

from fastreid_multimodal.engine import load_config
from fastreid_multimodal.modeling.losses import build_losses
from fastreid_multimodal.modeling.losses.global_contrastive import global_contrastive_loss
from fastreid_multimodal.modeling.meta_arch.mmet import patch_targets

NAMES = ("CrossEntropyLoss", "TripletLoss", "GlobalContrastive", "MaskedImageModeling",
         "MaskedLanguageModeling", "MaskedMultimodalModeling", "ImageTextMatching")


def losses_with(**weights):
    opts = ["MODEL.LOSSES.NAME", str(NAMES)]
    for key, value in weights.items():
        opts += [f"MODEL.MMET.{key}", str(value)]
    return build_losses(load_config("configs/Demo/mmet_synth.yml", opts))


def ce(logits, label):
    return -logits[label] + math.log(sum(math.exp(v) for v in logits))


def test_global_contrastive_by_hand():
    # three pairs, identities 0, 0, 1: pairs 0 and 1 are not each other's negatives
    image = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    text = torch.tensor([[2.0, 0.0], [0.0, 3.0], [1.0, 1.0]])
    pids = torch.tensor([0, 0, 1])
    t = 0.5
    cos = [[1.0, 0.0, 1 / math.sqrt(2)], [0.6, 0.8, 1.4 / math.sqrt(2)], [0.0, 1.0, 1 / math.sqrt(2)]]
    allowed = [[0, 2], [1, 2], [0, 1, 2]]  # image i's softmax: its own text + other identities'
    i2t = sum(-cos[i][i] / t + math.log(sum(math.exp(cos[i][j] / t) for j in allowed[i]))
              for i in range(3)) / 3
    t2i = sum(-cos[j][j] / t + math.log(sum(math.exp(cos[i][j] / t) for i in allowed[j]))
              for j in range(3)) / 3
    expected = (i2t + t2i) / 2
    assert global_contrastive_loss(image, text, pids, t).item() == pytest.approx(expected, rel=1e-5)
    fns = losses_with(GC_WEIGHT=2.0, GC_TEMPERATURE=0.5)
    out = fns["GlobalContrastive"]({"gc": {"image": image, "text": text, "targets": pids}}, {})
    assert out["loss_gc"].item() == pytest.approx(2 * expected, rel=1e-5)
    one_id = {"gc": {"image": image, "text": text, "targets": torch.zeros(3, dtype=torch.long)}}
    assert fns["GlobalContrastive"](one_id, {}) == {}


def test_patch_targets_are_per_patch_normalised_pixels():
    images = torch.arange(3 * 4 * 2, dtype=torch.float).view(1, 3, 4, 2) ** 1.5  # 2x1 patches of 2
    target = patch_targets(images, 2, (2, 2))
    assert target.shape == (1, 2, 12)
    patch = images[0, :, 2:4, 0:2].reshape(-1)  # the second patch, channel-major as unfold
    expected = (patch - patch.mean()) / (patch.var() + 1e-6).sqrt()
    torch.testing.assert_close(target[0, 1], expected)


def test_masked_image_modeling_by_hand():
    target = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])
    mask = torch.tensor([[False, True, True]])
    pred = torch.tensor([[3.0, 3.0], [4.0, 8.0]])  # the masked patches 1, 2
    expected = (((0 + 1) / 2) + ((1 + 4) / 2)) / 2
    out = losses_with(MIM_WEIGHT=3.0)["MaskedImageModeling"](
        {"mim": {"pred": pred, "target": target, "mask": mask}}, {})
    assert out["loss_mim"].item() == pytest.approx(3.0 * expected)


def test_masked_language_modeling_by_hand():
    labels = torch.tensor([[5, 1, 2, 6]])
    mask = torch.tensor([[False, True, True, False]])
    logits = torch.tensor([[0.0, 2.0, 0.0], [1.0, 1.0, 3.0]])
    expected = (ce([0.0, 2.0, 0.0], 1) + ce([1.0, 1.0, 3.0], 2)) / 2
    out = losses_with(MLM_WEIGHT=0.5)["MaskedLanguageModeling"](
        {"mlm": {"logits": logits, "labels": labels, "mask": mask}}, {})
    assert out["loss_mlm"].item() == pytest.approx(0.5 * expected, rel=1e-6)


def test_masked_multimodal_modeling_has_both_terms_by_hand():
    image = {"pred": torch.tensor([[1.0, 1.0]]), "target": torch.tensor([[[0.0, 0.0], [1.0, 3.0]]]),
             "mask": torch.tensor([[False, True]])}
    text = {"logits": torch.tensor([[0.0, 1.0]]), "labels": torch.tensor([[0, 0]]),
            "mask": torch.tensor([[False, True]])}
    out = losses_with(MMM_WEIGHT=2.0)["MaskedMultimodalModeling"]({"mmm": {"image": image,
                                                                          "text": text}}, {})
    assert out["loss_mmm_image"].item() == pytest.approx(2.0 * (0 + 4) / 2)
    assert out["loss_mmm_text"].item() == pytest.approx(2.0 * ce([0.0, 1.0], 0), rel=1e-6)


def test_image_text_matching_by_hand():
    logits = torch.tensor([[0.0, 2.0], [1.0, 0.0], [0.5, 0.5]])
    labels = torch.tensor([1, 0, 0])
    expected = (ce([0.0, 2.0], 1) + ce([1.0, 0.0], 0) + ce([0.5, 0.5], 0)) / 3
    fns = losses_with(ITM_WEIGHT=0.25)
    out = fns["ImageTextMatching"]({"itm": {"logits": logits, "labels": labels}}, {})
    assert out["loss_itm"].item() == pytest.approx(0.25 * expected, rel=1e-6)
    assert fns["ImageTextMatching"]({"itm": {"logits": logits[:1], "labels": labels[:1]}}, {}) == {}


def test_zero_weight_zeroes_the_loss():
    out = losses_with(MIM_WEIGHT=0.0)["MaskedImageModeling"](
        {"mim": {"pred": torch.ones(1, 2), "target": torch.zeros(1, 1, 2),
                 "mask": torch.ones(1, 1, dtype=torch.bool)}}, {})
    assert out["loss_mim"].item() == 0.0
