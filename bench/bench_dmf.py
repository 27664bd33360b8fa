"""Training-step cost of the DMF backbone: image step vs a plain timm ViT, text sample vs image
sample (one run, same process, ratios measured side by side).

Text goes through the packaged pre-trained MiniLM translator, frozen, so each caption is encoded
once and then read from the translator's cache (``warm``); ``cold`` is the first epoch, when
every caption is new. Captions are generated FineGPR-C style, whole or as identity key words.
Goals: DMF image step / plain ViT >= 0.95; text-sample cost / image-sample cost <= 0.5 (warm).
The pre-trained image translator (packaged ImageNet MobileNetV2 at stride 16, MODEL.IMAGE.TRANSLATOR)
against the patch embedding at stride 16 (same blocks, same batch, same token count), frozen and
trained. Backbone + a linear classifier, SGD, forward+backward+step.

    python bench/bench_dmf.py [--size tiny|small|base] [--batch 32] [--steps 10]
                              [--image-size 256 128] [--stride 12] [--words all|identity]
"""
import argparse
import time

import numpy as np
import torch
from timm.models.vision_transformer import VisionTransformer
from torch import nn

import fastreid_multimodal  # noqa: F401
from fastreid_multimodal.data.captions import identity_keywords, make_caption
from fastreid_multimodal.data.synth.attributes import sample_identity
from fastreid_multimodal.data.text import build_tokenizer, tokenize
from fastreid_multimodal.modeling.backbones.dmf_vit import DMFViT
from fastreid_multimodal.modeling.backbones.image_translator import mobilenetv2_translator
from fastreid_multimodal.modeling.backbones.text_translator import PretrainedTextTranslator
from fastreid_multimodal.utils.hub import packaged_text_model_dir

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


def caption_batches(count, batch, words, seed=0):
    rng = np.random.default_rng(seed)
    tokenizer = build_tokenizer("")
    out = []
    for b in range(count):
        texts = []
        for i in range(batch):
            attrs = sample_identity(rng, b * batch + i).caption_attributes()
            env = {"weather": int(rng.integers(1, 8)), "illumination": int(rng.integers(1, 8)),
                   "viewpoint_deg": float(rng.uniform(0, 360))}
            text = make_caption(attrs, env, rng)
            texts.append(identity_keywords(text) if words == "identity" else text)
        tokens = tokenize(tokenizer, texts, 64)
        out.append((tokens.input_ids, tokens.attention_mask))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="tiny", choices=SIZES)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--image-size", type=int, nargs=2, default=(256, 128))
    parser.add_argument("--stride", type=int, default=12)
    parser.add_argument("--words", default="identity", choices=("all", "identity"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    dim, depth, heads = SIZES[args.size]
    torch.manual_seed(0)
    H, W = args.image_size
    images = torch.randn(args.batch, 3, H, W)
    texts = caption_batches(args.steps + 2, args.batch, args.words)
    translator = PretrainedTextTranslator(packaged_text_model_dir()).train()

    plain = VisionTransformer(img_size=(H, W), patch_size=16, embed_dim=dim, depth=depth,
                              num_heads=heads, num_classes=0, class_token=True, global_pool="token")
    plain.patch_embed.proj.stride = (args.stride, args.stride)  # same token count as DMF's
    grid = ((H - 16) // args.stride + 1, (W - 16) // args.stride + 1)
    plain.patch_embed.grid_size, plain.patch_embed.num_patches = grid, grid[0] * grid[1]
    plain.pos_embed = nn.Parameter(torch.zeros(1, 1 + grid[0] * grid[1], dim))
    dmf = DMFViT(img_size=(H, W), patch_size=16, stride=(args.stride, args.stride), embed_dim=dim,
                 depth=depth, num_heads=heads, mlp_ratio=4.0, qkv_bias=True, drop_rate=0.0,
                 attn_drop_rate=0.0, drop_path_rate=0.0, text_translator=translator,
                 max_text_len=64)
    cursor = {"text": 0}
    vit16 = dict(img_size=(H, W), patch_size=16, stride=(16, 16), embed_dim=dim, depth=depth,
                 num_heads=heads, mlp_ratio=4.0, qkv_bias=True, drop_rate=0.0, attn_drop_rate=0.0,
                 drop_path_rate=0.0, text_translator=None, max_text_len=64)
    patch16 = DMFViT(**vit16)
    translated = {}
    for frozen in (True, False):
        image_translator = mobilenetv2_translator(
            name="packaged", stride=16, img_size=(H, W), freeze=frozen,
            pixel_mean=[127.5] * 3, pixel_std=[127.5] * 3)
        translated[frozen] = DMFViT(image_translator=image_translator, **vit16).train()

    def next_text():
        ids, mask = texts[cursor["text"] % len(texts)]
        cursor["text"] += 1
        return dmf.forward_text(ids, mask)

    results = {}
    runs = [("plain timm ViT, images", plain, lambda: plain(images)),
            ("DMF, image batch", dmf, lambda: dmf.forward_image(images)),
            ("DMF, text batch, cold", dmf, next_text),
            ("DMF, text batch, warm", dmf, next_text),
            ("patch embedding, stride 16", patch16, lambda: patch16.forward_image(images)),
            ("translator frozen, stride 16", translated[True],
             lambda: translated[True].forward_image(images)),
            ("translator trained, stride 16", translated[False],
             lambda: translated[False].forward_image(images))]
    for _ in range(args.rounds):  # interleaved rounds, best of each: load on the machine hits all alike
        for name, model, forward in runs:
            head = nn.Linear(dim, 100)
            params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
            optimizer = torch.optim.SGD(params, lr=1e-3)
            if name.endswith("cold"):
                translator.cache.clear()
            cursor["text"] = 0
            seconds = timed_steps(make_step(model, head, forward, optimizer), args.steps,
                                  warmup=0 if name.endswith("cold") else 2) / args.batch
            results[name] = min(results.get(name, seconds), seconds)
    tokens = sum(int(m.sum()) for _, m in texts) / sum(len(m) for _, m in texts)
    print(f"ViT-{args.size} ({dim}-d, {depth} blocks), {H}x{W} images at stride {args.stride} "
          f"({1 + grid[0] * grid[1]} tokens), captions '{args.words}' ({tokens:.1f} tokens on "
          f"average), batch {args.batch}, {torch.get_num_threads()} threads")
    for name, seconds in results.items():
        print(f"  {name:30s} {1000 * seconds:8.2f} ms/sample")
    image = results["DMF, image batch"]
    print(f"  DMF image step / plain ViT (speed): {results['plain timm ViT, images'] / image:.3f}")
    print(f"  text-sample cost / image-sample cost, warm: {results['DMF, text batch, warm'] / image:.3f}")
    print(f"  text-sample cost / image-sample cost, cold: {results['DMF, text batch, cold'] / image:.3f}")
    patch = results["patch embedding, stride 16"]
    for state in ("frozen", "trained"):
        print(f"  image step time, MobileNetV2 translator {state} / patch embedding (stride 16): "
              f"{results[f'translator {state}, stride 16'] / patch:.3f}")


if __name__ == "__main__":
    main()
