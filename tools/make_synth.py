#!/usr/bin/env python
"""Generate SynthPerson domains (FineGPR-style synthetic pedestrians) and a contact sheet.

    python tools/make_synth.py --root datasets --domains source,campus,winter,night \
        --num-ids 200 --images-per-id 10 --seed 0 [--size 128 64] [--workers 2] \
        [--contact-sheet docs/synthperson_contact_sheet.png]

Each domain goes to {root}/SynthPerson/{domain}/ (images/<pid>/ and masks/<pid>/, one folder per
identity as in FineGPR's release; attributes.json, images.json, captions.txt, splits.json,
meta.json); an up-to-date domain is not regenerated.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fastreid_multimodal.data.synth import (DOMAINS, generate_domain,  # noqa: E402
                                            make_contact_sheet)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Generate SynthPerson domains.")
    ap.add_argument("--root", default=os.getenv("FASTREID_DATASETS", "datasets"),
                    help="datasets root (domains go to ROOT/SynthPerson/NAME)")
    ap.add_argument("--domains", default="source,campus,winter,night",
                    help=f"comma-separated, from {', '.join(DOMAINS)}")
    ap.add_argument("--num-ids", type=int, default=100)
    ap.add_argument("--images-per-id", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, nargs=2, default=(128, 64), metavar=("H", "W"))
    ap.add_argument("--split", type=float, default=None,
                    help="train fraction of identities (default: 1.0 source, 0.5 targets)")
    ap.add_argument("--test-ids", type=int, default=None,
                    help="test identities per target on top of the training ones (default: the "
                         "untrained rest of --num-ids; the data sets use DATASETS.SYNTH.TEST_IDS)")
    ap.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    ap.add_argument("--contact-sheet", default=None, metavar="PNG",
                    help="also write a contact sheet: identities x domains")
    ap.add_argument("--describe", action="store_true", help="print the domain tables")
    args = ap.parse_args(argv)

    names = [d.strip() for d in args.domains.split(",") if d.strip()]
    unknown = [d for d in names if d not in DOMAINS]
    if unknown:
        ap.error(f"unknown domain(s) {unknown}; known: {', '.join(DOMAINS)}")
    for name in names:
        if args.describe:
            print(DOMAINS[name].describe())
        path = generate_domain(args.root, name, args.num_ids, args.images_per_id,
                               seed=args.seed, size=tuple(args.size), split=args.split,
                               workers=args.workers, verbose=True,
                               test_ids=args.test_ids if DOMAINS[name].train_fraction < 1 else None)
        print(f"{name}: {path}")
    if args.contact_sheet:
        make_contact_sheet(args.contact_sheet, names, seed=args.seed, size=tuple(args.size))
        print(f"contact sheet: {args.contact_sheet}")


if __name__ == "__main__":
    main()
