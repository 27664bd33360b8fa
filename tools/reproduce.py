#!/usr/bin/env python
"""Reproduce a paper table: run (or, with --dry-run, list) every training it needs, skipping runs
that already have results, then write our numbers next to the paper's.

    python tools/reproduce.py --table dmf-1 [--dry-run] [--synthetic] [--seeds 0 1 2]
                              [--jobs 2] [--output-dir output/reproduce] [KEY VALUE ...]
    python tools/reproduce.py --table dmf-1 --synthetic --report   # print the committed results

Per-seed numbers go to docs/results/<table>[-synthetic].json (--results-dir); the table, with the
significance of each step between consecutive rows, is printed from that file.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import fastreid_multimodal  # noqa: E402,F401
from fastreid_multimodal.engine.defaults import run_cli  # noqa: E402
from fastreid_multimodal.reproduction.execution import execute  # noqa: E402
from fastreid_multimodal.reproduction.paper_tables import TABLES  # noqa: E402
from fastreid_multimodal.reproduction.planning import (  # noqa: E402
    choose_rows, datasets_message, missing_datasets, plan, select)
from fastreid_multimodal.reproduction.report import (  # noqa: E402
    chance_reference, format_results_json, read_results_json, recorded_seeds, write_results_json,
    write_table)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", required=True, choices=sorted(TABLES))
    parser.add_argument("--dry-run", action="store_true", help="list the runs and their configs")
    parser.add_argument("--synthetic", action="store_true",
                        help="the same table on SynthPerson domains with demo-size models")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="training seeds (default: 0 1 2 with --synthetic, else 0)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs trained at once, CPU threads split between them (default 1)")
    parser.add_argument("--output-dir", default="output/reproduce")
    parser.add_argument("--results-dir", default="docs/results",
                        help="where the per-seed results JSON is written (default docs/results)")
    parser.add_argument("--report", action="store_true",
                        help="only print the table from the results JSON; train nothing")
    parser.add_argument("--collect", action="store_true",
                        help="write the results JSON and table from the runs finished so far "
                             "(each row over its own finished seeds); train nothing")
    parser.add_argument("--rows", nargs="+", default=None, metavar="ROW",
                        help="train only these rows (names as --dry-run lists them, or their "
                             "folder names); the table is still written from every finished run")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE overrides for every run")
    args = parser.parse_args(argv)
    seeds = args.seeds or ([0, 1, 2, 3, 4] if args.synthetic else [0])
    name = f"{args.table}{'-synthetic' if args.synthetic else ''}"
    results_json = os.path.join(args.results_dir, name + ".json")
    if args.report:
        if not os.path.isfile(results_json):
            raise SystemExit(f"error: {results_json} does not exist: run the table first")
        with open(results_json) as f:
            print(format_results_json(select(args.table, args.synthetic), json.load(f)))
        return 0
    table, runs = plan(args.table, args.output_dir, args.synthetic, seeds, args.opts)
    chosen = choose_rows(table, args.rows) if args.rows else None
    # a cell recorded in the results JSON (its run folder gone: another session, another machine)
    # is not trained again; options on the command line train other models, so they record nothing
    recorded = {} if args.opts else recorded_seeds(read_results_json(results_json))
    for run in runs:
        run.recorded = not run.done and run.seed in recorded.get(run.row, ())
    missing = missing_datasets([run for run in runs if not run.recorded])
    print(f"{table.title}: {len(runs)} runs, {sum(r.done for r in runs)} already done, "
          f"{sum(r.recorded for r in runs)} recorded in {results_json}")
    for run in runs:
        state = "done" if run.done else "recorded" if run.recorded else "todo"
        print(f"  [{state}] {run.row} (seed {run.seed}): {' + '.join(run.configs)} -> {run.output_dir}")
    if missing:
        print(datasets_message(missing), file=sys.stderr)
        if not args.dry_run:
            return 2
    if args.dry_run:
        return 0
    if args.collect:
        if not any(r.done for r in runs) and not recorded:
            raise SystemExit(f"error: no run of {name} has finished under {args.output_dir}")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    started = time.time()
    todo = [run for run in runs if chosen is None or run.row in chosen]
    trained = {} if args.collect else execute(todo, jobs=args.jobs)
    if trained:
        print(f"trained {len(trained)} runs in {time.time() - started:.0f} s wall "
              f"({sum(trained.values()):.0f} s summed over runs, --jobs {args.jobs})")
    path = os.path.join(args.output_dir, name + ".md")
    reference = chance_reference(table, runs) if args.synthetic else None
    write_table(table, runs, path, reference)
    data = write_results_json(table, runs, results_json, reference, keep=not args.opts)
    print(format_results_json(table, data))
    print(f"written to {results_json} and {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
