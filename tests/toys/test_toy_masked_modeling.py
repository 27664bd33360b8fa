"""Toy problems for the masked-modeling objectives (issue 26): each loss must show its effect on
data where the answer is, by construction, available to it and not to its control.

* MIM: images of one colour, one patch masked: the patch is predictable from its context.
* MMM vs MIM / MLM: a "badge" patch whose colour is written only in the caption, and a caption
  word (the body colour) shown only in the image. MMM reads both modalities; MIM sees only the
  image, MLM only the text."""
import pytest
import torch

from toy_data import (COLOUR_NAMES, IMAGE, NUM_PATCHES, PAIR, PALETTE, PATCH, TEXT, collate_pairs,
                      grid_image, masked_losses, one_patch_masker, random_colours, tiny_model,
                      tokenizer, train)
from fastreid_multimodal.modeling.meta_arch.mmet import patch_targets

STEPS = 300


def predict_the_mean_error(model, batch):
    """The masked-patch MSE of a predictor that knows nothing: the mean target of every patch."""
    targets = patch_targets(model.preprocess_image(batch["images"]), PATCH, (PATCH, PATCH))
    masked = targets[batch["patch_mask"]]
    return float(((masked - targets.flatten(0, 1).mean(0)) ** 2).mean())


def uniform_images(n, generator):
    """Each image one random saturated colour (+ pixel noise), one patch masked by the project's
    PatchMasker: every visible patch tells the masked one's colour."""
    masker = one_patch_masker()
    colours = random_colours((n,), generator)
    images = [grid_image(c.expand(4, 2, 3), noise=10, generator=generator) for c in colours]
    masks = [masker(generator=generator) for _ in range(n)]
    return collate_pairs([IMAGE] * n, [0] * n, images=images, patch_masks=masks)


def test_mim_predicts_a_masked_patch_from_its_context():
    model = tiny_model("MMET", ["MaskedImageModeling"])
    train(model, lambda step, g: uniform_images(32, g), STEPS)
    held_out = uniform_images(256, torch.Generator().manual_seed(123))
    mim, mean = masked_losses(model, held_out)["loss_mim"], predict_the_mean_error(model, held_out)
    assert mim < 0.2 * mean, f"MIM loss {mim:.3f} vs predict-the-mean {mean:.3f}"


# -- MMM against the unimodal objectives ------------------------------------------------------------
def badge_batch(n, generator, modality):
    """Body colour c2 on every patch but one "badge" patch of colour c1 (both of 8 named colours,
    independent); caption "a <c2> person with <c1>". The badge patch is masked (its colour is only
    in the caption) and so is the word <c2> (only in the image), [MASK] as its input."""
    tok = tokenizer()
    c1, c2 = (torch.randint(0, len(PALETTE), (n,), generator=generator) for _ in range(2))
    badge = torch.randint(0, NUM_PATCHES, (n,), generator=generator)
    images, patch_masks, ids, inputs, token_masks = [], [], [], [], []
    for i in range(n):
        colours = PALETTE[c2[i]].expand(NUM_PATCHES, 3).clone()
        colours[badge[i]] = PALETTE[c1[i]]
        images.append(grid_image(colours.view(4, 2, 3), noise=10, generator=generator))
        patch_masks.append(torch.arange(NUM_PATCHES) == badge[i])
        caption = torch.tensor(tok(f"a {COLOUR_NAMES[c2[i]]} person with {COLOUR_NAMES[c1[i]]}")["input_ids"])
        token_mask = torch.arange(len(caption)) == 2  # [CLS] a <c2> ...
        ids.append(caption)
        inputs.append(caption.masked_fill(token_mask, tok.mask_token_id))
        token_masks.append(token_mask)
    return collate_pairs([modality(i) for i in range(n)], c2.tolist(), images=images, text_ids=ids,
                         patch_masks=patch_masks, text_inputs=inputs, token_masks=token_masks)


def as_pairs(i):
    return PAIR


def unpaired(i):  # half unpaired images (MIM), half unpaired texts (MLM)
    return IMAGE if i % 2 else TEXT


@pytest.fixture(scope="module")
def badge_losses():
    """Held-out masked losses of MMM (trained on pairs) and of MIM + MLM (trained on the same
    samples unpaired), the same masks."""
    mmm = train(tiny_model("MMET", ["MaskedMultimodalModeling"]),
                lambda step, g: badge_batch(32, g, as_pairs), STEPS)
    unimodal = train(tiny_model("MMET", ["MaskedImageModeling", "MaskedLanguageModeling"]),
                     lambda step, g: badge_batch(32, g, unpaired), STEPS)
    held_out = torch.Generator().manual_seed(99)
    out = masked_losses(mmm, badge_batch(256, held_out, as_pairs))
    held_out = torch.Generator().manual_seed(99)
    out.update(masked_losses(unimodal, badge_batch(256, held_out, unpaired)))
    return out


def test_mmm_image_term_reads_the_masked_patch_colour_from_the_caption(badge_losses):
    mmm, mim = badge_losses["loss_mmm_image"], badge_losses["loss_mim"]
    assert mmm < 0.5 * mim, f"masked-patch MSE: MMM {mmm:.3f} vs MIM {mim:.3f}"


def test_mmm_text_term_reads_the_masked_word_from_the_image(badge_losses):
    mmm, mlm = badge_losses["loss_mmm_text"], badge_losses["loss_mlm"]
    # MLM cannot beat a uniform guess over the 8 colours, ln 8 = 2.08
    assert mlm > 1.5 and mmm < 0.25 * mlm, f"masked-word CE: MMM {mmm:.3f} vs MLM {mlm:.3f}"
