"""Toy problems for the cross-modal objectives (issue 26).

* L_GC (GlobalContrastive): two-colour people (upper x lower of 8 colours: 64 identities) and the
  caption "upper <a> lower <b>": trained on true pairs, a caption retrieves its images; trained on
  the same data with the captions shuffled within the batch, it must not.
* DMF: the same people with random background rows, random brightness and heavy pixel noise, only
  two training images per identity; the captions say the identity cleanly. DMF (images +
  captions, MODEL.DMF.MODALITIES both) must rank held-out images of the identities better than
  image-only training on the same image batches (MODALITIES image)."""
import torch

from toy_data import (COLOUR_NAMES, COLS, IMAGE, PAIR, PALETTE, TEXT, collate_dmf, collate_pairs,
                      grid_image, random_colours, retrieval, tiny_model, tokenizer, train)

NUM_IDS = 64  # upper colour x lower colour


def caption(pid):
    return torch.tensor(tokenizer()(f"upper {COLOUR_NAMES[pid // 8]} lower {COLOUR_NAMES[pid % 8]}")["input_ids"])


def two_colour_person(pid, generator, noise=20.0):
    colours = torch.cat([PALETTE[pid // 8].expand(2, COLS, 3), PALETTE[pid % 8].expand(2, COLS, 3)])
    return grid_image(colours, noise=noise, generator=generator)


# -- L_GC ---------------------------------------------------------------------------------------------
def gc_batch(n, generator, shuffle_captions):
    pids = torch.randint(0, NUM_IDS, (n,), generator=generator).tolist()
    images = [two_colour_person(p, generator) for p in pids]
    captions = [caption(p) for p in pids]
    if shuffle_captions:  # the control: each image with the caption of a random other sample
        captions = [captions[j] for j in torch.randperm(n, generator=generator)]
    return collate_pairs([PAIR] * n, pids, images=images, text_ids=captions)


def text_to_image_rank1(shuffle_captions):
    model = tiny_model("MMET", ["GlobalContrastive"], num_classes=NUM_IDS)
    train(model, lambda step, g: gc_batch(32, g, shuffle_captions), 250)
    g = torch.Generator().manual_seed(7)
    gallery = torch.stack([two_colour_person(p, g) for p in range(NUM_IDS) for _ in range(2)])
    queries = torch.stack([caption(p) for p in range(NUM_IDS)])  # all of one length
    model.eval()
    with torch.no_grad():  # the raw [CLS_T] / [CLS_I] that L_GC compares (GC_FEATURE cls)
        text = model.backbone.encode_text(queries, torch.ones_like(queries, dtype=torch.bool))[:, 0]
        image = model.backbone.encode_image(model.preprocess_image(gallery))[:, 0]
    return retrieval(text, range(NUM_IDS), image, [p for p in range(NUM_IDS) for _ in range(2)])["Rank-1"]


def test_global_contrastive_aligns_true_pairs_and_not_shuffled_ones():
    paired, shuffled = text_to_image_rank1(False), text_to_image_rank1(True)
    chance = 100 / NUM_IDS
    assert paired > 30 and shuffled < 4 * chance, \
        f"text->image Rank-1: paired {paired:.1f} %, shuffled {shuffled:.1f} %, chance {chance:.1f} %"


# -- DMF ----------------------------------------------------------------------------------------------
def noisy_person(pid, generator):
    """Upper / lower colour in rows 1 / 2, random colours in rows 0 and 3, brightness 0.4-1.0,
    pixel noise of std 60 (of 255)."""
    colours = torch.cat([random_colours((1, COLS), generator), PALETTE[pid // 8].expand(1, COLS, 3),
                         PALETTE[pid % 8].expand(1, COLS, 3), random_colours((1, COLS), generator)])
    colours = colours * (0.4 + 0.6 * torch.rand((), generator=generator))
    return grid_image(colours, noise=60, generator=generator)


def dmf_batch(train_images, generator, with_captions):
    """8 identities x (2 images [+ 2 captions]): the images are the same in both arms."""
    modality, pids, images, captions = [], [], [], []
    for pid in torch.randperm(NUM_IDS, generator=generator)[:8].tolist():
        for j in torch.randint(0, 2, (2,), generator=generator).tolist():
            modality.append(IMAGE), pids.append(pid), images.append(train_images[pid][j]), captions.append(None)
        for _ in range(2 if with_captions else 0):
            modality.append(TEXT), pids.append(pid), images.append(None), captions.append(caption(pid))
    return collate_dmf(modality, pids, images, captions)


def held_out_map(modalities):
    g = torch.Generator().manual_seed(3)
    train_images = {p: [noisy_person(p, g) for _ in range(2)] for p in range(NUM_IDS)}
    model = tiny_model("DMF", ["CrossEntropyLoss", "TripletLoss"], num_classes=NUM_IDS,
                       extra=["MODEL.DMF.MODALITIES", modalities])
    train(model, lambda step, g: dmf_batch(train_images, g, modalities == "both"), 200)
    g = torch.Generator().manual_seed(11)
    queries = torch.stack([noisy_person(p, g) for p in range(NUM_IDS)])
    gallery = torch.stack([noisy_person(p, g) for p in range(NUM_IDS) for _ in range(3)])
    model.eval()
    with torch.no_grad():
        return retrieval(model.image_features(queries), range(NUM_IDS), model.image_features(gallery),
                         [p for p in range(NUM_IDS) for _ in range(3)])["mAP"]


def test_dmf_captions_improve_image_features_under_heavy_nuisance():
    both, image_only = held_out_map("both"), held_out_map("image")
    assert both > image_only + 10, f"held-out image mAP: DMF {both:.1f} vs image-only {image_only:.1f}"
