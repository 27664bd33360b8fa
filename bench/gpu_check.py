"""The device check: the paper configs' training step on one accelerator, measured.

For the DMF stage I paper config (configs/DMF/vit_finegpr.yml) and the MMET paper config
(configs/MMET/finegpr.yml), on generated batches of the configs' own geometry (images, captions,
masks), through FastReID's trainer step (SimpleTrainer / AMPTrainer.run_step: forward, every
configured loss, backward, optimizer step), it prints: step time (CUDA events on a GPU), samples/s,
FLOPs of one step counted by torch.utils.flop_counter.FlopCounterMode on that batch, achieved
TFLOP/s and MFU against the card's dense bf16 peak, peak memory, host synchronisations per step
(torch.cuda.set_sync_debug_mode), the attention path in use, the bf16-vs-fp32 loss difference on
one fixed batch, and the paper schedule's projected time; each config in fp32 (as written) and
with SOLVER.AMP (bf16 autocast where the card has it, SOLVER.AMP.DTYPE). ``--run-tests`` then runs the test suite.

On a machine without CUDA it runs the same code at a tiny size (CI runs every line) and says so.

    python bench/gpu_check.py [--steps 50] [--warmup 20] [--only dmf|mmet] [--run-tests]
"""
import argparse
import math
import os
import resource
import subprocess
import sys
import time
import warnings

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "bench"))

CONFIGS = {"dmf": "configs/DMF/vit_finegpr.yml", "mmet": "configs/MMET/finegpr.yml"}
FINEGPR_IDS, FINEGPR_IMAGES = 1150, 12650  # the papers' FineGPR subset: 11 images per identity
# training samples of one epoch: DMF's fused list holds every image and its caption; MMET's
# samples are the images (each a pair, or split into an unpaired image and text)
EPOCH_SAMPLES = {"dmf": 2 * FINEGPR_IMAGES, "mmet": FINEGPR_IMAGES}
PEAK_BF16_TFLOPS = {"H100": 989.4, "H200": 989.4, "A100": 312.0, "L40S": 362.0, "L4": 121.0,
                    "RTX 3090": 71.0, "RTX 4090": 165.2}  # dense, per the vendors' data sheets
TINY = ["MODEL.VIT.EMBED_DIM", "64", "MODEL.BACKBONE.FEAT_DIM", "64", "MODEL.VIT.DEPTH", "2",
        "MODEL.VIT.NUM_HEADS", "2", "INPUT.SIZE_TRAIN", "[64, 32]", "MODEL.BACKBONE.STRIDE_SIZE",
        "(16, 16)", "MODEL.MMET.TEXT_DEPTH", "1", "MODEL.MMET.FUSION_DEPTH", "1",
        "SOLVER.IMS_PER_BATCH", "8", "MODEL.TEXT.MAX_LENGTH", "24"]


def peak_tflops(name, override):
    if override:
        return override
    return next((value for key, value in PEAK_BF16_TFLOPS.items() if key in name), None)


def build(kind, cuda, tiny, text_translator, amp, compile_mode=""):
    import torch
    from fastreid.modeling.meta_arch import build_model
    from fastreid_multimodal.engine import MultimodalTrainer, load_config
    from fastreid_multimodal.engine.compilation import compile_blocks
    opts = ["MODEL.BACKBONE.PRETRAIN", "False",  # timing needs no weights; nothing is downloaded
            "MODEL.HEADS.NUM_CLASSES", str(FINEGPR_IDS), "MODEL.DEVICE", "cuda" if cuda else "cpu",
            "MODEL.TEXT.TRANSLATOR", text_translator, "SOLVER.AMP.ENABLED", str(amp),
            "SOLVER.COMPILE.MODE", compile_mode]
    cfg = load_config(CONFIGS[kind], opts + (TINY if tiny else []))
    torch.manual_seed(0)
    model = build_model(cfg).train()
    compile_blocks(model, cfg.SOLVER.COMPILE.MODE, cfg.SOLVER.COMPILE.BACKEND)  # as the trainer does
    optimizer, param_wrapper = MultimodalTrainer.build_optimizer(cfg, model)
    return cfg, model, optimizer, param_wrapper


