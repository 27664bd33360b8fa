"""Speed of the SynthPerson generator on ONE core (render only, and render + JPEG/PNG writing).

    python bench/bench_synth.py [--n 600] [--size 128 64] [--domains source,campus,winter,night]

prints e.g. ``render: 1234 img/s, render+write: 567 img/s`` (background tiles are warmed up first:
they are painted once per domain and scene, then cropped).
"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fastreid_multimodal.data.synth import (get_domain, plan_images,  # noqa: E402
                                            render, sample_domain_identity, save_image,
                                            save_mask)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=600, help="images per measurement")
    ap.add_argument("--size", type=int, nargs=2, default=(128, 64), metavar=("H", "W"))
    ap.add_argument("--domains", default="source,campus,winter,night")
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    size = tuple(args.size)
    domains = [get_domain(d) for d in args.domains.split(",")]
    per_id = 10
    jobs = []  # (domain, identity, env, name)
    pid = 0
    while len(jobs) < args.n:
        d = domains[pid % len(domains)]
        ident = sample_domain_identity(d, pid, 0)
        for name, env in plan_images(d, pid, per_id, 0):
            jobs.append((d, ident, env, name))
        pid += 1
    jobs = jobs[:args.n]
    for d, ident, env, _ in jobs:  # warm-up: background tiles
        render(ident, env, d, size)

    t0 = time.perf_counter()
    for d, ident, env, _ in jobs:
        render(ident, env, d, size)
    t_render = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        for d, ident, env, name in jobs:
            img, mask = render(ident, env, d, size)
            save_image(img, os.path.join(tmp, name))
            save_mask(mask, os.path.join(tmp, name[:-4] + ".png"))
        t_write = time.perf_counter() - t0
    n = len(jobs)
    print(f"render: {n / t_render:.0f} img/s, render+write: {n / t_write:.0f} img/s "
          f"({n} images {size[0]}x{size[1]}, domains {args.domains}, one core)")


if __name__ == "__main__":
    main()
