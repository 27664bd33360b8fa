"""Paired steps between rows, the unpaired fallback, the minimum detectable difference, per-query
APs in the results JSON and the A/A calibration table."""
import json
import os

import numpy as np
import pytest

from fastreid_multimodal.reproduction.paper_tables import MAP, R1
from fastreid_multimodal.reproduction.planning import plan, select
from fastreid_multimodal.reproduction.report import (format_results_json, read_results_json,
                                                     step_significance, write_results_json)
from fastreid_multimodal.reproduction.statistics import (MDD_SE, paired_step, step,
                                                         unpaired_step)

A = [30.0, 34.0, 29.0, 35.0, 32.0]
B = [31.0, 36.0, 29.5, 37.0, 33.5]  # every seed a little better; seeds vary much more


def test_paired_step_is_the_hand_computed_value():
    # d = (1, 2, 0.5, 2, 1.5): mean 1.4, std (ddof 1) sqrt(0.425), SE = sqrt(0.425 / 5)
    result = paired_step(A, B)
    se = np.sqrt(0.425 / 5)
    assert result.diff == pytest.approx(1.4)
    assert result.two_se == pytest.approx(2 * se)
    assert result.mdd == pytest.approx(2.8 * se) and MDD_SE == 2.8
    assert result.paired and result.n == 5 and result.verdict == "yes"
    # unpaired, the seed-to-seed spread hides the same step
    loose = unpaired_step(A, B)
    assert loose.two_se == pytest.approx(2 * np.sqrt(np.var(A, ddof=1) / 5 + np.var(B, ddof=1) / 5))
    assert loose.verdict == "no" and not loose.paired
    assert paired_step(B, A).verdict == "reversed"
    assert paired_step([1.0], [2.0]) is None


def test_rows_with_other_seeds_pair_on_the_common_ones_else_fall_back_to_unpaired():
    assert step(A, B, [0, 1, 2, 3, 4], [0, 1, 2, 3, 4]).paired
    common = step(A, B, [0, 1, 2, 3, 4], [0, 1, 2, 3, 5])  # seeds 0-3 in both
    assert common.paired and common.n == 4
    assert common.diff == pytest.approx(np.mean(np.subtract(B[:4], A[:4])))
    shuffled = step(A[:3], [B[2], B[0], B[1]], [0, 1, 2], [2, 0, 1])  # values follow their seeds
    assert shuffled.paired and shuffled.diff == pytest.approx(np.mean(np.subtract(B[:3], A[:3])))
    assert step(A, B[:4], [0, 1, 2, 3, 4], [0, 1, 2, 3]).n == 4
    assert not step(A[:2], B[:2], [0, 1], [1, 2]).paired      # one common seed: no paired SE
    assert not step(A, B, [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]).paired
    assert not step(A, B, None, [0, 1, 2, 3, 4]).paired       # seeds unknown
    assert step(A, B, [0, 1, 2, 3, 4], [5, 6, 7, 8, 9], by_position=True).paired
    # a metric the row does not have (text->image of an image-only model): no values, no step
    assert step([], B[:3], [0, 1, 2], [0, 1, 2]) is None
    assert step(A[:3], [], [0, 1, 2], [0, 1, 2]) is None


def _data(rows, row_seeds=None, pairing="seed"):
    data = {"title": "t", "seeds": sorted({s for v in (row_seeds or {}).values() for s in v})
            or [0, 1, 2, 3, 4], "targets": ["T"],
            "rows": {name: {"T": {"mAP": values}} for name, values in rows.items()},
            "pairing": pairing}
    if row_seeds is not None:
        data["row_seeds"] = row_seeds
    return data


def test_the_printed_steps_say_paired_unpaired_and_mdd():
    paired = step_significance(_data({"a": A, "b": B}), "mAP")
    assert "| a → b | +1.4 (0.6) yes |" in paired and "(unpaired)" not in paired
    assert "MDD = 2.8 × SE" in paired and "80 % power" in paired
    assert f"| a → b | {2.8 * np.sqrt(0.425 / 5):.1f} |" in paired  # the MDD table
    common = step_significance(_data({"a": A, "b": B[:4]},
                                     {"a": [0, 1, 2, 3, 4], "b": [0, 1, 2, 4]}), "mAP")
    assert "(paired on 4 seeds)" in common and "(unpaired)" not in common
    other = step_significance(_data({"a": A, "b": B[:4]},
                                    {"a": [0, 1, 2, 3, 4], "b": [5, 6, 7, 8]}), "mAP")
    assert "(unpaired)" in other and "not paired, the rows ran different seeds" in other
    assert "2·sqrt(s1²/n1 + s2²/n2)" in other


def test_an_older_json_without_row_seeds_pairs_complete_rows():
    data = _data({"a": A, "b": B})  # no "row_seeds": every row has one value per seed
    assert "(unpaired)" not in step_significance(data, "mAP")
    data["rows"]["b"]["T"]["mAP"] = B[:3]
    assert "(unpaired)" in step_significance(data, "mAP")


def _finish(run, metrics, per_query=None):
    os.makedirs(run.output_dir, exist_ok=True)
    json.dump(metrics, open(os.path.join(run.output_dir, "results.json"), "w"))
    if per_query is not None:
        json.dump(per_query, open(os.path.join(run.output_dir, "results_per_query.json"), "w"))