def make_batch(kind, cfg, model, device):
    """A batch of the config's geometry: DMF images + captions (half each); MMET pairs, unpaired
    images and texts (2:1:1) with 15 % of patches and tokens masked."""
    import torch
    from bench_mmet import make_batch as mixed_batch
    args = argparse.Namespace(batch=cfg.SOLVER.IMS_PER_BATCH, image_size=tuple(cfg.INPUT.SIZE_TRAIN),
                              text_length=cfg.MODEL.TEXT.MAX_LENGTH)
    batch = mixed_batch("MMET" if kind == "mmet" else "DMF", args, model.backbone.patch_embed.num_patches)
    batch["targets"] = batch["targets"] % FINEGPR_IDS
    vocab = getattr(getattr(model.backbone, "word_embeddings", None), "num_embeddings", 30522)
    for key in ("text_ids", "text_input"):
        if key in batch:
            batch[key] = batch[key] % vocab
    if kind == "mmet":  # as PairCollate gives it: the model then reads no group back
        from fastreid_multimodal.data.pairs import pair_layout
        batch["layout"] = pair_layout(batch["modality"], batch["targets"], batch.get("patch_mask"),
                                      batch.get("token_mask"))
    else:  # as MultimodalCollate gives it
        from fastreid_multimodal.data.multimodal import modality_layout
        batch["layout"] = modality_layout(batch["modality"])
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}


def attention_path(model):
    """How the transformer blocks compute attention (timm's flag on its Attention modules)."""
    flags = {getattr(m, "fused_attn") for m in model.modules() if hasattr(m, "fused_attn")}
    if flags == {True}:
        return "torch scaled_dot_product_attention (timm fused_attn) in every block"
    if flags == {False}:
        return "explicit softmax(q k^T) v in every block"
    return "mixed" if flags else "no timm attention blocks found"


def loss_difference_bf16(model, batch, device_type):
    """|total loss in bf16 autocast - in fp32| / fp32 on one batch, same random draws."""
    import torch
    from fastreid.utils.events import EventStorage
    totals = []
    for autocast in (False, True):
        torch.manual_seed(1)
        with torch.no_grad(), EventStorage(0), torch.autocast(device_type, torch.bfloat16,
                                                              enabled=autocast):
            totals.append(float(sum(model(batch).values())))
    return abs(totals[1] - totals[0]) / max(abs(totals[0]), 1e-12), totals[0]


