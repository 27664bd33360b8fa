"""Training-step throughput of the DMF backbone vs a plain timm ViT of the same size (one run).

Prints samples/s of: the plain timm VisionTransformer (image batch), DMF on an image-only batch,
DMF on a mixed batch (half images, half captions), and the ratios. Goal: the DMF image step
within 5% of the plain ViT. Backbone + a linear classifier, SGD, forward+backward+step.

    python bench/bench_dmf.py [--size tiny|small|base] [--batch 32] [--steps 10]
"""
import argparse
import time

import torch
from timm.models.vision_transformer import VisionTransformer
from torch import nn

import fastreid_multimodal  # noqa: F401
from fastreid_multimodal.modeling.backbones.dmf_vit import DMFViT
from fastreid_multimodal.modeling.backbones.text_path import LearnedTokenEmbedding

SIZES = {"tiny": (192, 12, 3), "small": (384, 12, 6), "base": (768, 12, 12)}


def timed_steps(step, steps, warmup=2):
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def make_step(model, head, forward, optimizer):
    def step():
        loss = head(forward()).logsumexp(1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="tiny", choices=SIZES)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--image-size", type=int, nargs=2, default=(128, 64))
    parser.add_argument("--text-length", type=int, default=64)
    args = parser.parse_args()
    dim, depth, heads = SIZES[args.size]
    torch.manual_seed(0)
    H, W = args.image_size
    images = torch.randn(args.batch, 3, H, W)
    half = args.batch // 2
    ids = torch.randint(1000, 20000, (half, args.text_length))
    mask = torch.ones_like(ids, dtype=torch.bool)

    plain = VisionTransformer(img_size=(H, W), patch_size=16, embed_dim=dim, depth=depth,
                              num_heads=heads, num_classes=0, class_token=True, global_pool="token")
    dmf = DMFViT(img_size=(H, W), patch_size=16, stride=(16, 16), embed_dim=dim, depth=depth,
                 num_heads=heads, mlp_ratio=4.0, qkv_bias=True, drop_rate=0.0, attn_drop_rate=0.0,
                 drop_path_rate=0.0, text_translator=LearnedTokenEmbedding(30522, dim),
                 max_text_len=args.text_length)
    results = {}
    for name, model, forward in [
        ("plain timm ViT, images", plain, lambda: plain(images)),
        ("DMF, image-only batch", dmf, lambda: dmf.forward_image(images)),
        ("DMF, mixed batch", dmf, lambda: torch.cat([dmf.forward_image(images[:half]),
                                                     dmf.forward_text(ids, mask)])),
    ]:
        head = nn.Linear(dim, 100)
        optimizer = torch.optim.SGD(list(model.parameters()) + list(head.parameters()), lr=1e-3)
        seconds = timed_steps(make_step(model, head, forward, optimizer), args.steps)
        results[name] = args.batch / seconds
    print(f"ViT-{args.size} ({dim}-d, {depth} blocks), {H}x{W} images, {args.text_length}-token "
          f"captions, batch {args.batch}, {torch.get_num_threads()} threads")
    for name, rate in results.items():
        print(f"  {name:26s} {rate:8.1f} samples/s")
    base = results["plain timm ViT, images"]
    print(f"  DMF image step / plain ViT: {results['DMF, image-only batch'] / base:.3f}")
    print(f"  DMF mixed step / plain ViT: {results['DMF, mixed batch'] / base:.3f}")


if __name__ == "__main__":
    main()
