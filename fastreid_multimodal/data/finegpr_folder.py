"""Reading a folder in the FineGPR layout (FineGPR itself and every SynthPerson domain).

Layout (``README.md``, "Data sets")::

    <folder>/images/{pid:04d}_c{01-36}_w{01-07}_l{01-07}_p{01-09}.jpg   the images (required)
    <folder>/attributes.json   {"identities": {"0000": {gender, hair_length, ...}}}   (optional)
    <folder>/captions.txt      ImageName:<file>, the caption is: <caption>             (optional)
    <folder>/splits.json       {"train": [...], "query": [...], "gallery": [...]}     (optional)
    <folder>/masks/<stem>.png  foreground masks                                         (optional)

Problems in the files are handled once, at load time, never mid-epoch: a malformed caption line
is an error naming file and line; a caption for an image that does not exist and an image that
does not decode are skipped and counted in the log (with the first example).
"""
import json
import logging
import os
from collections import Counter, defaultdict

import numpy as np
from PIL import Image

from ..errors import DatasetNotFoundError
from .captions import make_caption, read_caption_lines
from .finegpr_names import environment_of, parse_image_name

logger = logging.getLogger("fastreid.multimodal")

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


def image_decodes(path):
    """A full decode: verify() alone passes truncated JPEGs, which then fail in a loader worker."""
    try:
        with Image.open(path) as img:
            img.load()
        return True
    except Exception:
        return False


def list_images(folder, skips, verify=True):
    """{file name: pid} of the decodable, well-named images in ``folder/images``."""
    image_dir = os.path.join(folder, "images")
    images = {}
    for name in sorted(os.listdir(image_dir)):
        if not name.lower().endswith((".jpg", ".jpeg", ".png")):
            continue
        try:
            pid = parse_image_name(name)["pid"]
        except ValueError:
            skips.skip("files not named pid_cXX_wXX_lXX_pXX.jpg", name)
            continue
        if verify and not image_decodes(os.path.join(image_dir, name)):
            skips.skip("images that fail to decode", os.path.join(image_dir, name))
            continue
        images[name] = pid
    if not images:
        counts = ", ".join(f"{n} {reason}" for reason, n in skips.counts.items()) or "empty"
        raise DatasetNotFoundError(
            f"{image_dir}: no usable image ({counts}); expected FineGPR file names "
            "{pid:04d}_c{01-36}_w{01-07}_l{01-07}_p{01-09}.jpg, e.g. 0000_c01_w01_l01_p01.jpg")
    return images


def read_caption_file(path, images, skips):
    """{image name: caption} from a caption file; malformed lines are errors naming file:line."""
    captions = {}
    for number, name, caption in read_caption_lines(path):
        if name not in images:
            skips.skip("captions naming an image that does not exist", f"{path}:{number} {name}")
            continue
        if not caption.strip():
            skips.skip("empty captions", f"{path}:{number}")
            continue
        captions[name] = caption.strip()
    return captions


def read_attributes(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if "identities" not in data:
        raise ValueError(f"{path}: expected a JSON object with an 'identities' mapping "
                         "(pid as 4-digit string -> attribute record)")
    return {int(pid): attrs for pid, attrs in data["identities"].items()}


def generated_captions(images, attributes, seed):
    """FineGPR-C-style captions from the attribute file and each file name's environment."""
    captions = {}
    for name, pid in images.items():
        if pid in attributes:
            rng = np.random.default_rng([seed, pid, *map(ord, name[-16:])])
            captions[name] = make_caption(attributes[pid], environment_of(name), rng)
    return captions


def sample_per_identity(names_by_pid, per_id, seed):
    """``per_id`` random names of every identity (all when it has fewer, or per_id <= 0)."""
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
