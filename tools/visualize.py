#!/usr/bin/env python
"""Figures of a trained checkpoint (PNG files, no display needed).

    python tools/visualize.py ranking --config-file C --weights W --dataset SynthPersonCampus \
        [--num-queries 4] [--topk 10] --out ranking.png [KEY VALUE ...]
    python tools/visualize.py attention --config-file C --weights W [--weights-b W2 \
        --label-a DMF --label-b image-only] --dataset NAME [--num-images 4] --out attention.png
    python tools/visualize.py modality-distance --config-file C --weights W [--weights-before W0] \
        --dataset SynthPersonSource [--num-ids 10] --out modality.png
    python tools/visualize.py curves --metrics OUTPUT_DIR/metrics.json \
        [--keys total_loss loss_cls loss_triplet lr] --out curves.png

C is a training config (or OUTPUT_DIR/config.yaml of the run); KEY VALUE overrides go last.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # uninstalled checkout

import fastreid_multimodal  # noqa: E402,F401  (patches fastreid, registers everything)
from fastreid_multimodal.engine import run_cli  # noqa: E402
from fastreid_multimodal.engine.inference import load_dataset, load_model  # noqa: E402
from fastreid_multimodal.errors import UserError  # noqa: E402
from fastreid_multimodal.evaluation import plots  # noqa: E402
from fastreid_multimodal.evaluation import visualize as vis  # noqa: E402
from fastreid_multimodal.evaluation.attention import attention_rollout  # noqa: E402
from fastreid_multimodal.evaluation.features import (encoder_features, image_features,  # noqa: E402
                                                     load_images)


def _model_args(p, dataset=True):
    p.add_argument("--config-file", required=True, metavar="FILE")
    p.add_argument("--weights", required=True, metavar="PTH")
    if dataset:
        p.add_argument("--dataset", required=True, help="a registered data set name")
    p.add_argument("--out", required=True, metavar="PNG")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("ranking", help="query + top-k gallery, green/red borders (DMF Fig. 4)")
    p.add_argument("--num-queries", type=int, default=4)
    p.add_argument("--topk", type=int, default=10)
    _model_args(p)
    p = sub.add_parser("attention", help="[cls] attention rollout overlays (DMF Fig. 5)")
    p.add_argument("--weights-b", default="", metavar="PTH", help="a second checkpoint")
    p.add_argument("--label-a", default="A")
    p.add_argument("--label-b", default="B")
    p.add_argument("--num-images", type=int, default=4)
    _model_args(p)
    p = sub.add_parser("modality-distance", help="image vs text features, PCA (DMF Fig. 3)")
    p.add_argument("--weights-before", default="", metavar="PTH",
                   help="checkpoint before training ('init': the untrained model): draws two panels")
    p.add_argument("--num-ids", type=int, default=10)
    _model_args(p)
    p = sub.add_parser("curves", help="training curves from metrics.json")
    p.add_argument("--metrics", required=True, metavar="JSON")
    p.add_argument("--keys", nargs="+", default=["total_loss", "loss_cls", "loss_triplet", "lr"])
    p.add_argument("--out", required=True, metavar="PNG")
    return parser


def _image_size(cfg):
    return tuple(cfg.INPUT.SIZE_TEST)


def first_per_identity(items):
    """The first (path, pid, camid) item of every identity, in order."""
    first = {}
    for item in items:
        first.setdefault(item[1], item)
    return list(first.values())


def ranking(args):
    cfg, model = load_model(args.config_file, args.weights, args.opts)
    data = load_dataset(cfg, args.dataset)
    query, gallery = list(data.query), list(data.gallery)
    if not query or not gallery:
        raise UserError(f"{args.dataset} has no query/gallery split (a test data set is needed, "
                        "e.g. SynthPersonCampus)")
    # spread the queries over identities: the first query of every n-th identity
    picked = first_per_identity(query)
    step = max(1, len(picked) // max(1, args.num_queries))
    query = picked[::step][:args.num_queries]
    qf = image_features(cfg, model, [p for p, _, _ in query])
    gf = image_features(cfg, model, [p for p, _, _ in gallery])
    index, scores = vis.rank(qf, gf, [q[1] for q in query], [q[2] for q in query],
                             [g[1] for g in gallery], [g[2] for g in gallery], args.topk)
    ranked_paths = [[gallery[j][0] for j in row] for row in index]
    ranked_pids = [[gallery[j][1] for j in row] for row in index]
    plots.plot_ranking(args.out, [q[0] for q in query], [q[1] for q in query], ranked_paths,
                       ranked_pids, scores, _image_size(cfg))
    for q, pids in zip(query, ranked_pids):
        hits = sum(p == q[1] for p in pids)
        print(f"query id {q[1]}: {hits}/{len(pids)} of the top-{len(pids)} are the same identity")
    print(f"wrote {args.out}")


def attention(args):
    models = [(args.label_a, args.weights)]
    if args.weights_b:
        models.append((args.label_b, args.weights_b))
    maps, paths = {}, None
    for label, weights in models:
        cfg, model = load_model(args.config_file, weights, args.opts)
        if paths is None:
            data = load_dataset(cfg, args.dataset)
            items = list(data.query) or list(data.train)
            paths = [p for p, _, _ in first_per_identity(items)[:args.num_images]]
            images = load_images(cfg, paths)
        maps[label] = attention_rollout(model.backbone, model.preprocess_image(images))
    plots.plot_attention(args.out, paths, maps, _image_size(cfg))
    print(f"wrote {args.out}")


def modality_distance(args):
    panels, pids = [], None
    runs = ([("before training", args.weights_before)] if args.weights_before else []) + \
        [("after training" if args.weights_before else "", args.weights)]
    for title, weights in runs:
        cfg, model = load_model(args.config_file, weights, args.opts)
        if pids is None:
            data = load_dataset(cfg, args.dataset)
            paths, ipids, captions, tpids = vis.modality_samples(data, args.num_ids)
            pids = list(dict.fromkeys(ipids + tpids))
        fi, ft = encoder_features(cfg, model, paths, captions)
        dist = {c: vis.mean_cosine_distance(fi, ipids, ft, tpids, centred=c) for c in (False, True)}
        other = {c: vis.mean_cosine_distance(fi, ipids, ft, tpids, same_identity=False, centred=c)
                 if len(pids) > 1 else float("nan") for c in (False, True)}
        ixy, txy = vis.pca_2d(fi.numpy(), ft.numpy())
        name = title or os.path.basename(weights)
        for c in (False, True):
            print(f"{name}: mean image-text cosine distance{' (centred)' if c else ''}, "
                  f"same identity {dist[c]:.4f}, different identities {other[c]:.4f}")
        panels.append((f"{name}\nimage-text cosine distance: same id {dist[False]:.3g}, other ids "
                       f"{other[False]:.3g}\ncentred: same id {dist[True]:.3g}, other ids "
                       f"{other[True]:.3g}", ixy, ipids, txy, tpids))
    plots.plot_modality(args.out, panels, pids)
    print(f"wrote {args.out}")


def curves(args):
    series = vis.read_metrics(args.metrics, args.keys)
    missing = [k for k in args.keys if k not in series]
    if missing:
        print(f"not in {args.metrics}: {', '.join(missing)}")
    plots.plot_curves(args.out, series, os.path.dirname(os.path.abspath(args.metrics)))
    print(f"wrote {args.out}")


COMMANDS = {"ranking": ranking, "attention": attention, "modality-distance": modality_distance,
            "curves": curves}


def main(argv=None):
    args = build_parser().parse_args(argv)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    return run_cli(COMMANDS[args.command], args)


if __name__ == "__main__":
    main()
