"""MMET data: patch masks on the pedestrian (mask file or prior) that follow flip/pad, BERT token
masks, and the pair / unpaired sample list."""
import glob
import logging
import os
import shutil

import numpy as np
import pytest
import torch
from fastreid.data.samplers import NaiveIdentitySampler
from PIL import Image

import fastreid_multimodal  # noqa: F401
from fastreid_multimodal.data.captions import parse_caption_line
from fastreid_multimodal.data.samples import Caption
from fastreid_multimodal.data.masking import (JointFlipPad, PatchMasker, TokenMasker,
                                              build_patch_masker, ellipse_prior,
                                              foreground_fraction, load_foreground, mask_path)
from fastreid_multimodal.data.samples import IMAGE, PAIR, TEXT, Pair
from fastreid_multimodal.data.build import paired_items
from fastreid_multimodal.data.pairs import PairCollate, PairDataset, draw_modality, pair_samples
from fastreid_multimodal.data.synth import generate_domain
from fastreid_multimodal.data.text import build_tokenizer
from fastreid_multimodal.engine import load_config
from fastreid_multimodal.errors import ConfigError


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer("")


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    """A tiny SynthPerson domain (images + foreground masks + captions), 128x64."""
    root = str(tmp_path_factory.mktemp("mmetsynth"))
    return generate_domain(root, "source", num_ids=4, images_per_id=3, seed=0, size=(128, 64))


def synth_images(synth):
    """The domain's image paths, images/<pid>/<name>.jpg, sorted."""
    return sorted(glob.glob(os.path.join(synth, "images", "*", "*.jpg")))


def write_person(folder, name, left=True, size=(64, 32), identity=""):
    """A bright person on one half of a dark image, with its mask in ../masks/ (in images/<pid>/
    and masks/<pid>/ with ``identity``)."""
    h, w = size
    img = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    cols = slice(0, w // 2) if left else slice(w // 2, w)
    img[:, cols], mask[:, cols] = 250, 255
    os.makedirs(os.path.join(folder, "images", identity), exist_ok=True)
    os.makedirs(os.path.join(folder, "masks", identity), exist_ok=True)
    path = os.path.join(folder, "images", identity, name + ".jpg")
    Image.fromarray(img).save(path, quality=95)
    Image.fromarray(mask, "L").save(os.path.join(folder, "masks", identity, name + ".png"))
    return path


# -- patch masks ------------------------------------------------------------------------------------
@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.1, 1.5])
def test_masking_ratio_outside_zero_one_names_the_key(ratio, tokenizer):
    with pytest.raises(ConfigError, match=r"MODEL\.MMET\.IMAGE_MASK_RATIO"):
        PatchMasker(ratio)
    with pytest.raises(ConfigError, match=r"MODEL\.MMET\.TEXT_MASK_RATIO"):
        TokenMasker(ratio, tokenizer)
    with pytest.raises(ConfigError, match=r"MODEL\.MMET\.IMAGE_MASK_RATIO"):
        build_patch_masker(load_config("configs/Demo/mmet_synth.yml",
                                       ["MODEL.MMET.IMAGE_MASK_RATIO", str(ratio)]))


def test_random_mode_with_region_count_masks_fifteen_percent_of_the_grid_anywhere():
    masker = PatchMasker(0.15, "random", 16, 12, (256, 128), count="region")
    assert masker.num_patches == 21 * 10 and not masker.needs_foreground
    masks = torch.stack([masker(generator=torch.Generator().manual_seed(i)) for i in range(200)])
    assert (masks.sum(1) == 32).all()
    assert masks.any(0).all()  # every patch, background included, gets masked sometimes


def test_pedestrian_count_makes_random_and_foreground_modes_hide_the_same_number(synth):
    """MASK_COUNT pedestrian: both modes hide round(ratio x pedestrian patches); random mode
    spreads them over the whole grid (background included), foreground mode keeps them on it."""
    foreground_masker = PatchMasker(0.15, "foreground", 8, 8, (128, 64))
    random_masker = PatchMasker(0.15, "random", 8, 8, (128, 64))
    assert random_masker.needs_foreground
    on_background = 0
    for path in synth_images(synth):
        foreground = load_foreground(path, (128, 64))
        fraction = foreground_fraction(foreground, 8, 8)
        expected = max(1, round(0.15 * int((fraction >= 0.5).sum())))
        assert expected >= 3  # several patches at 8-px patches on 128x64 (the MMET demo geometry)
        for seed in range(5):
            generator = torch.Generator().manual_seed(seed)
            fg, rnd = foreground_masker(foreground, generator), random_masker(foreground, generator)
            assert fg.sum() == rnd.sum() == expected
            assert (fraction[fg] >= 0.5).all()
            on_background += int((fraction[rnd] == 0).sum())
    assert on_background > 0


