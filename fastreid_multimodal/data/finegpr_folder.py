"""Reading a folder in the FineGPR layout (FineGPR itself and every SynthPerson domain).

Layouts (``README.md``, "Data sets"); the image folder holds the images directly or in one folder
per identity, and the annotation files lie in the folder above it::

    FineGPR/images/{pid:04d}_c{01-36}_w{01-07}_l{01-07}_p{01-09}.jpg   ours, flat
    FineGPR/images/<pid>/<name>.jpg                                    ours, per identity
    SynthPerson/<domain>/images/{pid:04d}/<name>.jpg                   SynthPerson writes this
    FineGPR_Dataset/FineGPR/<pid>/<name>.jpg                           FineGPR's release
    FineGPR_Dataset/FineGPR_subset/<name>.jpg                          its subset (c01/c10/c19/c28)
    <annotations>/attributes.json   {"identities": {"0000": {gender, hair_length, ...}}} (optional)
    <annotations>/captions.txt      ImageName:<file>, the caption is: <caption>      (optional)
    <annotations>/splits.json       {"train": [...], "query": [...], "gallery": [...]} (optional)
    <annotations>/masks/[<pid>/]<stem>.png  foreground masks, mirroring images/    (optional)

Problems in the files are handled once, at load time, never mid-epoch: a malformed caption line
is an error naming file and line; a caption for an image that does not exist and an image that
does not decode are skipped and counted in the log (with the first example).
"""
import json
import logging
import os
import zlib
from collections import Counter, defaultdict

import numpy as np
from PIL import Image

from ..errors import DatasetNotFoundError, DataFormatError
from .captions import make_caption, read_caption_lines
from .finegpr_names import environment_of, parse_image_name

logger = logging.getLogger("fastreid.multimodal")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
EXPECTED_NAMES = ("{pid:04d}_c{01-36}_w{01-07}_l{01-07}_p{01-09}.jpg, e.g. "
                  "0000_c01_w01_l01_p01.jpg, in the folder or in one folder per identity "
                  "(0000/0000_c01_w01_l01_p01.jpg)")


class SkipLog:
    """Counts skipped records per reason and logs one line per reason with the first example."""

    def __init__(self, source):
        self.source = source
        self.counts = Counter()
        self.first = {}

    def skip(self, reason, example):
        self.counts[reason] += 1
        self.first.setdefault(reason, example)

    def report(self):
        for reason, count in self.counts.items():
            logger.warning("%s: skipped %d %s (first: %s)", self.source, count, reason,
                           self.first[reason])
        return dict(self.counts)


def _add_image(found, name, relative, folder_pid, skips):
    if not name.lower().endswith(IMAGE_EXTENSIONS):
        return
    try:
        pid = parse_image_name(name)["pid"]
    except ValueError:
        skips.skip("files not named pid_cXX_wXX_lXX_pXX.jpg", relative)
        return
    if folder_pid is not None and folder_pid != pid:
        skips.skip("images in another identity's folder", relative)
    elif name in found:
        # the pid is in the name: the same name twice is one image copied twice
        skips.skip("images found twice (the first kept)", relative)
    else:
        found[name] = (pid, relative)


def list_images(image_dir, skips):
    """{file name: (pid, path relative to ``image_dir``)} of the well-named images lying in
    ``image_dir`` or in its per-identity folders (``<pid>/``); each file name once. Nothing is
    decoded here: ``decodable`` checks the images a data set uses (FineGPR has two million)."""
    found = {}
    for entry in sorted(os.listdir(image_dir)):
        full = os.path.join(image_dir, entry)
        if not os.path.isdir(full):
            _add_image(found, entry, entry, None, skips)
        elif entry.isdigit():
            for name in sorted(os.listdir(full)):
                _add_image(found, name, os.path.join(entry, name), int(entry), skips)
        else:
            skips.skip("folders not named by an identity number", full)
    if not found:
        raise DatasetNotFoundError(f"{image_dir}: no usable image ({_counts(skips)}); expected "
                                   f"FineGPR file names {EXPECTED_NAMES}")
    return found


def _counts(skips):
    return ", ".join(f"{n} {reason}" for reason, n in skips.counts.items()) or "empty"


