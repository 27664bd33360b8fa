"""Optimizer step time: FastReID's one group per tensor against the merged groups
(engine.optimizer), with the per-tensor loop, foreach and fused steps, on the paper configs' models
(one run, same process, ratios measured side by side). Gradients are random; only the step is timed.

    python bench/bench_optimizer.py [--configs configs/DMF/vit_finegpr.yml ...] [--steps 20]
                                    [--device cpu|cuda]
"""
import argparse
import time

import torch

import fastreid_multimodal  # noqa: F401  (first: its compat fixes let fastreid import)
from fastreid.engine import DefaultTrainer
from fastreid.modeling import build_model
from fastreid_multimodal.engine.defaults import load_config
from fastreid_multimodal.engine.optimizer import merged_optimizer

CONFIGS = ("configs/DMF/vit_finegpr.yml", "configs/MMET/finegpr.yml")


def step_time(optimizer, params, steps, device):
    generator = torch.Generator(device).manual_seed(0)
    grads = [torch.randn(p.shape, generator=generator, device=device) * 1e-3 for p in params]

    def step():
        for p, g in zip(params, grads):
            p.grad = g
        optimizer.step()

    for _ in range(3):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=CONFIGS)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    for config in args.configs:
        cfg = load_config(config, ["MODEL.DEVICE", args.device, "MODEL.HEADS.NUM_CLASSES", "700",
                                   "MODEL.BACKBONE.PRETRAIN", "False"], check_files=False)
        model = build_model(cfg)
        params = [p for p in model.parameters() if p.requires_grad]
        per_tensor, _ = DefaultTrainer.build_optimizer(cfg, model)
        base = step_time(per_tensor, params, args.steps, args.device)
        print(f"{config}: {cfg.SOLVER.OPT}, {sum(p.numel() for p in params) / 1e6:.1f} M trained "
              f"parameters, {args.device}")
        print(f"  {len(per_tensor.param_groups):4d} groups (FastReID), torch default step: "
              f"{base * 1e3:8.2f} ms  speed-up 1.00x")
        for kernel in ("for_loop", "foreach", "fused", "auto"):
            try:
                merged = merged_optimizer(DefaultTrainer.build_optimizer(cfg, model)[0], kernel)
            except Exception as exc:  # e.g. no fused step for this optimizer
                print(f"  merged, {kernel}: not available ({exc})")
                continue
            t = step_time(merged, params, args.steps, args.device)
            print(f"  {len(merged.param_groups):4d} groups (merged), {kernel:8s} step: "
                  f"{t * 1e3:8.2f} ms  speed-up {base / t:.2f}x")


if __name__ == "__main__":
    main()
