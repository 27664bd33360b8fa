"""Re-ID evaluation at Market and MSMT17 scale: time and peak memory of the chunked exact evaluator
(ours) vs FastReID's stock path (full distance matrix + evaluate_rank, Cython when built) vs a bare
floor (chunked matrix product + top-50, no metrics), all in one run.

Synthetic 768-d features with planted identities (a centre per identity + noise, random cameras).
Each method runs in its own process; its peak memory is the process's peak resident set while it
runs (the features and libraries included; the peak of building the features is reset first,
Linux's clear_refs, so it does not hide the method's own). Ends with two lines:
`metrics identical: True|False` and `speedup vs stock: N.Nx` (the largest scale run).

    python bench/bench_eval.py [--quick] [--scales market msmt] [--dim 768] [--chunk 256]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCALES = {"market": (3368, 15913, 751, 6), "msmt": (11659, 82161, 3060, 15)}  # q, g, ids, cams


def features(scale, dim, seed=0):
    num_q, num_g, ids, cams = SCALES[scale]
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(ids, dim, generator=gen)
    q_pids = torch.randint(0, ids, (num_q,), generator=gen)
    g_pids = torch.randint(0, ids, (num_g,), generator=gen)
    q = centres[q_pids] + 3.0 * torch.randn(num_q, dim, generator=gen)
    g = centres[g_pids] + 3.0 * torch.randn(num_g, dim, generator=gen)
    q_cams = torch.randint(0, cams, (num_q,), generator=gen)
    g_cams = torch.randint(0, cams, (num_g,), generator=gen)
    return q, g, q_pids.numpy(), g_pids.numpy(), q_cams.numpy(), g_cams.numpy()


def _status_mb(key):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return None


def _reset_peak():
    """Restart the peak-RSS count (VmHWM) at the current RSS; False where the kernel cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def worker(method, scale, dim, chunk, gallery_fraction):
    if method != "floor":  # the floor is torch only; importing the package costs ~10 s of startup
        import fastreid_multimodal  # noqa: F401  (compat: fastreid on Python 3.11, the Cython ranking)
    q, g, q_pids, g_pids, q_cams, g_cams = features(scale, dim)
    if gallery_fraction < 1:
        keep = int(len(g) * gallery_fraction)
        g, g_pids, g_cams = g[:keep].clone(), g_pids[:keep], g_cams[:keep]
    base_mb = _status_mb("VmRSS")
    # without the reset, the features' construction peak would be reported as the method's
    reset = _reset_peak()
    start = time.perf_counter()
    out = {}
    if method == "ours":
        from fastreid_multimodal.evaluation.chunked_ranking import chunked_evaluate_rank
        cmc, ap, inp = chunked_evaluate_rank(q, g, q_pids, g_pids, q_cams, g_cams, "cosine",
                                             chunk_size=chunk)
        out = {"cmc": cmc.tolist(), "mAP": float(np.mean(ap)), "mINP": float(np.mean(inp))}
    elif method == "stock":
        from fastreid.evaluation.rank import evaluate_rank
        from fastreid.utils.compute_dist import build_dist
        dist = build_dist(q, g, "cosine")
        cmc, ap, inp = evaluate_rank(dist, q_pids, g_pids, q_cams, g_cams)
        out = {"cmc": np.asarray(cmc).tolist(), "mAP": float(np.mean(ap)),
               "mINP": float(np.mean(inp))}
    else:  # floor: the distances and a top-50, nothing else
        qn, gn = torch.nn.functional.normalize(q, dim=1), torch.nn.functional.normalize(g, dim=1)
        with torch.no_grad():
            for s in range(0, len(qn), chunk):
                torch.topk(1 - qn[s:s + chunk] @ gn.t(), 50, dim=1, largest=False)
    out["seconds"] = time.perf_counter() - start
    out["peak_mb"] = (_status_mb("VmHWM") if reset
                      else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    out["features_mb"] = base_mb
    print(json.dumps(out))


def run(method, scale, dim, chunk, gallery_fraction=1.0):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", method, "--scales", scale,
           "--dim", str(dim), "--chunk", str(chunk), "--gallery-fraction", str(gallery_fraction)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{method} at {scale} scale failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Market scale only")
    parser.add_argument("--scales", nargs="+", default=["market", "msmt"], choices=list(SCALES))
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--chunk", type=int, default=256)
    parser.add_argument("--gallery-fraction", type=float, default=1.0)
    parser.add_argument("--worker", choices=["ours", "stock", "floor"])
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.scales[0], args.dim, args.chunk, args.gallery_fraction)
    scales = ["market"] if args.quick else args.scales
    print(f"{torch.get_num_threads()} threads, {args.dim}-d features, chunk {args.chunk} queries")
    identical, speedup = True, None
    for scale in scales:
        num_q, num_g = SCALES[scale][:2]
        results = {m: run(m, scale, args.dim, args.chunk) for m in ("floor", "ours", "stock")}
        for method, r in results.items():
            print(f"  {scale:6s} {num_q}x{num_g} {method:5s} {r['seconds']:7.1f} s   peak "
                  f"{r['peak_mb']:7.0f} MB (before ranking {r['features_mb']:.0f} MB)")
        ours, stock = results["ours"], results["stock"]
        same = (np.allclose(ours["cmc"], stock["cmc"], atol=1e-6)
                and abs(ours["mAP"] - stock["mAP"]) < 1e-6 and abs(ours["mINP"] - stock["mINP"]) < 1e-6)
        identical &= same
        speedup = stock["seconds"] / ours["seconds"]
        print(f"  {scale}: mAP {ours['mAP'] * 100:.2f} / R1 {ours['cmc'][0] * 100:.2f}; ours / floor "
              f"{ours['seconds'] / results['floor']['seconds']:.2f}x time; ours vs stock "
              f"{speedup:.1f}x faster, peak {ours['peak_mb']:.0f} vs {stock['peak_mb']:.0f} MB")
        half = run("ours", scale, args.dim, args.chunk, gallery_fraction=0.5)
        sizes = [(int(num_g * 0.5), half), (num_g, ours)]
        print(f"  {scale}: ours peak memory at 2 gallery sizes: " + ", ".join(
            f"{n} items {r['peak_mb']:.0f} MB (+{r['peak_mb'] - r['features_mb']:.0f} over the "
            f"features)" for n, r in sizes))
    print(f"metrics identical: {identical}")
    print(f"speedup vs stock: {speedup:.1f}x")


if __name__ == "__main__":
    main()
