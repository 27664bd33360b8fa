"""Planning, running and tabulating the runs a paper table needs (tools/reproduce.py).

Runs live in ``<output>/<table>[-synthetic]/<row>[_s<seed>]``; a run whose results.json exists is
skipped, so an interrupted reproduction continues. Missing data sets are reported before anything
runs.
"""
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass

import numpy as np

from ..data.layouts import LAYOUTS, datasets_root, is_present
from ..engine.defaults import load_config
from .paper_tables import TABLES, format_comparison

TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                     "tools")


@dataclass
class PlannedRun:
    row: str
    seed: int
    output_dir: str
    command: list
    configs: tuple

    @property
    def done(self):
        return os.path.isfile(os.path.join(self.output_dir, "results.json"))


def select(table_name, synthetic):
    table = TABLES[table_name]
    if synthetic:
        if table.synthetic is None:
            raise ValueError(f"{table_name} has no --synthetic version (tables that have one: "
                             f"{', '.join(k for k, t in TABLES.items() if t.synthetic)})")
        return table.synthetic
    return table


def _slug(text):
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def plan(table_name, output_dir, synthetic=False, seeds=(0,), extra_opts=()):
    table = select(table_name, synthetic)
    base = os.path.join(output_dir, table_name + ("-synthetic" if synthetic else ""))
    runs = []
    for row in table.rows:
        for seed in seeds:
            out = os.path.join(base, f"{_slug(row.name)}_s{seed}")
            opts = [*row.run.opts, *extra_opts, "SEED", str(seed)]
            if row.run.kind == "pipeline":
                command = [sys.executable, os.path.join(TOOLS, "dmf_pipeline.py"),
                           "--pretrain", row.run.pretrain, "--finetune", row.run.config,
                           "--output-dir", out, "--variant", row.run.variant, *opts]
                configs = (row.run.pretrain, row.run.config) if row.run.variant != "none" \
                    else (row.run.config,)
            else:
                command = [sys.executable, os.path.join(TOOLS, "train_net.py"), "--config-file",
                           row.run.config, "--resume", *opts, "OUTPUT_DIR", out]
                configs = (row.run.config,)
            runs.append(PlannedRun(row.name, seed, out, command, configs))
    return table, runs


def needed_datasets(runs):
    names = []
    for run in runs:
        for config in run.configs:
            cfg = load_config(config, check_files=False)
            for name in (*cfg.DATASETS.NAMES, *cfg.DATASETS.TESTS):
                if name not in names:
                    names.append(name)
    return names


def missing_datasets(runs):
    """[(name, expected layout)] of the data sets the runs need that are not present."""
    return [(name, f"$FASTREID_DATASETS/{LAYOUTS.get(name, '?')}") for name in needed_datasets(runs)
            if not is_present(name)]


def execute(runs, log=print):
    for run in runs:
        if run.done:
            log(f"skip (done): {run.row} seed {run.seed} -> {run.output_dir}")
            continue
        log(f"run: {run.row} seed {run.seed}\n  + {' '.join(run.command)}")
        ret = subprocess.run(run.command)
        if ret.returncode != 0:
            raise SystemExit(f"run failed ({ret.returncode}): {run.row} seed {run.seed}; "
                             f"see {run.output_dir}/log.txt")


def collect(table, runs):
    """Mean and std over seeds of every row/target/metric that has results."""
    values = {}
    for run in runs:
        if not run.done:
            continue
        with open(os.path.join(run.output_dir, "results.json")) as f:
            results = json.load(f)
        for target, metrics in results.items():
            for metric, value in metrics.items():
                values.setdefault(run.row, {}).setdefault(target, {}).setdefault(metric, []).append(value)
    mean = {r: {t: {m: float(np.mean(v)) for m, v in ms.items()} for t, ms in ts.items()}
            for r, ts in values.items()}
    std = {r: {t: {m: float(np.std(v)) for m, v in ms.items() if len(v) > 1} for t, ms in ts.items()}
           for r, ts in values.items()}
    return mean, std


def write_table(table, runs, path):
    mean, std = collect(table, runs)
    seeds = sorted({r.seed for r in runs if r.done})
    legend = "; paper: as published; Δ = ours - paper" if any(r.paper for r in table.rows) else ""
    text = (f"## {table.title}\n\nours: mean over seeds {seeds}" + (" (±std)" if len(seeds) > 1 else "")
            + legend + "\n\n" + format_comparison(table, mean, std) + "\n")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return text


def datasets_message(missing):
    lines = [f"missing data sets under FASTREID_DATASETS={os.path.abspath(datasets_root())}:"]
    lines += [f"  {name}: {layout}" for name, layout in missing]
    lines.append("  (--synthetic runs the same table structure on generated SynthPerson data)")
    return "\n".join(lines)