def test_foreground_masks_fall_inside_the_foreground():
    foreground = torch.zeros(1, 128, 64)
    foreground[:, 16:120, 16:48] = 1  # a 104x32 pedestrian
    masker = PatchMasker(0.15, "foreground", 16, 16, (128, 64))
    fraction = foreground_fraction(foreground, 16, 16)
    pedestrian = int((fraction >= 0.5).sum())
    assert pedestrian == 14  # 104x32 on a 16-px grid: 7 rows x 2 columns at >= 50 %
    for seed in range(50):
        mask = masker(foreground, torch.Generator().manual_seed(seed))
        assert mask.sum() == round(0.15 * pedestrian) == 2  # 15 % of the pedestrian, not of the grid
        assert (fraction[mask] >= 0.5).all()


@pytest.mark.parametrize("ratio", [0.15, 0.3, 0.5, 0.75])
def test_foreground_masks_hide_the_configured_fraction_of_the_pedestrian(ratio, synth):
    """On every SynthPerson mask: the masked share of the pedestrian's patches is the ratio
    (+-1 patch), and of its pixels close to it; random mode hides the ratio of the whole grid."""
    masker = PatchMasker(ratio, "foreground", 16, 16, (128, 64))
    random_masker = PatchMasker(ratio, "random", 16, 16, (128, 64), count="region")
    for path in synth_images(synth):
        foreground = load_foreground(path, (128, 64))
        fraction = foreground_fraction(foreground, 16, 16)
        pedestrian = int((fraction >= 0.5).sum())
        mask = masker(foreground, torch.Generator().manual_seed(0))
        assert abs(int(mask.sum()) - ratio * pedestrian) <= 1, (path, int(mask.sum()), pedestrian)
        assert (fraction[mask] >= 0.5).all()
        assert abs(int(random_masker(None).sum()) - ratio * 32) <= 1


def test_foreground_masks_on_synthperson_masks(synth):
    masker = PatchMasker(0.15, "foreground", 16, 16, (128, 64))
    images = synth_images(synth)
    assert len(images) == 4 * 3
    for path in images:
        identity, name = path.split(os.sep)[-2:]
        assert identity == name[:4]  # FineGPR's release layout: one folder per identity
        assert mask_path(path) == os.path.join(synth, "masks", identity, name[:-4] + ".png")
        assert os.path.isfile(mask_path(path))
        foreground = load_foreground(path, (128, 64))
        fraction = foreground_fraction(foreground, 16, 16)
        mask = masker(foreground)
        assert mask.any() and (fraction[mask] > 0).all()  # never a pure-background patch
        # the pedestrian's best patches: nothing unmasked is more foreground than a masked
        # patch below the threshold
        below = mask & (fraction < 0.5)
        if below.any():
            assert fraction[~mask].max() <= fraction[below].min() + 1e-6


def test_mask_files_mirror_a_flat_or_a_per_identity_image_folder(tmp_path):
    flat = write_person(str(tmp_path / "flat"), "0001_c01_w01_l01_p01")
    nested = write_person(str(tmp_path / "nested"), "0001_c01_w01_l01_p01", identity="0001")
    assert mask_path(flat) == str(tmp_path / "flat" / "masks" / "0001_c01_w01_l01_p01.png")
    assert mask_path(nested) == str(tmp_path / "nested" / "masks" / "0001" /
                                    "0001_c01_w01_l01_p01.png")
    for path in (flat, nested):
        foreground = load_foreground(path, (64, 32))
        assert foreground.shape == (1, 64, 32)
        assert foreground[0, :, :16].mean() > 0.99 and foreground[0, :, 16:].max() < 0.01
    # a folder named like an identity but outside images/ is no image folder
    assert mask_path(str(tmp_path / "0001" / "0001_c01_w01_l01_p01.jpg")) is None


