"""Planning, running and tabulating the runs a paper table needs (tools/reproduce.py).

Runs live in ``<output>/<table>[-synthetic]/<row>_s<seed>``; a run whose results.json exists is
skipped, so an interrupted reproduction continues, and a run two tables share (the same configs and
options) lives under the first of them and is trained once. Missing data sets are reported before
anything runs. ``jobs`` > 1 trains that many runs at once, the CPU threads split between them.
"""
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np

from ..data.layouts import LAYOUTS, datasets_root, is_present
from ..engine.defaults import load_config
from ..utils.io import atomic_write_json, atomic_write_text
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


def _run_dir(output_dir, run, synthetic, seed):
    """The run's folder, named after the first table (in TABLES order) with the same run."""
    for name, table in TABLES.items():
        chosen = table.synthetic if synthetic else table
        for row in chosen.rows if chosen else ():
            if row.run == run:
                return os.path.join(output_dir, name + ("-synthetic" if synthetic else ""),
                                    f"{_slug(row.name)}_s{seed}")
    raise KeyError(run)


def plan(table_name, output_dir, synthetic=False, seeds=(0,), extra_opts=()):
    table = select(table_name, synthetic)
    runs = []
    # seed by seed: an interrupted reproduction has every row for its finished seeds
    for seed in seeds:
        for row in table.rows:
            out = _run_dir(output_dir, row.run, synthetic, seed)
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


def _datasets_of(runs):
    """(name, config of its first run) of every data set the runs train or test on, in order."""
    seen = set()
    for run in runs:
        for config in run.configs:
            cfg = load_config(config, check_files=False)
            for name in (*cfg.DATASETS.NAMES, *cfg.DATASETS.TESTS):
                if name not in seen:
                    seen.add(name)
                    yield name, cfg


def needed_datasets(runs):
    return [name for name, _ in _datasets_of(runs)]


def missing_datasets(runs):
    """[(name, expected layout)] of the data sets the runs need that are not present."""
    return [(name, f"$FASTREID_DATASETS/{LAYOUTS.get(name, '?')}") for name in needed_datasets(runs)
            if not is_present(name)]


def prepare_synthetic_data(runs):
    """Render the SynthPerson domains the runs need once, before parallel runs would race to."""
    from fastreid.data.datasets import DATASET_REGISTRY
    for name, cfg in _datasets_of(runs):
        if name.startswith("SynthPerson"):
            DATASET_REGISTRY.get(name)(root=datasets_root(), dataset_cfg=cfg)


def _child_env(jobs):
    env = dict(os.environ)
    if jobs > 1 and "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))
    return env


def execute(runs, jobs=1, log=print):
    """Train every run without results, ``jobs`` at a time. With jobs > 1 each run's console
    goes to <run>/console.log. Returns {output_dir: seconds} of the runs trained now."""
    todo, planned = [], set()
    for run in runs:
        if run.done:
            log(f"skip (done): {run.row} seed {run.seed} -> {run.output_dir}")
        elif run.output_dir not in planned:
            planned.add(run.output_dir)
            todo.append(run)
    if jobs > 1 and todo:
        prepare_synthetic_data(todo)
    env, active, seconds, failed = _child_env(jobs), [], {}, []

    def finish(entry):
        run, proc, started, console = entry
        proc.wait()
        active.remove(entry)
        if console:
            console.close()
        seconds[run.output_dir] = time.time() - started
        state = "done" if proc.returncode == 0 else f"FAILED ({proc.returncode})"
        log(f"{state}: {run.row} seed {run.seed} in {seconds[run.output_dir]:.0f} s")
        if proc.returncode != 0:
            failed.append(run)

    for run in todo:
        while len(active) >= jobs:
            ended = [entry for entry in active if entry[1].poll() is not None]
            for entry in ended:
                finish(entry)
            if not ended:
                time.sleep(1)
        if failed:  # no new runs after a failure; the running ones finish
            break
        if run.done:  # finished meanwhile by another reproduction sharing the run
            log(f"skip (done meanwhile): {run.row} seed {run.seed} -> {run.output_dir}")
            continue
        log(f"run: {run.row} seed {run.seed}\n  + {' '.join(run.command)}")
        console = None
        if jobs > 1:
            os.makedirs(run.output_dir, exist_ok=True)
            console = open(os.path.join(run.output_dir, "console.log"), "a")
        proc = subprocess.Popen(run.command, env=env, stdout=console, stderr=console)
        active.append((run, proc, time.time(), console))
    for entry in list(active):
        finish(entry)
    if failed:
        where = "console.log" if jobs > 1 else "log.txt"
        raise SystemExit("runs failed: " + "; ".join(
            f"{run.row} seed {run.seed} (see {run.output_dir}/{where})" for run in failed))
    return seconds


def short_metric(metric):
    """results.json key -> results file key: Rank-1 -> R1, text2image/mAP -> t2i_mAP."""
    return metric.replace("text2image/", "t2i_").replace("Rank-", "R")


