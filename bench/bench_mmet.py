"""Training-step time and peak memory of MMET's two-pass step vs its clean pass alone vs DMF, at
the same size (one run each).

Each model runs in its own subprocess (so peak RSS is its own): FastReID-style meta-architecture,
forward + every configured loss + backward + SGD step on a synthetic batch. DMF gets its fused
batch (half images, half captions); MMET the same number of samples as pairs, unpaired images and
unpaired texts (2:1:1) with 15 % of the patches and tokens masked. ``MMET`` has every loss: the
clean pass (ID + triplet on CLS_I / CLS_T / CLS_M, L_GC) AND the masked pass (MIM, MLM, MMM, ITM
with its negatives); ``MMET-1pass`` has the clean-pass losses only, so the difference is what the
masked pass costs. MMET's image encoder has DMF's depth, its text encoder the same, its fusion
encoder half.

    python bench/bench_mmet.py [--size tiny|small|base] [--batch 32] [--steps 5] [--stem patch|conv]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

SIZES = {"tiny": (192, 12, 3), "small": (384, 12, 6), "base": (768, 12, 12)}
NAMES = ("DMF", "MMET-1pass", "MMET")


def build(name, args):
    from fastreid.modeling.meta_arch import build_model
    from fastreid_multimodal.engine import load_config
    dim, depth, heads = SIZES[args.size]
    opts = ["MODEL.VIT.EMBED_DIM", str(dim), "MODEL.BACKBONE.FEAT_DIM", str(dim),
            "MODEL.VIT.DEPTH", str(depth), "MODEL.VIT.NUM_HEADS", str(heads),
            "INPUT.SIZE_TRAIN", str(list(args.image_size)), "MODEL.HEADS.NUM_CLASSES", "100",
            "MODEL.DEVICE", "cpu", "MODEL.BACKBONE.DROP_PATH_RATIO", "0.0", "MODEL.VIT.STEM", args.stem]
    if name.startswith("MMET"):
        config = "configs/Demo/Base-MMET-tiny.yml"
        opts += ["MODEL.MMET.TEXT_DEPTH", str(depth), "MODEL.MMET.FUSION_DEPTH", str(depth // 2)]
        if name == "MMET-1pass":
            opts += ["MODEL.LOSSES.NAME", '("CrossEntropyLoss", "TripletLoss", "GlobalContrastive")']
    else:
        config = "configs/Demo/Base-DMF-tiny.yml"
    return build_model(load_config(config, opts))


def make_batch(name, args, num_patches):
    import torch
    from fastreid_multimodal.data.samples import IMAGE, PAIR, TEXT
    n, (h, w) = args.batch, args.image_size
    if name.startswith("MMET"):
        modality = torch.tensor([PAIR, PAIR, IMAGE, TEXT] * (n // 4))
    else:
        modality = torch.tensor([IMAGE, TEXT] * (n // 2))
    n_image, n_text = int((modality != TEXT).sum()), int((modality != IMAGE).sum())
    ids = torch.randint(1000, 20000, (n_text, args.text_length))
    ids[:, 0], ids[:, -1] = 101, 102
    batch = {"modality": modality, "targets": torch.arange(len(modality)) // 4,
             "images": torch.rand(n_image, 3, h, w) * 255, "text_ids": ids,
             "text_mask": torch.ones_like(ids, dtype=torch.bool)}
    if name.startswith("MMET"):
        patch_mask = torch.rand(n_image, num_patches).argsort(1) < round(0.15 * num_patches)
        token_mask = torch.zeros_like(ids, dtype=torch.bool)
        token_mask[:, 1:-1] = torch.rand(n_text, args.text_length - 2) < 0.15
        batch.update(patch_mask=patch_mask, token_mask=token_mask,
                     text_input=ids.masked_fill(token_mask, 103))
        from fastreid_multimodal.data.pairs import pair_layout  # as PairCollate adds it
        batch["layout"] = pair_layout(modality, batch["targets"], patch_mask, token_mask)
    return batch


def worker(name, args):
    """One model: seconds per training step and peak RSS; prints one JSON line."""
    import torch
    import fastreid_multimodal  # noqa: F401
    from fastreid.utils.events import EventStorage
    torch.manual_seed(0)
    model = build(name, args).train()
    batch = make_batch(name, args, model.backbone.patch_embed.num_patches)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    rss_built = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def step():
        with EventStorage(0):
            losses = model(batch)
        optimizer.zero_grad(set_to_none=True)
        sum(losses.values()).backward()
        optimizer.step()
        return losses

    losses = step()  # warm-up
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    seconds = (time.perf_counter() - start) / args.steps
    print(json.dumps({"model": name, "step_s": seconds, "params_m": sum(
        p.numel() for p in model.parameters()) / 1e6, "losses": sorted(losses),
        "rss_built_mb": rss_built,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="tiny", choices=SIZES)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--image-size", type=int, nargs=2, default=(128, 64))
    parser.add_argument("--text-length", type=int, default=48)
    parser.add_argument("--stem", default="patch", choices=("patch", "conv"),
                        help="MODEL.VIT.STEM of every model (the demo MMET configs use conv)")
    parser.add_argument("--worker", choices=NAMES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if args.worker:
        sys.path.insert(0, repo)
        os.chdir(repo)
        return worker(args.worker, args)
    results = {}
    for name in NAMES:
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", name,
                              "--size", args.size, "--batch", str(args.batch), "--steps",
                              str(args.steps), "--image-size", *map(str, args.image_size),
                              "--text-length", str(args.text_length), "--stem", args.stem],
                             capture_output=True, text=True, check=True)
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    dim, depth, _ = SIZES[args.size]
    print(f"ViT-{args.size} ({dim}-d, {depth} blocks, {args.stem} stem; MMET text {depth}, "
          f"fusion {depth // 2}), "
          f"{args.image_size[0]}x{args.image_size[1]} images, {args.text_length}-token captions, "
          f"batch {args.batch}, {args.steps} steps")
    for name, r in results.items():
        print(f"  {name:10s} {r['step_s']:7.2f} s/step  {args.batch / r['step_s']:6.1f} samples/s  "
              f"{r['params_m']:6.1f} M params  peak RSS {r['peak_rss_mb']:7.0f} MB "
              f"(after build {r['rss_built_mb']:.0f} MB)  losses: {', '.join(r['losses'])}")
    print(f"  MMET two passes / clean pass only step time: "
          f"{results['MMET']['step_s'] / results['MMET-1pass']['step_s']:.2f}")
    print(f"  MMET / DMF step time: {results['MMET']['step_s'] / results['DMF']['step_s']:.2f}")
    print(f"  MMET / DMF peak RSS:  {results['MMET']['peak_rss_mb'] / results['DMF']['peak_rss_mb']:.2f}")


if __name__ == "__main__":
    main()