def test_without_a_mask_file_the_centred_ellipse_prior_is_used(tmp_path):
    Image.new("RGB", (64, 128)).save(tmp_path / "img.jpg")
    assert load_foreground(str(tmp_path / "img.jpg"), (128, 64)) is None  # not in images/
    prior = ellipse_prior((128, 64))[0]
    assert prior[64, 32] == 1 and prior[0, 0] == 0 and prior[64, 0] == 0 and prior[2, 32] == 0
    assert 0.3 < prior.mean() < 0.4  # pi * 0.45 * 0.25
    masker = PatchMasker(0.15, "foreground", 16, 16, (128, 64))
    fraction = foreground_fraction(prior[None], 16, 16)
    pedestrian = int((fraction >= 0.5).sum())
    for seed in range(30):
        mask = masker(None, torch.Generator().manual_seed(seed))
        assert mask.sum() == max(1, round(0.15 * pedestrian)) and (fraction[mask] >= 0.5).all()


def test_masks_follow_flip_and_pad(tmp_path):
    path = write_person(str(tmp_path), "0000_c01_w01_l01_p01", left=True)
    masker = PatchMasker(0.25, "foreground", 16, 16, (64, 32))  # grid 4x2: left column = person
    from fastreid.data.transforms import ToTensor
    dataset = PairDataset([(path, 0, 0)], ToTensor(), joint=JointFlipPad(1.0, 4),
                          patch_masker=masker, mask_images_of=[IMAGE])
    for _ in range(10):
        sample = dataset[0]
        image, mask = sample["images"], sample["patch_mask"].view(4, 2)
        assert image[:, :, 20:28].mean() > 200 and image[:, :, :8].mean() < 50  # flipped: right
        assert mask.sum() == 1 and mask[:, 1].sum() == 1  # 25 % of 4 person patches, moved with it
    never = PairDataset([(path, 0, 0)], ToTensor(), patch_masker=masker, mask_images_of=[PAIR])
    assert not never[0]["patch_mask"].any()  # image-only samples unmasked without MIM


def test_foreground_masking_refuses_crops_it_cannot_follow():
    with pytest.raises(ConfigError, match=r"INPUT\.CROP\.ENABLED"):
        build_patch_masker(load_config("configs/Demo/mmet_synth.yml", ["INPUT.CROP.ENABLED", "True"]))
    with pytest.raises(ConfigError, match=r"MASK_COUNT pedestrian"):  # it counts the pedestrian
        build_patch_masker(load_config("configs/Demo/mmet_synth.yml", [
            "INPUT.CROP.ENABLED", "True", "MODEL.MMET.MASK_MODE", "random"]))
    build_patch_masker(load_config("configs/Demo/mmet_synth.yml", [
        "INPUT.CROP.ENABLED", "True", "MODEL.MMET.MASK_MODE", "random",
        "MODEL.MMET.MASK_COUNT", "region"]))


# -- token masks ------------------------------------------------------------------------------------
def test_token_masks_are_bert_80_10_10_and_never_special(tokenizer):
    masker = TokenMasker(0.15, tokenizer)
    ids = torch.tensor(tokenizer("there is a white female with long hair who wears gray upper "
                                 "clothes and blue lower clothes in a blizzard night")["input_ids"]
                       + [tokenizer.pad_token_id] * 5)
    special = torch.isin(ids, torch.tensor(tokenizer.all_special_ids))
    real = int((~special).sum())
    counts = {"mask": 0, "random": 0, "kept": 0}
    generator = torch.Generator().manual_seed(0)
    for _ in range(600):
        masked, chosen = masker(ids, generator)
        assert chosen.sum() == round(0.15 * real) and not chosen[special].any()
        assert torch.equal(masked[~chosen], ids[~chosen])
        new = masked[chosen]
        counts["mask"] += int((new == tokenizer.mask_token_id).sum())
        counts["kept"] += int((new == ids[chosen]).sum())
        swapped = (new != tokenizer.mask_token_id) & (new != ids[chosen])
        counts["random"] += int(swapped.sum())
        assert not torch.isin(new[swapped], torch.tensor(tokenizer.all_special_ids)).any()
    total = sum(counts.values())
    assert abs(counts["mask"] / total - 0.8) < 0.04
    assert abs(counts["random"] / total - 0.1) < 0.03 and abs(counts["kept"] / total - 0.1) < 0.03
    cls_sep = torch.tensor([tokenizer.cls_token_id, tokenizer.sep_token_id])
    masked, chosen = masker(cls_sep)
    assert not chosen.any() and torch.equal(masked, cls_sep)


# -- pairs ------------------------------------------------------------------------------------------
def test_captioned_images_and_missing_captions_are_counted():
    train = [(f"/d/images/{i}.jpg", i % 3, 0) for i in range(30)]
    captions = {path: f"caption {i}" for i, (path, _, _) in enumerate(train) if i != 7}
    items, stats = pair_samples(train, captions)
    assert stats.missing_caption == 1 and stats.captioned == 29 and len(items) == 30
    assert items[7] == train[7]  # the image without caption: image-only
    assert all(isinstance(item, Pair) for k, (item, _, _) in enumerate(items) if k != 7)
    assert all(len(item) == 3 for item in items)


