"""Toy problem for masking as occlusion robustness (issue 26): two-colour people (64 identities),
trained with ID + triplet (the clean pass) and MIM on 25 % masked patches (the masked pass),
weighted 1 or 0; queries with 3 of their 8 patches occluded, a clean gallery.

In this project masking never reaches the Re-ID losses (DESIGN.md: the clean pass), so masked
inputs can act on the Re-ID features only through MIM's gradients on the image encoder."""
import pytest
import torch

from toy_data import (COLS, IMAGE, NUM_PATCHES, PALETTE, PATCH, H, W, collate_pairs, grid_image,
                      random_colours, retrieval, tiny_model, train)
from fastreid_multimodal.data.masking import PatchMasker
from fastreid_multimodal.modeling.feature_map import as_feature_map

NUM_IDS, OCCLUDED = 64, 3


def person(pid, generator, occluders=0):
    colours = torch.cat([PALETTE[pid // 8].expand(2, COLS, 3),
                         PALETTE[pid % 8].expand(2, COLS, 3)]).reshape(NUM_PATCHES, 3).clone()
    if occluders:  # random patches painted over with random colours
        colours[torch.randperm(NUM_PATCHES, generator=generator)[:occluders]] = \
            random_colours((occluders,), generator)
    return grid_image(colours.view(-1, COLS, 3), noise=30, generator=generator)


def batch(generator):
    masker = PatchMasker(0.25, "random", PATCH, PATCH, (H, W), count="region")
    pids = torch.randperm(NUM_IDS, generator=generator)[:8].repeat_interleave(4).tolist()
    return collate_pairs([IMAGE] * len(pids), pids, images=[person(p, generator) for p in pids],
                         patch_masks=[masker(generator=generator) for _ in pids])


def trained(with_masking):
    """The same model, batches and masks; the clean baseline weights MIM 0 (MODEL.MMET.MIM_WEIGHT)."""
    weight = ["MODEL.MMET.MIM_WEIGHT", "1.0" if with_masking else "0.0"]
    model = tiny_model("MMET", ["CrossEntropyLoss", "TripletLoss", "MaskedImageModeling"],
                       num_classes=NUM_IDS, extra=weight)
    return train(model, lambda step, g: batch(g), 200).eval()


def gallery_features(model, generator):
    images = torch.stack([person(p, generator) for p in range(NUM_IDS) for _ in range(2)])
    return model.image_features(images), [p for p in range(NUM_IDS) for _ in range(2)]


@torch.no_grad()
def occluded_query_map(model, as_mask_tokens):
    g = torch.Generator().manual_seed(5)
    if as_mask_tokens:  # the occluder is known (a detector's mask): its patches enter as [MASK]
        images = torch.stack([person(p, g) for p in range(NUM_IDS)])
        mask = torch.stack([torch.randperm(NUM_PATCHES, generator=g) < OCCLUDED for _ in range(NUM_IDS)])
        h_image = model.backbone.encode_image(model.preprocess_image(images), mask)
        queries = model.heads(as_feature_map(h_image[:, 0]))
    else:  # the occluder is unknown: painted-over pixels
        queries = model.image_features(torch.stack([person(p, g, OCCLUDED) for p in range(NUM_IDS)]))
    gallery, gallery_pids = gallery_features(model, g)
    return retrieval(queries, range(NUM_IDS), gallery, gallery_pids)["mAP"]


@pytest.fixture(scope="module")
def models():
    return trained(False), trained(True)


def test_masked_training_helps_queries_whose_occluded_patches_are_masked(models):
    clean, masked = (occluded_query_map(m, as_mask_tokens=True) for m in models)
    assert masked > clean + 10, f"occluded-query mAP: masked training {masked:.1f} vs clean {clean:.1f}"


@pytest.mark.xfail(strict=True, reason="finding (issue 26): with pixel occluders MIM training is "
                   "no better than the clean baseline (mAP level here; worse, 24.6-30.9 vs "
                   "37.3-39.1, with 2-3 occluders and 25-50 % masking): masking "
                   "reaches the Re-ID features only through MIM (the clean pass keeps it away from "
                   "ID + triplet), which teaches nothing about unknown occluders")
def test_masked_training_helps_queries_with_painted_over_occluders(models):
    clean, masked = (occluded_query_map(m, as_mask_tokens=False) for m in models)
    assert masked > clean + 5, f"occluded-query mAP: masked training {masked:.1f} vs clean {clean:.1f}"
