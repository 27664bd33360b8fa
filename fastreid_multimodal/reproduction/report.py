"""Our numbers of a table: the mean and spread over seeds of the finished runs, the per-seed results
JSON (with every run's per-query APs, to bootstrap over queries), the markdown next to the paper's
(with the chance level on synthetic tables) and the significance of each step between consecutive
rows, paired by seed (``statistics``), with the minimum detectable difference of those seeds.
"""
import json
import os

import numpy as np

from ..engine.defaults import load_config
from ..errors import ConfigError, UserError
from ..evaluation.results import PER_QUERY_FILE
from ..evaluation.visualize import read_metrics
from ..utils.io import atomic_write_gzip_json, atomic_write_text, read_gzip_json
from .chance import chance_levels
from .paper_tables import format_comparison
from .statistics import MDD_SE, step

TRAINING = "training"  # the results JSON's pseudo-target of a table's training-log keys


def short_metric(metric):
    """results.json key -> results file key: Rank-1 -> R1, text2image/mAP -> t2i_mAP."""
    return metric.replace("text2image/", "t2i_").replace("Rank-", "R")


def last_logged(output_dir, keys):
    """{key: its value in the last record of OUTPUT_DIR/metrics.json that has it} (losses there
    are FastReID's median over its 20-iteration window); {} without the file or the keys."""
    try:
        series = read_metrics(os.path.join(output_dir, "metrics.json"), keys)
    except (ConfigError, UserError):
        return {}
    return {key: values[-1] for key, (_, values) in series.items()}


def collect_values(table, runs):
    """{row: {target: {metric: [one value per seed, in seed order]}}} of the runs with results
    (metric keys as in results.json), and under TRAINING the table's training-log keys where
    every finished run of the row logged them."""
    values, logged = {}, {}
    for run in sorted(runs, key=lambda r: r.seed):
        if not run.done:
            continue
        with open(os.path.join(run.output_dir, "results.json")) as f:
            results = json.load(f)
        for target, metrics in results.items():
            for metric, value in metrics.items():
                values.setdefault(run.row, {}).setdefault(target, {}).setdefault(metric, []).append(value)
        if table.training:
            logged.setdefault(run.row, []).append(last_logged(run.output_dir, table.training))
    for row, per_seed in logged.items():
        keys = [k for k in table.training if all(k in seed_values for seed_values in per_seed)]
        if keys:
            values[row][TRAINING] = {k: [seed_values[k] for seed_values in per_seed] for k in keys}
    return values


def collect_row_seeds(runs):
    """{row: [the seeds of its finished runs, ascending]}: the order of collect_values' lists."""
    seeds = {}
    for run in sorted(runs, key=lambda r: r.seed):
        if run.done:
            seeds.setdefault(run.row, []).append(run.seed)
    return seeds


def collect_per_query(runs):
    """{row: {target: {metric: [per seed (collect_row_seeds order): [AP per query] or None]}}}
    from each finished run's results_per_query.json (None: a run that has none, e.g. one
    trained before the file existed); metric keys shortened (mAP, t2i_mAP)."""
    per_seed = {}
    for run in sorted(runs, key=lambda r: r.seed):
        if not run.done:
            continue
        path = os.path.join(run.output_dir, PER_QUERY_FILE)
        data = {}
        if os.path.isfile(path):
            with open(path) as f:
                data = json.load(f)
        per_seed.setdefault(run.row, []).append(data)
    out = {}
    for row, runs_data in per_seed.items():
        keys = {(t, m) for d in runs_data for t, ms in d.items() for m in ms}
        for target, metric in sorted(keys):
            out.setdefault(row, {}).setdefault(target, {})[short_metric(metric)] = [
                d.get(target, {}).get(metric) for d in runs_data]
    return out