def image_decodes(path):
    """A full decode: verify() alone passes truncated JPEGs, which then fail in a loader worker."""
    try:
        with Image.open(path) as img:
            img.load()
        return True
    except Exception:
        return False


def decodable(names, path_of, skips):
    """The ``names`` whose image (``path_of(name)``) decodes, in order; the others are counted."""
    kept = []
    for name in names:
        if image_decodes(path_of(name)):
            kept.append(name)
        else:
            skips.skip("images that fail to decode", path_of(name))
    return kept


def caption_image_name(name, images):
    """The image a caption line names, with or without its identity folder ('0001/0001_c01_...jpg'
    and '0001_c01_...jpg' name the same image); None when there is no such image."""
    folder, base = os.path.split(name.replace("\\", "/"))
    if base not in images:
        return None
    identity = os.path.basename(folder)
    if identity.isdigit() and int(identity) != images[base]:
        return None
    return base


def read_caption_file(path, images, skips):
    """{image name: [captions]}: every caption of every image, in file order (FineGPR-C gives some
    images several); malformed lines are errors naming file:line."""
    captions = defaultdict(list)
    for number, name, caption in read_caption_lines(path):
        image = caption_image_name(name, images)
        if image is None:
            skips.skip("captions naming an image that does not exist", f"{path}:{number} {name}")
            continue
        if not caption.strip():
            skips.skip("empty captions", f"{path}:{number}")
            continue
        if caption.strip() in captions[image]:
            skips.skip("repeated captions of an image", f"{path}:{number}")
            continue
        captions[image].append(caption.strip())
    return dict(captions)


def read_environments(path):
    """{image name: environment} of SynthPerson's ``images.json`` (what each image was rendered
    with), or None without one: FineGPR's images have only their names."""
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)["images"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DataFormatError(f"{path}: expected SynthPerson's {{\"images\": {{name: "
                              f"environment}}}} ({exc})") from None


def generated_captions(images, attributes, seed, environments=None):
    """{image name: [caption]}: FineGPR-C-style captions from the attribute records and each image's
    environment: its file name (FineGPR's table) or, for a SynthPerson image, the environment it
    was rendered with (``environments``), whose viewpoint SynthPerson's cameras do not follow."""
    captions = {}
    for name, pid in images.items():
        if pid in attributes:
            rng = np.random.default_rng([seed, pid, *map(ord, name[-16:])])
            env = (environments or {}).get(name) or environment_of(name)
            captions[name] = [make_caption(attributes[pid], env, rng)]
    return captions


def draw_caption(captions, name, seed):
    """One of an image's captions, drawn from the image's own seed (same draw whichever other
    images are loaded or sampled)."""
    if len(captions) == 1:
        return captions[0]
    rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
    return captions[int(rng.integers(len(captions)))]


def sample_per_identity(names_by_pid, per_id, seed, source=None):
    """``per_id`` random names of every identity (all when it has fewer, or per_id <= 0); the
    identities with fewer are counted in one log line (FineGPR's subset has 4 per identity)."""
    short = sorted(len(names) for names in names_by_pid.values() if len(names) < per_id)
    if short:
        total = sum(min(len(n), per_id) for n in names_by_pid.values())
        logger.warning("%s: DATASETS.FINEGPR.IMAGES_PER_ID is %d, but %d of %d identities have "
                       "fewer images (%d to %d): all of theirs are used, %d images instead of %d",
                       source, per_id, len(short), len(names_by_pid), short[0], short[-1], total,
                       per_id * len(names_by_pid))
    rng = np.random.default_rng(seed)
    chosen = []
    for pid in sorted(names_by_pid):
        names = sorted(names_by_pid[pid])
        if 0 < per_id < len(names):
            names = [names[i] for i in sorted(rng.choice(len(names), per_id, replace=False))]
        chosen.extend(names)
    return chosen


def group_by_pid(names, images):
    groups = defaultdict(list)
    for name in names:
        groups[images[name]].append(name)
    return groups


def count_single_image_ids(names, images, source, subset):
    singles = [pid for pid, group in group_by_pid(names, images).items() if len(group) == 1]
    if singles:
        logger.info("%s: %d %s identities have a single image (kept; the identity sampler "
                    "repeats it, so they add no triplet positives)", source, len(singles), subset)
    return len(singles)
