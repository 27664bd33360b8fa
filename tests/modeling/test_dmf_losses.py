"""DMF's objective on a fixed tiny batch equals the hand-computed value (DMF Eq. 1-2): ID loss with
label smoothing, soft-margin triplet with batch-hard mining; the configured weights scale them."""
import math

import pytest
import torch

from fastreid_multimodal.engine import load_config
from fastreid_multimodal.modeling.losses import build_losses

LOGITS = [[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]]
TARGETS = [0, 2]
# four 2-d features: ids 0, 0, 1, 1
FEATURES = [[0.0, 0.0], [3.0, 0.0], [0.0, 4.0], [1.0, 4.0]]
FEATURE_IDS = [0, 0, 1, 1]


def dmf_losses(*opts):
    return build_losses(load_config("configs/Demo/dmf_stage1_synth.yml", list(opts),
                                    check_files=False))


def smoothed_ce_by_hand(eps):
    total = 0.0
    for logits, target in zip(LOGITS, TARGETS):
        log_z = math.log(sum(math.exp(v) for v in logits))
        for c, v in enumerate(logits):
            weight = 1 - eps if c == target else eps / (len(logits) - 1)
            total -= weight * (v - log_z)
    return total / len(LOGITS)


def soft_margin_hard_triplet_by_hand():
    total = 0.0
    for i, (x, pid) in enumerate(zip(FEATURES, FEATURE_IDS)):
        dist = [math.dist(x, y) for y in FEATURES]
        hardest_positive = max(d for d, q in zip(dist, FEATURE_IDS) if q == pid)
        hardest_negative = min(d for d, q in zip(dist, FEATURE_IDS) if q != pid)
        total += math.log(1 + math.exp(-(hardest_negative - hardest_positive)))
    return total / len(FEATURES)


def test_id_loss_is_label_smoothed_cross_entropy():
    logits = torch.tensor(LOGITS)
    out = dmf_losses()["CrossEntropyLoss"]({"cls_outputs": logits, "pred_class_logits": logits},
                                           {"targets": torch.tensor(TARGETS)})
    assert out["loss_cls"].item() == pytest.approx(smoothed_ce_by_hand(0.1), rel=1e-6)
    # smoothing matters: without it the value differs
    assert smoothed_ce_by_hand(0.0) != pytest.approx(smoothed_ce_by_hand(0.1), rel=1e-3)


def test_triplet_is_soft_margin_with_hard_mining():
    out = dmf_losses()["TripletLoss"]({"features": torch.tensor(FEATURES)},
                                      {"targets": torch.tensor(FEATURE_IDS)})
    expected = soft_margin_hard_triplet_by_hand()
    assert out["loss_triplet"].item() == pytest.approx(expected, rel=1e-5)
    # margin 0.3 without hard mining is another objective: it must not pass for the paper's
    other = dmf_losses("MODEL.LOSSES.TRI.MARGIN", "0.3", "MODEL.LOSSES.TRI.HARD_MINING", "False")
    value = other["TripletLoss"]({"features": torch.tensor(FEATURES)},
                                 {"targets": torch.tensor(FEATURE_IDS)})["loss_triplet"].item()
    assert value != pytest.approx(expected, rel=1e-3)


def test_loss_weights_scale_the_losses():
    losses = dmf_losses("MODEL.LOSSES.CE.SCALE", "0.5", "MODEL.LOSSES.TRI.SCALE", "2.0")
    logits = torch.tensor(LOGITS)
    ce = losses["CrossEntropyLoss"]({"cls_outputs": logits, "pred_class_logits": logits},
                                    {"targets": torch.tensor(TARGETS)})["loss_cls"].item()
    tri = losses["TripletLoss"]({"features": torch.tensor(FEATURES)},
                                {"targets": torch.tensor(FEATURE_IDS)})["loss_triplet"].item()
    assert ce == pytest.approx(0.5 * smoothed_ce_by_hand(0.1), rel=1e-6)
    assert tri == pytest.approx(2.0 * soft_margin_hard_triplet_by_hand(), rel=1e-5)


def weighted_by_hand(per_sample, weights):
    return sum(w * v for w, v in zip(weights, per_sample)) / len(per_sample)


