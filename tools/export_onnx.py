#!/usr/bin/env python
"""Export a trained model's encoders to ONNX and check them against PyTorch with onnxruntime.

    python tools/export_onnx.py --config-file C --output model.onnx [KEY VALUE ...]   # e.g. MODEL.WEIGHTS W

Writes the image encoder (images: float32 (B, 3, H, W), RGB 0-255 at INPUT.SIZE_TEST, resized as
the test transforms do; normalised inside -> embedding (B, D), the evaluator's feature) and, for
models with a text path (DMF, MMET), the caption encoder beside it as <output>_text.onnx
(input_ids, attention_mask: int64 (B, L), L <= MODEL.TEXT.MAX_LENGTH -> embedding (B, D)).
Exits 1 when onnxruntime and PyTorch differ by more than --tolerance on a random batch.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # uninstalled checkout

import fastreid_multimodal  # noqa: E402,F401  (patches fastreid, registers everything)
from fastreid_multimodal.deploy.onnx_export import (OPSET, export_encoders,  # noqa: E402
                                                    largest_differences, require_onnx)
from fastreid_multimodal.engine import load_config, run_cli  # noqa: E402
from fastreid_multimodal.engine.inference import load_model  # noqa: E402
from fastreid_multimodal.errors import ConfigError  # noqa: E402


def batch_sizes(text):
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated batch sizes >= 1, got {text!r}")
    return sizes


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config-file", required=True, metavar="FILE")
    parser.add_argument("--output", required=True, metavar="ONNX", help="the image encoder's file")
    parser.add_argument("--opset", type=int, default=OPSET)
    parser.add_argument("--check-batches", type=batch_sizes, default=[1, 7], metavar="N,N",
                        help="batch sizes checked against PyTorch (default 1,7)")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="largest absolute difference allowed (default 1e-4)")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    return parser


def untrained_model(args):
    """The config's model as built for training (its pre-trained parts loaded, MODEL.BACKBONE.
    PRETRAIN included), seeded by SEED: what an export without MODEL.WEIGHTS gives."""
    import torch

    from fastreid_multimodal.engine import MultimodalTrainer
    print("warning: MODEL.WEIGHTS is empty: exporting the untrained model", file=sys.stderr)
    cfg = load_config(args.config_file, [*args.opts, "MODEL.DEVICE", "cpu"])
    torch.manual_seed(max(cfg.SEED, 0))
    return MultimodalTrainer.build_model(cfg)


def run(args):
    require_onnx()
    cfg = load_config(args.config_file, args.opts)  # a missing config or weights file: one error
    if os.path.isdir(args.output):
        raise ConfigError(f"--output: '{args.output}' is a folder; give the .onnx file to write")
    model = untrained_model(args) if not cfg.MODEL.WEIGHTS else \
        load_model(args.config_file, cfg.MODEL.WEIGHTS, [*args.opts, "MODEL.DEVICE", "cpu"])[1]
    paths = export_encoders(cfg, model, args.output, args.opset)
    for name, path in paths.items():
        print(f"wrote {path} ({name} encoder)")
    results = largest_differences(cfg, model, paths, args.check_batches)
    for name, batch, diff, scale in results:
        print(f"{name} encoder, batch {batch}: largest absolute difference onnxruntime vs PyTorch "
              f"{diff:.3g} (embedding values up to {scale:.3g})")
    worst = max(diff for _, _, diff, _ in results)
    print(f"largest absolute difference: {worst:.3g} (tolerance {args.tolerance:g})")
    if not worst <= args.tolerance:  # NaN fails too
        print(f"error: onnxruntime differs from PyTorch by {worst:.3g} > {args.tolerance:g}",
              file=sys.stderr)
        sys.exit(1)
    return results


def main(argv=None):
    return run_cli(run, build_parser().parse_args(argv))


if __name__ == "__main__":
    main()
