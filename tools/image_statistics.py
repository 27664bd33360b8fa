#!/usr/bin/env python
"""Low-level statistics of person images, to compare a synthetic set with real photos: what a
renderer gets wrong that a model trained on it then meets (colour saturation, contrast, sharpness).

    python tools/image_statistics.py NAME=FOLDER [NAME=FOLDER ...] [--every 20] [--limit 300]

Each folder's *.jpg/*.png, with those of its per-identity folders (<pid>/: FineGPR's release,
a SynthPerson domain's images/), sorted, every --every-th, at most --limit, is resized to 64x128 and
measured: mean brightness, contrast (pixel std), saturation ((max-min)/max over RGB) and sharpness
(std of the 4-neighbour Laplacian of the grey image); one markdown row per folder.
"""
import argparse
import glob
import os
import sys

import numpy as np
from PIL import Image

STATS = ("brightness", "contrast", "saturation", "sharpness")


def image_statistics(image):
    """The four statistics of one PIL image, measured at 64x128 (W x H)."""
    rgb = np.asarray(image.convert("RGB").resize((64, 128), Image.BILINEAR), dtype=np.float64) / 255
    top, bottom = rgb.max(2), rgb.min(2)
    grey = rgb.mean(2)
    laplacian = 4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2] - grey[1:-1, 2:]
    return {"brightness": rgb.mean(), "contrast": rgb.std(),
            "saturation": ((top - bottom) / np.maximum(top, 1e-6)).mean(), "sharpness": laplacian.std()}


def image_files(folder):
    """The images of ``folder`` and of its per-identity folders, sorted by path. Only folders named
    by an identity number are entered, so a data set's other folders (masks/) stay out."""
    identities = [d for d in glob.glob(os.path.join(folder, "*"))
                  if os.path.isdir(d) and os.path.basename(d).isdigit()]
    return sorted(f for d in [folder] + identities for ext in ("jpg", "png")
                  for f in glob.glob(os.path.join(d, f"*.{ext}")))


def folder_statistics(folder, every=20, limit=300):
    files = image_files(folder)
    chosen = files[::every][:limit]
    if not chosen:
        raise FileNotFoundError(f"no *.jpg or *.png image in {folder}")
    values = [image_statistics(Image.open(f)) for f in chosen]
    return len(chosen), {k: float(np.mean([v[k] for v in values])) for k in STATS}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="NAME=FOLDER")
    parser.add_argument("--every", type=int, default=20)
    parser.add_argument("--limit", type=int, default=300)
    args = parser.parse_args(argv)
    print("| set | images | " + " | ".join(STATS) + " |\n|" + "---|" * (len(STATS) + 2))
    for entry in args.folders:
        name, sep, folder = entry.partition("=")
        if not sep or not os.path.isdir(folder):
            print(f"error: {entry!r} is not NAME=FOLDER with an existing folder", file=sys.stderr)
            return 2
        try:
            count, stats = folder_statistics(folder, args.every, args.limit)
        except FileNotFoundError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"| {name} | {count} | " + " | ".join(f"{stats[k]:.3f}" for k in STATS) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