def test_per_query_ap_reaches_the_results_json(tmp_path):
    table, runs = plan("mmet-2", str(tmp_path / "out"), synthetic=True, seeds=(0, 1))
    for run in runs:
        aps = [10.0 * (run.seed + 1), 30.0, 50.0]
        _finish(run, {"SynthPersonCampus": {MAP: float(np.mean(aps)), R1: 50.0,
                                            "text2image/mAP": 5.0}},
                {"SynthPersonCampus": {"mAP": aps, "text2image/mAP": [5.0, 5.0]},
                 "NotATarget": {"mAP": [1.0]}})
    os.remove(os.path.join(runs[0].output_dir, "results_per_query.json"))  # an older run
    path = str(tmp_path / "results.json")
    data = write_results_json(table, runs, path)
    assert read_results_json(path) == data
    assert data["row_seeds"]["MMM"] == [0, 1] and data["pairing"] == "seed"
    per_query = data["per_query_ap"]["MMM"]["SynthPersonCampus"]
    assert set(data["per_query_ap"]["MMM"]) == {"SynthPersonCampus"}
    assert per_query["mAP"] == [[10.0, 30.0, 50.0], [20.0, 30.0, 50.0]]
    mim = data["per_query_ap"]["MIM only"]["SynthPersonCampus"]
    assert mim["mAP"] == [None, [20.0, 30.0, 50.0]] and mim["t2i_mAP"] == [None, [5.0, 5.0]]
    # each seed's per-query APs average to that seed's reported mAP
    assert np.mean(mim["mAP"][1]) == pytest.approx(data["rows"]["MIM only"]["SynthPersonCampus"]["mAP"][1])
    assert open(path).read().count("\n") < 200  # per-query lists stay on one line each


def test_aa_table_pairs_disjoint_seeds_by_position(tmp_path, tool):
    table = select("aa", synthetic=True)
    assert table.pairing == "position" and [r.seed_offset for r in table.rows] == [0, 5]
    _, runs = plan("aa", str(tmp_path / "out"), synthetic=True, seeds=(0, 1, 2))
    assert [(r.row, r.seed) for r in runs] == [("A: seeds 0-4", 0), ("A': seeds 5-9", 5),
                                               ("A: seeds 0-4", 1), ("A': seeds 5-9", 6),
                                               ("A: seeds 0-4", 2), ("A': seeds 5-9", 7)]
    assert len({r.output_dir for r in runs}) == 6
    for run, value in zip(runs, (20.0, 21.0, 24.0, 23.5, 22.0, 22.0)):
        _finish(run, {"SynthPersonCampus": {MAP: value, R1: value}})
    data = write_results_json(table, runs, str(tmp_path / "aa.json"))
    assert data["row_seeds"] == {"A: seeds 0-4": [0, 1, 2], "A': seeds 5-9": [5, 6, 7]}
    text = format_results_json(table, data)
    assert "paired by position" in text and "(unpaired)" not in text
    assert "mean ± sample std over seeds [0, 1, 2, 5, 6, 7]\n" in text  # each row has its own three
    # d = (1, -0.5, 0): +0.2, SE = std(d)/sqrt(3) = 0.441 -> 2SE 0.9, no
    assert "| A: seeds 0-4 → A': seeds 5-9 | +0.2 (0.9) no |" in text
    run = tool("reproduce.py", "--table", "aa", "--synthetic", "--dry-run", "--output-dir",
               tmp_path / "fresh", "--results-dir", tmp_path / "none")  # nothing finished or recorded
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("[todo]") == 10 and "(seed 9)" in run.stdout
    run = tool("reproduce.py", "--table", "aa", "--dry-run")
    assert run.returncode == 2 and run.stderr.strip() == "error: --table aa exists only with --synthetic"


def test_a_row_with_fewer_seeds_says_which_it_has(tmp_path):
    table = select("dmf-stage1", synthetic=True)
    _, runs = plan("dmf-stage1", str(tmp_path / "out"), synthetic=True, seeds=(0, 1))
    for run in runs:
        if run.seed == 0 or run.row == table.rows[0].name:
            _finish(run, {name: {MAP: 50.0, R1: 60.0} for name in table.targets})
    data = write_results_json(table, runs, str(tmp_path / "t.json"))
    header = format_results_json(table, data).splitlines()[2]
    assert header.startswith("mean ± sample std over seeds [0, 1] (text + image (DMF), after stage I: "
                             "seed 0 only; ")
    assert table.rows[0].name + ":" not in header


def test_a_table_can_name_its_steps_beyond_consecutive_rows():
    data = _data({"none": A, "anchor": B, "dmf": [a + 3.0 for a in A]})
    steps = step_significance(data, "mAP", steps=(("none", "dmf"), ("anchor", "dmf")))
    assert "| none → dmf | +3.0 (0.0) yes |" in steps
    assert "| anchor → dmf | +1.6" in steps
    assert "none → anchor" not in steps  # only the named steps


def test_dmf_table_compares_the_stock_baseline_with_dmf():
    table = select("dmf-1", True)
    names = [row.name for row in table.rows]
    assert names[4].startswith("stock Baseline") and table.steps[3] == (names[4], names[3])
    assert [s for s in table.steps[:3]] == list(zip(names[:3], names[1:4]))
    # ours: DMF with the captions' share weighted, against image-only, plain DMF and the anchor
    assert table.steps[4:] == ((names[2], names[5]), (names[3], names[5]), (names[4], names[5]))
    anchor = table.rows[4].run
    assert anchor.pretrain == "configs/Demo/baseline_stage1_synth.yml" and anchor.variant == "image"