@pytest.mark.parametrize("pair_prob,split_prob", [(0.8, 0.25), (1.0, 1.0), (0.0, 0.5), (1.0, 0.0)])
def test_pair_split_is_drawn_anew_at_every_load(pair_prob, split_prob, tmp_path, tokenizer):
    """Role frequencies of a captioned image: pair P(1-S), unpaired text PS/2, image the rest —
    and the same sample changes role between loads (the split is not fixed at start)."""
    g = torch.Generator().manual_seed(0)
    draws = torch.tensor([draw_modality(pair_prob, split_prob, g) for _ in range(4000)])
    expected = {PAIR: pair_prob * (1 - split_prob), TEXT: pair_prob * split_prob / 2}
    expected[IMAGE] = 1 - expected[PAIR] - expected[TEXT]
    for modality, p in expected.items():
        assert abs(float((draws == modality).float().mean()) - p) < 0.03
    path = write_person(str(tmp_path), "0000_c01_w01_l01_p01")
    from fastreid.data.transforms import ToTensor
    dataset = PairDataset([(Pair("a person in white", path), 0, 0)], ToTensor(), tokenizer, 16,
                          pair_prob=0.8, split_prob=0.25)
    torch.manual_seed(0)
    seen = {dataset[0]["modality"] for _ in range(60)}
    assert seen == {IMAGE, TEXT, PAIR}


def test_dataset_without_a_caption_gives_image_only_samples_and_logs_the_count(
        synth, tmp_path, monkeypatch, caplog):
    shutil.copytree(synth, tmp_path / "FineGPR")
    caption_file = tmp_path / "FineGPR" / "captions.txt"
    lines = caption_file.read_text().splitlines(keepends=True)
    caption_file.write_text("".join(lines[1:]))  # the first image loses its caption
    monkeypatch.setenv("FASTREID_DATASETS", str(tmp_path))
    cfg = load_config("configs/Demo/mmet_synth.yml", [
        "DATASETS.NAMES", "('FineGPRCaption',)", "DATASETS.FINEGPR.IMAGES_PER_ID", "0",
        "MODEL.MMET.PAIR_PROB", "1.0", "MODEL.MMET.SPLIT_PROB", "0.0"])
    with caplog.at_level(logging.INFO, logger="fastreid.multimodal"):
        items, stats = paired_items(cfg)
    assert stats.missing_caption == 1 and stats.captioned == 11
    assert "1 images without a caption" in caplog.text and "have no caption" in caplog.text
    lost, _ = parse_caption_line(lines[0])
    assert [i for i, _, _ in items if isinstance(i, str)][0].endswith(lost)


def test_pair_dataset_collate_and_identity_sampler(synth, tokenizer):
    images = synth_images(synth)
    items = []
    for k, path in enumerate(images):
        pid = os.path.basename(path)[:4]
        kind = k % 3
        items.append(((Pair("a man in a red coat", path) if kind == 0 else
                       Caption("a woman with a bag", path) if kind == 1 else path), pid, "c"))
    from fastreid.data.transforms import ToTensor
    dataset = PairDataset(items, ToTensor(), tokenizer, 16, JointFlipPad(0.5, 2),
                          PatchMasker(0.15, "foreground", 16, 16, (128, 64)),
                          TokenMasker(0.15, tokenizer), [IMAGE, PAIR], [TEXT, PAIR], 1.0, 0.0)
    sampler = NaiveIdentitySampler(dataset.img_items, 8, 2, seed=0)  # reads item[1]
    stream = iter(sampler)
    indices = [next(stream) for _ in range(8)]
    batch = PairCollate(dataset.pad_id)([dataset[i] for i in indices])
    modality = batch["modality"]
    n_image, n_text = int((modality != TEXT).sum()), int((modality != IMAGE).sum())
    assert batch["images"].shape == (n_image, 3, 128, 64) and batch["patch_mask"].shape == (n_image, 32)
    assert batch["text_ids"].shape[0] == batch["text_input"].shape[0] == n_text
    assert batch["token_mask"].shape == batch["text_ids"].shape
    assert (batch["patch_mask"].sum(1) > 0).all() and (batch["token_mask"].sum(1) > 0).all()
    assert torch.equal(batch["text_input"][~batch["token_mask"]], batch["text_ids"][~batch["token_mask"]])
