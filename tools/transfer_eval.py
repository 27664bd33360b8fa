#!/usr/bin/env python
"""Train on one domain, then test the final model on others it has never seen (MMET's protocol:
pre-train on synthetic people, test directly on real Re-ID sets).

    python tools/transfer_eval.py --config-file configs/Demo/mmet_synth.yml \\
        --train-dir output/mmet_synth --tests Market1501 DukeMTMC --output-dir output/mmet_real [KEY VALUE ...]

Training runs tools/train_net.py with --resume in --train-dir unless its model_final.pth is there
(a finished training is neither run nor evaluated again, so a model trained for another table is
reused as it is); the evaluation writes results.json and the per-query APs into --output-dir (the evaluation's own log in its eval/). ``--eval-opt KEY
VALUE`` (repeatable) changes only the evaluation, e.g. which feature ranks
(``MODEL.MMET.EVAL_FEATURE fusion``) for a model trained with the default.
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
    parser.add_argument("--config-file", required=True, help="the training config")
    parser.add_argument("--train-dir", required=True, help="OUTPUT_DIR of the training")
    parser.add_argument("--tests", required=True, nargs="+", help="registered data sets to test on")
    parser.add_argument("--output-dir", required=True, help="results.json of the tests goes here")
    parser.add_argument("--eval-opt", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                        help="an override for the evaluation only (repeatable)")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE overrides for both steps")
    return parser.parse_args(argv)


def run(cmd):
    print("+", " ".join(cmd), flush=True)
    returncode = subprocess.run(cmd).returncode
    if returncode != 0:
        sys.exit(returncode)


def main(argv=None):
    args = parse_args(argv)
    final = os.path.join(args.train_dir, "model_final.pth")
    if os.path.isfile(final):  # written last and atomically: the training is complete
        # resuming it would only evaluate it again on its own test sets (minutes per model)
        print(f"{final}: the training is finished, not run again", flush=True)
    else:
        run([sys.executable, TRAIN_NET, "--config-file", args.config_file, "--resume", *args.opts,
             "OUTPUT_DIR", args.train_dir])
    tests = "(" + "".join(f'"{name}", ' for name in args.tests) + ")"
    evaluation = os.path.join(args.output_dir, "eval")
    eval_opts = [part for pair in args.eval_opt for part in pair]
    run([sys.executable, TRAIN_NET, "--config-file", args.config_file, "--eval-only", *args.opts, *eval_opts,
         "MODEL.WEIGHTS", final, "DATASETS.TESTS", tests,
         "OUTPUT_DIR", evaluation])
    results = publish_results(evaluation, args.output_dir)
    print(format_table(results))


if __name__ == "__main__":
    main()
