#!/usr/bin/env python
"""DMF in one command: stage I (pre-train on images + captions) -> stage II (fine-tune on real
images) -> evaluation on every DATASETS.TESTS target of stage II, printed and written as a table.

    python tools/dmf_pipeline.py --pretrain configs/DMF/vit_finegpr.yml \\
        --finetune configs/DMF/vit_market.yml --output-dir output/dmf_market [KEY VALUE ...]

Each stage runs tools/train_net.py with --resume, so a killed pipeline continues where it stopped
and finished stages are not trained again. ``--variant`` selects the DMF Table 1 pre-training:
both (DMF), image, text, or none (stage II from scratch).
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fastreid_multimodal.evaluation.results import format_table, publish_results  # noqa: E402

TRAIN_NET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "train_net.py")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrain", required=True, help="stage I config")
    parser.add_argument("--finetune", required=True, help="stage II config")
    parser.add_argument("--output-dir", required=True, help="stage1/ and stage2/ go here")
    parser.add_argument("--variant", default="both", choices=["both", "image", "text", "none"],
                        help="stage I samples (DMF Table 1); none = no pre-training")
    parser.add_argument("--stage1-dir", default=None,
                        help="stage I's folder (default OUTPUT_DIR/stage1); a finished stage I there "
                             "is reused, so one pre-training serves several stage II runs")
    parser.add_argument("--num-gpus", type=int, default=1)
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE overrides for both stages")
    return parser.parse_args(argv)


def run_stage(config, output_dir, opts, num_gpus):
    cmd = [sys.executable, TRAIN_NET, "--config-file", config, "--resume", "--num-gpus",
           str(num_gpus)]
    if num_gpus > 1:
        cmd += ["--dist-url", "auto"]
    cmd += [*opts, "OUTPUT_DIR", output_dir]
    print("+", " ".join(cmd), flush=True)
    ret = subprocess.run(cmd)
    if ret.returncode != 0:
        sys.exit(ret.returncode)


def main(argv=None):
    args = parse_args(argv)
    stage1 = args.stage1_dir or os.path.join(args.output_dir, "stage1")
    stage2 = os.path.join(args.output_dir, "stage2")
    finetune_opts = list(args.opts)
    if args.variant != "none":
        run_stage(args.pretrain, stage1, [*args.opts, "MODEL.DMF.MODALITIES", args.variant],
                  args.num_gpus)
        finetune_opts += ["MODEL.WEIGHTS", os.path.join(stage1, "model_final.pth")]
    run_stage(args.finetune, stage2, finetune_opts + ["MODEL.DMF.MODALITIES", "image"],
              args.num_gpus)
    results = publish_results(stage2, args.output_dir)
    print(f"\nDMF ({args.variant} pre-training) -> {args.output_dir}/results.md\n")
    print(format_table(results))


if __name__ == "__main__":
    main()