def _dumps(obj, indent=1, level=0):
    """JSON with ``indent`` per level, except lists of numbers (or of such lists, or nulls) on
    one line: the per-query APs stay readable in size (thousands of values per run)."""
    def flat(value):
        return isinstance(value, list) and all(
            v is None or isinstance(v, (int, float)) or flat(v) for v in value)
    if flat(obj) or not isinstance(obj, (dict, list)) or not obj:
        return json.dumps(obj)
    pad, inner = " " * (indent * level), " " * (indent * (level + 1))
    if isinstance(obj, dict):
        items = [f"{inner}{json.dumps(k)}: {_dumps(v, indent, level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    items = [inner + _dumps(v, indent, level + 1) for v in obj]
    return "[\n" + ",\n".join(items) + "\n" + pad + "]"


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


def write_results_json(table, runs, path, reference=None, keep=True):
    """The per-seed numbers a README table is printed from:
    {"title", "seeds", "rows": {row: {target: {metric: [per seed]}}}, "row_seeds": {row: [the
    seeds of those values]}, "pairing": "seed" | "position", "reference": {...},
    "per_query_ap": {row: {target: {metric: [per seed: [AP per query]]}}}}. With ``keep``, the
    cells the file held before and no finished run gives stay (``keep_recorded``)."""
    values = collect_values(table, runs)
    row_seeds = collect_row_seeds(runs)
    per_query = collect_per_query(runs)
    reported = _reported(table)
    rows = {name: {t: {short_metric(m): v for m, v in ms.items()}
                   for t, ms in values[name].items() if t in reported} for name in values}
    per_query = {name: {t: ms for t, ms in per_query.get(name, {}).items() if t in table.targets}
                 for name in values}
    if keep:  # the cells recorded before, whose run folders may be gone
        rows, row_seeds, per_query = keep_recorded(table, read_results_json(path), rows,
                                                   row_seeds, per_query)
    names = [row.name for row in table.rows if row.name in rows]
    data = {"title": table.title,
            "seeds": sorted({seed for name in names for seed in row_seeds[name]}),
            "targets": list(table.targets), "rows": {name: rows[name] for name in names},
            **({"training": list(table.training)} if table.training else {}),
            "row_seeds": {name: row_seeds[name] for name in names},
            "pairing": table.pairing,
            "reference": {name: {t: {short_metric(m): v for m, v in ms.items()}
                                 for t, ms in targets.items()}
                          for name, targets in (reference or {}).items()},
            "per_query_ap": {name: per_query.get(name, {}) for name in names}}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    # the per-query APs are most of the bytes: a compressed file beside the readable one
    atomic_write_gzip_json(per_query_path(path), data["per_query_ap"])
    atomic_write_text(path, _dumps({k: v for k, v in data.items() if k != "per_query_ap"}) + "\n")
    return data


def per_query_path(path):
    """Where the results JSON at ``path`` keeps its per-query APs: NAME.per_query.json.gz."""
    return path[:-len(".json")] + ".per_query.json.gz" if path.endswith(".json") else path + ".per_query.gz"


def _reported(table):
    """The targets a table's results JSON keeps: its test sets, and TRAINING where it logs keys."""
    return set(table.targets) | ({TRAINING} if table.training else set())


def read_results_json(path):
    """The results JSON at ``path`` with its per-query APs (from the file beside it, or inline as
    older files had them), or None when there is none."""
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        data = json.load(f)
    if "per_query_ap" not in data and os.path.isfile(per_query_path(path)):
        data["per_query_ap"] = read_gzip_json(per_query_path(path))
    return data


def recorded_seeds(data):
    """{row: [its seeds]} a results JSON holds (None: {})."""
    if not data:
        return {}
    return {row: _seeds_of(data, row, next(iter(next(iter(targets.values())).values())))
            for row, targets in data.get("rows", {}).items() if targets}


def keep_recorded(table, previous, rows, row_seeds, per_query):
    """The finished runs' values with the seeds ``previous`` (the results JSON as it was) holds
    and no finished run gives again: a table spans sessions whose run folders are gone, each
    cell recorded once. A run finished now replaces its recorded value; a recorded seed that
    lacks one of the row's metrics is left out (its row then has it trained again)."""
    rows, row_seeds, per_query = dict(rows), dict(row_seeds), dict(per_query)
    recorded = recorded_seeds(previous)
    for name in (row.name for row in table.rows):
        old_seeds = recorded.get(name) or []
        old, new_seeds = previous["rows"][name] if old_seeds else {}, row_seeds.get(name, [])
        targets = rows.get(name) or {t: ms for t, ms in old.items() if t in _reported(table)}
        carried = [s for s in old_seeds if s not in new_seeds and all(
            m in old.get(t, {}) for t, ms in targets.items() for m in ms)]
        if not carried:
            continue
        seeds = sorted(new_seeds + carried)
        old_pq = previous.get("per_query_ap", {}).get(name, {})
        new_pq = per_query.get(name, {})

        def by_seed(new_list, old_list, seed):
            if seed in new_seeds:
                return new_list[new_seeds.index(seed)] if new_list is not None else None
            at = old_seeds.index(seed)
            return old_list[at] if old_list is not None and at < len(old_list) else None
        rows[name] = {t: {m: [by_seed(rows.get(name, {}).get(t, {}).get(m), old[t][m], seed)
                              for seed in seeds] for m in ms} for t, ms in targets.items()}
        pq_keys = {(t, m) for src in (old_pq, new_pq) for t, ms in src.items() for m in ms}
        per_query[name] = {}
        for t, m in sorted(pq_keys):
            per_query[name].setdefault(t, {})[m] = [
                by_seed(new_pq.get(t, {}).get(m, [None] * len(new_seeds)), old_pq.get(t, {}).get(m), seed)
                for seed in seeds]
        row_seeds[name] = seeds
    return rows, row_seeds, per_query


def _seeds_of(data, row, values):
    """The seeds of a row's values: "row_seeds" when the JSON has them; in an older JSON, the
    table's seeds when the row has one value per seed; else None (unknown: not paired)."""
    if row in data.get("row_seeds", {}):
        return data["row_seeds"][row]
    return list(data["seeds"]) if len(values) == len(data["seeds"]) else None


def step_significance(data, metric, steps=None, targets=None, digits=1):
    """Markdown: for each pair of consecutive rows (the tables' intended order), per target, the
    mean of the per-seed differences and twice their standard error, paired by seed (or by
    position where the table says so); rows with different seed sets pair on the seeds both ran
    (two or more) or fall back to the unpaired 2 * sqrt(s1^2/n1 + s2^2/n2), and say which. "yes"
    when the difference exceeds 2 SE, "reversed" when it is below -2 SE. Then the minimum
    detectable difference, 2.8 SE, per step. ``targets``: those compared (the JSON's by default);
    ``digits``: decimals printed."""
    names = list(data["rows"])
    targets = targets or data["targets"]
    by_position = data.get("pairing") == "position"
    head = "| step | " + " | ".join(f"{t} {metric}: Δ (2SE)" for t in targets) + " |"
    rule = "|" + "---|" * (len(targets) + 1)
    lines, mdd_lines, unpaired = [head, rule], [
        "| step | " + " | ".join(f"{t} {metric}: MDD" for t in targets) + " |", rule], []
    for low, high in steps or zip(names, names[1:]):
        if low not in data["rows"] or high not in data["rows"]:
            continue
        cells, mdds = [f"{low} → {high}"], [f"{low} → {high}"]
        for target in targets:
            a = data["rows"][low].get(target, {}).get(metric) or []
            b = data["rows"][high].get(target, {}).get(metric) or []
            seeds_a, seeds_b = _seeds_of(data, low, a), _seeds_of(data, high, b)
            result = step(a, b, seeds_a, seeds_b, by_position)
            if result is None:
                cells.append("-")
                mdds.append("-")
                continue
            mark = "" if result.paired else " (unpaired)"
            if result.paired and not by_position and result.n < max(len(a), len(b)):
                mark = f" (paired on {result.n} seeds)"
            if not result.paired and all(u[:2] != (low, high) for u in unpaired):
                unpaired.append((low, high, seeds_a, seeds_b))
            cells.append(f"{result.diff:+.{digits}f} ({result.two_se:.{digits}f}) {result.verdict}{mark}")
            mdds.append(f"{result.mdd:.{digits}f}")
        lines.append("| " + " | ".join(cells) + " |")
        mdd_lines.append("| " + " | ".join(mdds) + " |")
    pairing = ("paired by position (the rows ran disjoint seed sets)" if by_position
               else "paired by seed")
    notes = [f"\nΔ: mean of the per-seed differences, {pairing}; 2SE: twice the standard error "
             "of those differences, std(d)/sqrt(n)."]
    for low, high, seeds_a, seeds_b in unpaired:
        notes.append(f"{low} → {high}: not paired, the rows ran different seeds ({seeds_a} vs "
                     f"{seeds_b}; None: unknown): unpaired 2SE = 2·sqrt(s1²/n1 + s2²/n2).")
    notes.append(f"\nMinimum detectable difference for these seeds, MDD = {MDD_SE} × SE of the "
                 "paired differences (unpaired SE where not paired): a true step that large is "
                 "found with about 80 % power by a two-sided 5 % test (1.96 + 0.84).\n")
    return "\n".join(lines + notes + mdd_lines)


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
    # rows that have finished fewer seeds than the table (an A/A row's own seed set is not that)
    fewer = {row: own for row, own in data.get("row_seeds", {}).items()
             if own and set(own) < set(seeds) and table.pairing == "seed"}
    only = "" if not fewer else " (" + "; ".join(
        f"{row}: {'seed' if len(own) == 1 else 'seeds'} {', '.join(map(str, own))} only"
        for row, own in fewer.items()) + ")"
    text = (f"## {table.title}\n\nmean ± sample std over seeds {seeds}{only}\n\n"
            + format_comparison(table, mean, std, reference) + "\n")
    for metric in dict.fromkeys(short_metric(m) for m in table.metrics if "mAP" in m):
        which = "Steps between rows" if table.steps else "Consecutive rows"
        text += (f"\n{which}, {metric}: the step and 2 standard errors\n\n"
                 + step_significance(data, metric, table.steps) + "\n")
    return text + _format_training(table, data, mean, std)


def _format_training(table, data, mean, std):
    """The training-log keys' table (mean ± std over seeds) and its steps, when the JSON has them."""
    keys = [k for k in data.get("training", []) if any(k in ts.get(TRAINING, {})
                                                        for ts in data["rows"].values())]
    if not keys:
        return ""
    lines = ["| row | " + " | ".join(keys) + " |", "|" + "---|" * (len(keys) + 1)]
    for row in data["rows"]:
        cells = []
        for key in keys:
            value = mean.get(row, {}).get(TRAINING, {}).get(key)
            spread = std.get(row, {}).get(TRAINING, {}).get(key)
            cells.append("-" if value is None else f"{value:.3f}" + (
                "" if spread is None else f"±{spread:.3f}"))
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    text = ("\nTraining log at the last step (metrics.json's last record: FastReID's median over "
            "20 iterations), mean ± sample std over seeds; a loss that falls from one row to the "
            "next shows as a negative Δ, \"reversed\" beyond 2SE\n\n" + "\n".join(lines) + "\n")
    for key in keys:
        text += (f"\nSteps between rows, {key}: the step and 2 standard errors\n\n"
                 + step_significance(data, key, table.steps, targets=[TRAINING], digits=3) + "\n")
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
