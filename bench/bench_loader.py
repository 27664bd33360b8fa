"""Training-image throughput of one data-loader worker: JPEG decode + the paper configs' training
transforms (resize to 256x128, flip, pad, crop, random erasing, to tensor), and the workers a
GPU step would need. One process = one worker (DATALOADER.NUM_WORKERS runs that many in parallel).

    python bench/bench_loader.py [--config configs/DMF/vit_finegpr.yml] [--images 200]
                                 [--source-size 256 128] [--gpu-images-per-s 3600]

``--gpu-images-per-s``: what the training step consumes; the default is the issue's estimate for
ViT-B at 256x128 on one H100 (~110 GFLOP per image a training step at 40 % of 990 TFLOP/s).
"""
import argparse
import io
import os
import tempfile
import time

import numpy as np
import torch
from PIL import Image

import fastreid_multimodal  # noqa: F401  (first: its compat fixes let fastreid import)
from fastreid.data.data_utils import read_image
from fastreid.data.transforms import build_transforms

from fastreid_multimodal.engine.defaults import load_config


def write_jpegs(folder, count, size):
    """``count`` JPEGs of ``size`` (h, w) with photo-like content (smooth colour fields + noise)."""
    rng = np.random.default_rng(0)
    h, w = size
    paths = []
    for i in range(count):
        base = rng.uniform(0, 255, (h // 16 + 1, w // 16 + 1, 3)).astype(np.uint8)
        image = Image.fromarray(base).resize((w, h), Image.BILINEAR)
        noisy = np.clip(np.asarray(image, np.int16) + rng.integers(-20, 20, (h, w, 3)), 0, 255)
        path = os.path.join(folder, f"{i:05d}.jpg")
        Image.fromarray(noisy.astype(np.uint8)).save(path, quality=90)
        paths.append(path)
    return paths


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/DMF/vit_finegpr.yml")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--source-size", type=int, nargs=2, default=(256, 128))
    parser.add_argument("--gpu-images-per-s", type=float, default=3600.0)
    args = parser.parse_args()
    torch.set_num_threads(1)  # a DataLoader worker runs with one thread
    cfg = load_config(args.config, check_files=False)
    transform = build_transforms(cfg, is_train=True)
    with tempfile.TemporaryDirectory() as folder:
        paths = write_jpegs(folder, args.images, args.source_size)
        for path in paths[:10]:  # warm-up
            transform(read_image(path))
        start = time.perf_counter()
        for path in paths:
            image = read_image(path)
        decode = (time.perf_counter() - start) / len(paths)
        start = time.perf_counter()
        for path in paths:
            tensor = transform(read_image(path))
        full = (time.perf_counter() - start) / len(paths)
    per_worker = 1 / full
    print(f"{args.config}: {args.source_size[0]}x{args.source_size[1]} JPEG -> "
          f"{tuple(tensor.shape)} tensor, transforms: {[type(t).__name__ for t in transform.transforms]}")
    print(f"  one worker: decode {1 / decode:.0f} images/s, decode + transforms {per_worker:.0f} images/s "
          f"({full * 1e3:.2f} ms an image)")
    workers = args.gpu_images_per_s / per_worker
    print(f"  a step consuming {args.gpu_images_per_s:.0f} images/s needs {workers:.1f} workers "
          f"(DATALOADER.NUM_WORKERS; the machine's cores bound it)")


if __name__ == "__main__":
    main()