def check(kind, args, cuda, tiny, amp):
    import torch
    from fastreid.engine.train_loop import AMPTrainer, SimpleTrainer
    from fastreid.utils.events import EventStorage
    from torch.utils.flop_counter import FlopCounterMode
    from fastreid_multimodal.engine.trainer import float32_precision
    device = "cuda" if cuda else "cpu"
    cfg, model, optimizer, param_wrapper = build(kind, cuda, tiny, args.text_translator, amp, args.compile)
    batch = make_batch(kind, cfg, model, device)
    trainer_cls = AMPTrainer if cfg.SOLVER.AMP.ENABLED else SimpleTrainer
    trainer = trainer_cls(model, iter(lambda: batch, None), optimizer, param_wrapper)
    trainer.iter = 0
    tf32 = cuda and cfg.SOLVER.TF32  # as MultimodalTrainer.train sets it
    with EventStorage(0) as storage, float32_precision(tf32):
        trainer.storage = storage
        for _ in range(args.warmup):
            trainer.run_step()
            storage.iter += 1
        with FlopCounterMode(display=False) as counter:
            trainer.run_step()
        flops = counter.get_total_flops()
        syncs = []
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.set_sync_debug_mode("warn")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                start.record()
                for _ in range(args.steps):
                    trainer.run_step()
                end.record()
            torch.cuda.set_sync_debug_mode("default")
            torch.cuda.synchronize()
            seconds = start.elapsed_time(end) / 1000 / args.steps
            syncs = [w for w in caught if "synchroniz" in str(w.message)]
            peak_gb = torch.cuda.max_memory_allocated() / 2**30
        else:
            begin = time.perf_counter()
            for _ in range(args.steps):
                trainer.run_step()
            seconds = (time.perf_counter() - begin) / args.steps
            peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    relative, fp32_loss = loss_difference_bf16(model, batch, device)
    samples = cfg.SOLVER.IMS_PER_BATCH
    iters = cfg.SOLVER.MAX_EPOCH * math.ceil(EPOCH_SAMPLES[kind] / samples)
    name = torch.cuda.get_device_name() if cuda else "CPU"
    peak = peak_tflops(name, args.peak_tflops) if cuda else None
    achieved = flops / seconds / 1e12
    precision = "fp32" + (" (TF32 matmuls, SOLVER.TF32)" if tf32 else "")
    if amp:
        precision = f"{str(trainer.amp_dtype).split('.')[-1]} autocast" + \
            (" + GradScaler" if trainer.grad_scaler is not None else "")
    print(f"{kind.upper()} {CONFIGS[kind]}{' (tiny size)' if tiny else ''} on {name}: batch {samples}, "
          f"{cfg.INPUT.SIZE_TRAIN[0]}x{cfg.INPUT.SIZE_TRAIN[1]}, {model.backbone.patch_embed.num_patches} "
          f"patches, {precision}, {trainer_cls.__name__}.run_step")
    print(f"  step {seconds * 1000:.1f} ms ({args.steps} steps after {args.warmup}), "
          f"{samples / seconds:.1f} samples/s")
    print(f"  FLOPs a step {flops / 1e9:.1f} GFLOP, achieved {achieved:.2f} TFLOP/s, MFU "
          + (f"{100 * achieved / peak:.1f} % of {peak:.0f} TFLOP/s bf16 dense" if peak else
             "n/a (no bf16 peak known for this device; --peak-tflops)"))
    print(f"  peak memory {peak_gb:.2f} GB ({'CUDA allocated' if cuda else 'process RSS'})")
    print("  host syncs a step " + (f"{len(syncs) / args.steps:.1f}" if cuda else "n/a on CPU"))
    print(f"  attention: {attention_path(model)}")
    print(f"  bf16 vs fp32 loss on one batch: relative difference {relative:.2e} (fp32 {fp32_loss:.4f})")
    print(f"  paper schedule: {cfg.SOLVER.MAX_EPOCH} epochs x {math.ceil(EPOCH_SAMPLES[kind] / samples)} "
          f"steps = {iters} steps, projected {iters * seconds / 60:.1f} min at this step time")
    return {"step_s": seconds, "flops": flops, "mfu": achieved / peak if peak else None}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="timed steps (50 on a GPU, 3 on CPU)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps (20 on a GPU, 1 on CPU)")
    parser.add_argument("--only", choices=sorted(CONFIGS))
    parser.add_argument("--peak-tflops", type=float, help="the card's dense bf16 peak, if not listed")
    parser.add_argument("--text-translator", default="packaged",
                        help='MODEL.TEXT.TRANSLATOR ("" = learned word embeddings)')
    parser.add_argument("--compile", default="", metavar="MODE",
                        help="SOLVER.COMPILE.MODE for every timed run (default: off, as the configs)")
    parser.add_argument("--run-tests", action="store_true", help="then run the test suite")
    args = parser.parse_args()
    import torch
    import fastreid_multimodal  # noqa: F401  (compat patches)
    cuda = torch.cuda.is_available()
    tiny = not cuda
    args.steps = args.steps or (50 if cuda else 3)
    args.warmup = args.warmup if args.warmup is not None else (20 if cuda else 1)
    if tiny:
        print("ran on CPU: no CUDA device, so the paper configs run at a tiny size (the numbers "
              "say nothing about a GPU)")
    for kind in ([args.only] if args.only else sorted(CONFIGS)):
        for amp in (False, True):  # as the paper configs are written (fp32), then SOLVER.AMP
            check(kind, args, cuda, tiny, amp)
    if args.run_tests:
        sys.exit(subprocess.call([sys.executable, "-m", "pytest", "tests", "-q", "-x",
                                  "-p", "no:cacheprovider"], cwd=REPO))


if __name__ == "__main__":
    main()
