"""Shared pieces of the toy problems (issue 26): tiny models built from the demo configs with the
project's own config helpers, a small WordPiece vocabulary, images of coloured patches generated in
memory, batches collated by the project's PairCollate / MultimodalCollate, a plain Adam loop and
retrieval through the project's own ranking code.

Images are 16 x 8 pixels, 4 x 4 patches: a 4 x 2 grid of 8 patches, each of 48 values. The masked
patch targets are normalised PER PATCH (MAE), so a flat grey patch carries nothing; every colour
used here is saturated, whose normalised target (its R, G, B pattern) still tells it apart."""
import functools
import os
import tempfile

import torch
from fastreid.modeling.meta_arch import build_model
from fastreid.utils.events import EventStorage

from fastreid_multimodal.data.masking import PatchMasker
from fastreid_multimodal.data.multimodal import MultimodalCollate
from fastreid_multimodal.data.pairs import PairCollate
from fastreid_multimodal.data.samples import IMAGE, PAIR, TEXT  # noqa: F401  (re-exported)
from fastreid_multimodal.data.text import build_tokenizer
from fastreid_multimodal.engine import load_config
from fastreid_multimodal.evaluation.text_retrieval import text_to_image_metrics

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
H, W, PATCH = 16, 8, 4
ROWS, COLS = H // PATCH, W // PATCH
NUM_PATCHES = ROWS * COLS

# saturated colours: distinct patterns after per-patch normalisation
COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "yellow": (255, 255, 0),
           "cyan": (0, 255, 255), "magenta": (255, 0, 255), "orange": (255, 128, 0),
           "purple": (128, 0, 255)}
COLOUR_NAMES = list(COLOURS)
PALETTE = torch.tensor(list(COLOURS.values()), dtype=torch.float32)  # (8, 3)
FILLER = ["a", "person", "wearing", "in", "the", "with", "upper", "lower", "top", "bottom"]

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_VOCAB_DIR = tempfile.mkdtemp(prefix="toy_vocab_")


def vocab_path():
    """A 105-token WordPiece vocabulary (the loader wants >= 100 tokens): the specials, the colour
    names, the filler words and padding words nobody uses. A tiny vocabulary keeps the word heads
    (V logits) cheap; the tokenizer and maskers are the project's own."""
    path = os.path.join(_VOCAB_DIR, "vocab.txt")
    if not os.path.isfile(path):
        words = SPECIAL + COLOUR_NAMES + FILLER
        words += [f"zz{i}" for i in range(105 - len(words))]
        with open(path, "w") as f:
            f.write("\n".join(words) + "\n")
    return path


@functools.lru_cache(maxsize=None)
def tokenizer():
    return build_tokenizer(vocab_path())


TINY = ["MODEL.VIT.EMBED_DIM", "32", "MODEL.BACKBONE.FEAT_DIM", "32", "MODEL.VIT.DEPTH", "1",
        "MODEL.VIT.NUM_HEADS", "2", "MODEL.VIT.STEM", "patch", "MODEL.VIT.PATCH_SIZE", str(PATCH),
        "MODEL.BACKBONE.STRIDE_SIZE", f"({PATCH}, {PATCH})", "INPUT.SIZE_TRAIN", f"[{H}, {W}]",
        "INPUT.SIZE_TEST", f"[{H}, {W}]", "MODEL.TEXT.MAX_LENGTH", "16", "MODEL.DEVICE", "cpu",
        "MODEL.BACKBONE.DROP_PATH_RATIO", "0.0",
        "MODEL.IMAGE.TRANSLATOR", ""]  # toy pixels: a patch embedding learned in seconds


def tiny_model(meta, losses, num_classes=8, seed=0, extra=()):
    """A tiny MMET or DMF built by the project's config helpers from the demo config, with
    MODEL.LOSSES.NAME = ``losses`` and the toy vocabulary."""
    config = {"MMET": "configs/Demo/mmet_synth.yml", "DMF": "configs/Demo/Base-DMF-tiny.yml"}[meta]
    opts = TINY + ["MODEL.TEXT.TOKENIZER", vocab_path(), "MODEL.HEADS.NUM_CLASSES", str(num_classes),
                   "MODEL.LOSSES.NAME", "(" + "".join(f'"{n}",' for n in losses) + ")"]
    if meta == "MMET":
        opts += ["MODEL.MMET.TEXT_DEPTH", "1", "MODEL.MMET.FUSION_DEPTH", "1"]
    else:  # a word embedding learned from scratch (no pre-trained translator: seconds, not minutes)
        opts += ["MODEL.TEXT.TRANSLATOR", "", "MODEL.VIT.DEPTH", "2"]
    torch.manual_seed(seed)
    return build_model(load_config(os.path.join(REPO, config), opts + list(extra)))


