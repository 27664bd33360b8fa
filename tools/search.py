#!/usr/bin/env python
"""Text->image search demo: rank gallery images by a sentence.

    python tools/search.py --config-file C --weights W --gallery DIR_OR_DATASET \
        --query "a woman in a red coat with a backpack" [--topk 5] [--out strip.png] [KEY VALUE ...]

The gallery is a folder (searched recursively for *.jpg/*.png) or a registered data set name
(its query + gallery images). Prints the top-k paths with their cosine scores.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # uninstalled checkout

import fastreid_multimodal  # noqa: E402,F401  (patches fastreid, registers everything)
from fastreid_multimodal.deploy import Embedder  # noqa: E402
from fastreid_multimodal.engine import run_cli  # noqa: E402
from fastreid_multimodal.engine.inference import gallery_paths  # noqa: E402
from fastreid_multimodal.evaluation.plots import plot_search  # noqa: E402
from fastreid_multimodal.evaluation.search import search_text  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config-file", required=True, metavar="FILE")
    parser.add_argument("--weights", required=True, metavar="PTH")
    parser.add_argument("--gallery", required=True, help="a folder of images or a data set name")
    parser.add_argument("--query", required=True, help="the sentence to search for")
    parser.add_argument("--topk", type=int, default=5)
    parser.add_argument("--out", default="", metavar="PNG", help="save the results as a strip")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    return parser


def run(args):
    embedder = Embedder.from_config(args.config_file, args.weights, args.opts)
    cfg = embedder.cfg
    paths = gallery_paths(cfg, args.gallery)
    results = search_text(embedder, paths, args.query, args.topk)
    print(f"top-{len(results)} of {len(paths)} images for: {args.query}")
    for rank, (path, score) in enumerate(results, 1):
        print(f"{rank:3d}  {score:.4f}  {path}")
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        plot_search(args.out, args.query, results, tuple(cfg.INPUT.SIZE_TEST))
        print(f"wrote {args.out}")
    return results


def main(argv=None):
    return run_cli(run, build_parser().parse_args(argv))


if __name__ == "__main__":
    main()
