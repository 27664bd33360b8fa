"""Our numbers of a table: the mean and spread over seeds of the finished runs, the per-seed results
JSON, the markdown next to the paper's (with the chance level on synthetic tables) and the
significance of each step between consecutive rows.
"""
import json
import os

import numpy as np

from ..engine.defaults import load_config
from ..utils.io import atomic_write_json, atomic_write_text
from .chance import chance_levels
from .paper_tables import format_comparison


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