# -- images ------------------------------------------------------------------------------------------
def grid_image(patch_colours, noise=0.0, generator=None):
    """(3, H, W) image in [0, 255] from (ROWS, COLS, 3) patch colours, plus Gaussian pixel noise."""
    img = patch_colours.permute(2, 0, 1).repeat_interleave(PATCH, 1).repeat_interleave(PATCH, 2)
    if noise:
        img = img + noise * torch.randn(img.shape, generator=generator)
    return img.clamp(0, 255)


def random_colours(shape, generator):
    """Random saturated colours: a random hue at full saturation (one channel 255, one 0)."""
    hue = torch.rand(shape, generator=generator) * 6
    sector, frac = hue.floor().long() % 6, hue - hue.floor()
    up, down = frac * 255, (1 - frac) * 255
    full, zero = torch.full_like(up, 255.0), torch.zeros_like(up)
    table = [(full, up, zero), (down, full, zero), (zero, full, up), (zero, down, full),
             (up, zero, full), (full, zero, down)]
    out = torch.zeros(*shape, 3)
    for s, (r, g, b) in enumerate(table):
        sel = sector == s
        out[sel] = torch.stack([r[sel], g[sel], b[sel]], -1)
    return out


# -- batches ----------------------------------------------------------------------------------------
def one_patch_masker(**kwargs):
    """The project's PatchMasker, random mode, exactly one of the 8 patches per image."""
    return PatchMasker(1 / NUM_PATCHES, "random", PATCH, PATCH, (H, W), count="region", **kwargs)


def encode_captions(tok, captions):
    return [torch.tensor(tok(c)["input_ids"]) for c in captions]


def collate_pairs(modality, targets, images=None, text_ids=None, patch_masks=None,
                  text_inputs=None, token_masks=None, pad_id=0):
    """An MMET training batch from per-sample pieces, through the project's PairCollate.
    ``images``/``patch_masks`` per sample with an image, the text pieces per sample with text, each
    in batch order (None entries for samples without that modality are skipped)."""
    samples, it_img, it_txt = [], 0, 0
    for i, (m, pid) in enumerate(zip(modality, targets)):
        s = {"modality": int(m), "targets": int(pid), "camids": 0}
        if m != TEXT:
            s["images"] = images[i]
            if patch_masks is not None:
                s["patch_mask"] = patch_masks[i]
        if m != IMAGE:
            s["text_ids"] = text_ids[i]
            if text_inputs is not None:
                s["text_input"], s["token_mask"] = text_inputs[i], token_masks[i]
        samples.append(s)
    return PairCollate(pad_id)(samples)


def collate_dmf(modality, targets, images, text_ids, pad_id=0):
    """A DMF batch (images and captions interleaved) through the project's MultimodalCollate."""
    samples = []
    for i, (m, pid) in enumerate(zip(modality, targets)):
        s = {"modality": int(m), "targets": int(pid), "camids": 0}
        if m == IMAGE:
            s["images"] = images[i]
        else:
            s["text_ids"] = text_ids[i]
        samples.append(s)
    return MultimodalCollate(pad_id)(samples)


# -- training and evaluation -------------------------------------------------------------------------
def train(model, make_batch, steps, lr=3e-3, seed=0):
    """Adam on every loss the model returns, ``make_batch(step, generator)`` per step."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    with EventStorage(0) as storage:
        for step in range(steps):
            losses = model(make_batch(step, g))
            opt.zero_grad(set_to_none=True)
            sum(losses.values()).backward()
            opt.step()
            storage.iter = step + 1
    return model


@torch.no_grad()
def masked_losses(model, batch):
    """The configured masked-modeling losses of ``batch`` (the masked pass), model in eval mode."""
    model.eval()
    outputs = model.masked_predictions(model.encode(batch, masked=True))
    out = {}
    for name, loss_fn in model.loss_fns.items():
        out.update({k: float(v) for k, v in loss_fn(outputs, batch).items()})
    return out


def retrieval(query, query_pids, gallery, gallery_pids):
    """Cosine ranking by the project's evaluation code (the one text->image retrieval uses)."""
    return text_to_image_metrics(query, list(query_pids), gallery, list(gallery_pids))