def collect_values(table, runs):
    """{row: {target: {metric: [one value per seed, in seed order]}}} of the runs with results
    (metric keys as in results.json)."""
    values = {}
    for run in sorted(runs, key=lambda r: r.seed):
        if not run.done:
            continue
        with open(os.path.join(run.output_dir, "results.json")) as f:
            results = json.load(f)
        for target, metrics in results.items():
            for metric, value in metrics.items():
                values.setdefault(run.row, {}).setdefault(target, {}).setdefault(metric, []).append(value)
    return values


def summarize(values):
    """Mean and sample standard deviation (ddof 1) over seeds of every row/target/metric."""
    mean = {r: {t: {m: float(np.mean(v)) for m, v in ms.items()} for t, ms in ts.items()}
            for r, ts in values.items()}
    std = {r: {t: {m: float(np.std(v, ddof=1)) for m, v in ms.items() if len(v) > 1}
               for t, ms in ts.items()} for r, ts in values.items()}
    return mean, std


def collect(table, runs):
    """Mean and std over seeds of every row/target/metric that has results."""
    return summarize(collect_values(table, runs))


def write_results_json(table, runs, path, reference=None):
    """The per-seed numbers a README table is printed from:
    {"title", "seeds", "rows": {row: {target: {metric: [per seed]}}}, "reference": {...}}."""
    values = collect_values(table, runs)
    rows = {row.name: {t: {short_metric(m): v for m, v in ms.items()}
                       for t, ms in values.get(row.name, {}).items() if t in table.targets}
            for row in table.rows if row.name in values}
    data = {"title": table.title, "seeds": sorted({r.seed for r in runs if r.done}),
            "targets": list(table.targets), "rows": rows,
            "reference": {name: {t: {short_metric(m): v for m, v in ms.items()}
                                 for t, ms in targets.items()}
                          for name, targets in (reference or {}).items()}}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write_json(path, data, indent=1)
    return data


def step_significance(data, metric):
    """Markdown: for each pair of consecutive rows (the tables' intended order), per target, the
    difference of the means and twice the standard error of that difference,
    2 * sqrt(s1^2/n1 + s2^2/n2) (sample std over seeds); "yes" when the difference exceeds it."""
    names = list(data["rows"])
    targets = data["targets"]
    lines = ["| step | " + " | ".join(f"{t} {metric}: Δ (2SE)" for t in targets) + " |",
             "|" + "---|" * (len(targets) + 1)]
    for low, high in zip(names, names[1:]):
        cells = [f"{low} → {high}"]
        for target in targets:
            a = data["rows"][low].get(target, {}).get(metric)
            b = data["rows"][high].get(target, {}).get(metric)
            if not a or not b or len(a) < 2 or len(b) < 2:
                cells.append("-")
                continue
            diff = float(np.mean(b) - np.mean(a))
            two_se = 2 * float(np.sqrt(np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b)))
            verdict = "yes" if diff > two_se else ("no" if diff >= -two_se else "reversed")
            cells.append(f"{diff:+.1f} ({two_se:.1f}) {verdict}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_results_json(table, data):
    """The README table (mean±std per row) and its significance steps, from a results JSON."""
    values = {row: {t: {m: v for m, v in ms.items()} for t, ms in targets.items()}
              for row, targets in data["rows"].items()}
    long_name = {short_metric(m): m for m in table.metrics}
    keyed = {row: {t: {long_name.get(m, m): v for m, v in ms.items()} for t, ms in ts.items()}
             for row, ts in values.items()}
    mean, std = summarize(keyed)
    reference = {name: {t: {long_name.get(m, m): v for m, v in ms.items()} for t, ms in ts.items()}
                 for name, ts in data.get("reference", {}).items()}
    seeds = data["seeds"]
    text = (f"## {table.title}\n\nmean ± sample std over seeds {seeds}\n\n"
            + format_comparison(table, mean, std, reference) + "\n")
    for metric in dict.fromkeys(short_metric(m) for m in table.metrics if "mAP" in m):
        text += (f"\nConsecutive rows, {metric}: difference of means and 2 standard errors\n\n"
                 + step_significance(data, metric) + "\n")
    return text


def chance_reference(table, runs):
    """{"chance (random ranking)": target -> metrics} from the test sets of the runs' config."""
    from .chance import chance_levels
    cfg = load_config(runs[0].configs[-1], check_files=False)
    return {"chance (random ranking)": chance_levels(cfg, table.targets)}


def write_table(table, runs, path, reference=None):
    mean, std = collect(table, runs)
    seeds = sorted({r.seed for r in runs if r.done})
    legend = "; paper: as published; Δ = ours - paper" if any(r.paper for r in table.rows) else ""
    text = (f"## {table.title}\n\nours: mean over seeds {seeds}" + (" (±std)" if len(seeds) > 1 else "")
            + legend + "\n\n" + format_comparison(table, mean, std, reference) + "\n")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write_text(path, text)
    return text


def datasets_message(missing):
    lines = [f"missing data sets under FASTREID_DATASETS={os.path.abspath(datasets_root())}:"]
    lines += [f"  {name}: {layout}" for name, layout in missing]
    lines.append("  (--synthetic runs the same table structure on generated SynthPerson data)")
    return "\n".join(lines)