def test_sample_groups_weigh_each_samples_terms():
    """MODEL.DMF.TEXT_LOSS_WEIGHT's mechanism: sum of weight x term over the batch / batch size."""
    losses = dmf_losses()
    logits = torch.tensor(LOGITS)
    groups = ((torch.tensor([0]), 1.0), (torch.tensor([1]), 0.25))
    ce = losses["CrossEntropyLoss"]({"cls_outputs": logits, "pred_class_logits": logits},
                                    {"targets": torch.tensor(TARGETS), "sample_groups": groups})
    per_sample = []
    for i in range(2):
        log_z = math.log(sum(math.exp(v) for v in LOGITS[i]))
        per_sample.append(-sum((0.9 if c == TARGETS[i] else 0.05) * (v - log_z)
                               for c, v in enumerate(LOGITS[i])))
    assert ce["loss_cls"].item() == pytest.approx(weighted_by_hand(per_sample, [1.0, 0.25]), rel=1e-6)

    anchors = []
    for x, pid in zip(FEATURES, FEATURE_IDS):
        dist = [math.dist(x, y) for y in FEATURES]
        ap = max(d for d, q in zip(dist, FEATURE_IDS) if q == pid)
        an = min(d for d, q in zip(dist, FEATURE_IDS) if q != pid)
        anchors.append(math.log(1 + math.exp(-(an - ap))))
    groups = ((torch.tensor([0, 2]), 1.0), (torch.tensor([1, 3]), 0.0))
    tri = losses["TripletLoss"]({"features": torch.tensor(FEATURES)},
                                {"targets": torch.tensor(FEATURE_IDS), "sample_groups": groups})
    assert tri["loss_triplet"].item() == pytest.approx(weighted_by_hand(anchors, [1, 0, 1, 0]), rel=1e-5)


@pytest.mark.parametrize("margin,norm_feat,hard_mining", [("0.0", "False", "True"), ("0.3", "False", "True"),
                                                          ("0.0", "True", "False"), ("0.3", "True", "False")])
def test_groups_of_weight_one_are_fastreids_losses(margin, norm_feat, hard_mining):
    losses = dmf_losses("MODEL.LOSSES.TRI.MARGIN", margin, "MODEL.LOSSES.TRI.NORM_FEAT", norm_feat,
                        "MODEL.LOSSES.TRI.HARD_MINING", hard_mining)
    torch.manual_seed(0)
    feats, targets = torch.randn(8, 5), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    logits = torch.randn(8, 4)
    groups = ((torch.tensor([0, 3, 4, 7]), 1.0), (torch.tensor([1, 2, 5, 6]), 1.0))
    for name, outputs in (("TripletLoss", {"features": feats}),
                          ("CrossEntropyLoss", {"cls_outputs": logits, "pred_class_logits": logits})):
        plain = losses[name](outputs, {"targets": targets})
        grouped = losses[name](outputs, {"targets": targets, "sample_groups": groups})
        for key in plain:
            torch.testing.assert_close(grouped[key], plain[key])


def test_text_loss_weight_in_the_model():
    """Weight 0: a caption-only batch has no loss and no gradient; a mixed batch's ID loss is the
    images' share; weight 1 is DMF's mean (no groups made); < 0 is one error naming the key."""
    from fastreid.utils.events import EventStorage
    from fastreid_multimodal.errors import ConfigError
    from test_dmf import batch, tiny_dmf

    zero = tiny_dmf("MODEL.DMF.TEXT_LOSS_WEIGHT", "0.0").train()
    with EventStorage(0):
        losses = zero(batch([1, 1, 1, 1]))
    total = sum(losses.values())
    assert total.item() == 0.0
    total.backward()
    assert all(p.grad is None or not p.grad.any() for p in zero.parameters())
    one, half = tiny_dmf().train(), tiny_dmf("MODEL.DMF.TEXT_LOSS_WEIGHT", "0.5").train()
    data = batch([0, 1, 1, 0])
    with EventStorage(0):
        full, weighted, images_only = one(data)["loss_cls"], half(data)["loss_cls"], zero(data)["loss_cls"]
    # mean = (images + texts) / 4; weighted = (images + 0.5 texts) / 4; zero = images / 4
    torch.testing.assert_close(weighted, (full + images_only) / 2)
    assert images_only < weighted < full or images_only > weighted > full
    with pytest.raises(ConfigError, match="MODEL.DMF.TEXT_LOSS_WEIGHT must be >= 0"):
        tiny_dmf("MODEL.DMF.TEXT_LOSS_WEIGHT", "-1.0")
