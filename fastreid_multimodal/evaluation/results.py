"""The results table of a run: R1/R5/R10/mAP/mINP per target data set, as markdown and JSON."""
import json
import numbers
import os
from collections import OrderedDict

from ..utils.io import atomic_write_json, atomic_write_text

COLUMNS = (("Rank-1", "R1"), ("Rank-5", "R5"), ("Rank-10", "R10"), ("mAP", "mAP"), ("mINP", "mINP"))


def format_table(results):
    """Markdown table; ``results`` maps target name -> FastReID metric dict (percentages)."""
    lines = ["| target | " + " | ".join(short for _, short in COLUMNS) + " |",
             "|---" * (len(COLUMNS) + 1) + "|"]
    for target, metrics in results.items():
        cells = [f"{float(metrics[key]):.1f}" if key in metrics else "-" for key, _ in COLUMNS]
        lines.append(f"| {target} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def results_per_target(cfg, results):
    """{target: metrics} of FastReID's test() results (flat for a single DATASETS.TESTS entry)."""
    tests = list(cfg.DATASETS.TESTS)
    if len(tests) == 1 and not isinstance(next(iter(results.values()), None), dict):
        return OrderedDict([(tests[0], results)])
    return OrderedDict(results)


def write_results(results, output_dir):
    """Write results.md and results.json (atomically) into ``output_dir``; returns their paths."""
    os.makedirs(output_dir, exist_ok=True)
    clean = {target: {k: float(v) for k, v in metrics.items() if isinstance(v, numbers.Real)}
             for target, metrics in results.items()}
    md_path = os.path.join(output_dir, "results.md")
    json_path = os.path.join(output_dir, "results.json")
    atomic_write_text(md_path, format_table(clean) + "\n")
    atomic_write_text(json_path, json.dumps(clean, indent=2) + "\n")
    return md_path, json_path


PER_QUERY_FILE = "results_per_query.json"


def write_per_query(per_query, output_dir):
    """Write results_per_query.json (atomically): {target: {metric: [AP in percent of every
    query with a match, in query order]}}, metric "mAP" (image->image) or "text2image/mAP" —
    what tools/reproduce.py copies into a table's results JSON to bootstrap over queries.
    Returns its path (None when there is nothing to write)."""
    if not per_query:
        return None
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, PER_QUERY_FILE)
    atomic_write_json(path, {target: {metric: [round(float(ap), 4) for ap in aps]
                                      for metric, aps in metrics.items()}
                             for target, metrics in per_query.items()})
    return path


def read_results(output_dir):
    with open(os.path.join(output_dir, "results.json")) as f:
        return json.load(f)


def publish_results(source_dir, output_dir):
    """A finished evaluation's results (and per-query APs) from ``source_dir`` into ``output_dir``:
    the per-query file first, because results.json marks a tools/ run done. Returns the results."""
    results = read_results(source_dir)
    per_query = os.path.join(source_dir, PER_QUERY_FILE)
    if os.path.isfile(per_query):
        with open(per_query) as f:
            atomic_write_json(os.path.join(output_dir, PER_QUERY_FILE), json.load(f))
    write_results(results, output_dir)
    return results
