"""A table spans sessions: the cells its results JSON records are kept and not trained again,
even when their run folders are gone (another session, another machine)."""
import json
import os

from fastreid_multimodal.reproduction.paper_tables import MAP, R1, Row, Run, Table
from fastreid_multimodal.reproduction.planning import PlannedRun
from fastreid_multimodal.reproduction.report import (read_results_json, recorded_seeds,
                                                     write_results_json)

TABLE = Table("t", ("T",), (MAP, R1), (Row("a", Run("train", "a.yml")), Row("b", Run("train", "b.yml"))))


def finished(tmp_path, row, seed, m_ap, per_query=None):
    out = tmp_path / "runs" / f"{row}_s{seed}"
    os.makedirs(out)
    (out / "results.json").write_text(json.dumps({"T": {"mAP": m_ap, "Rank-1": m_ap + 10}}))
    if per_query is not None:
        (out / "results_per_query.json").write_text(json.dumps({"T": {"mAP": per_query}}))
    return PlannedRun(row, seed, str(out), [], ())


def test_recorded_cells_stay_and_a_new_run_replaces_its_own(tmp_path):
    path = str(tmp_path / "t.json")
    first = [finished(tmp_path, "a", 0, 50.0, [40.0, 60.0]), finished(tmp_path, "a", 1, 52.0, [50.0, 54.0]),
             finished(tmp_path, "b", 0, 30.0)]
    write_results_json(TABLE, first, path)
    for run in first:  # the run folders are gone (a fresh machine)
        os.remove(os.path.join(run.output_dir, "results.json"))
    later = finished(tmp_path, "a", 2, 48.0, [47.0, 49.0])
    rerun = PlannedRun("a", 1, str(tmp_path / "runs" / "a_again"), [], ())
    os.makedirs(rerun.output_dir)
    with open(os.path.join(rerun.output_dir, "results.json"), "w") as f:
        json.dump({"T": {"mAP": 53.0, "Rank-1": 63.0}}, f)
    data = write_results_json(TABLE, [later, rerun], path)
    assert data["row_seeds"] == {"a": [0, 1, 2], "b": [0]} and data["seeds"] == [0, 1, 2]
    assert data["rows"]["a"]["T"]["mAP"] == [50.0, 53.0, 48.0]  # seed 1 from the new run
    assert data["rows"]["a"]["T"]["R1"] == [60.0, 63.0, 58.0]
    assert data["rows"]["b"]["T"] == {"mAP": [30.0], "R1": [40.0]}
    assert data["per_query_ap"]["a"]["T"]["mAP"] == [[40.0, 60.0], None, [47.0, 49.0]]
    assert list(data["rows"]) == ["a", "b"]  # the table's order
    assert recorded_seeds(read_results_json(path)) == {"a": [0, 1, 2], "b": [0]}
    # without keep (other options on the command line: other models), only the runs count
    assert write_results_json(TABLE, [rerun], path, keep=False)["row_seeds"] == {"a": [1]}


def test_a_recorded_cell_is_not_trained_again(tool, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "aa-synthetic.json").write_text(json.dumps({
        "seeds": [0], "rows": {"A: seeds 0-4": {"SynthPersonCampus": {"mAP": [50.0]}}},
        "row_seeds": {"A: seeds 0-4": [0]}}))
    run = tool("reproduce.py", "--table", "aa", "--synthetic", "--seeds", "0", "1", "--dry-run",
               "--results-dir", str(results), "--output-dir", str(tmp_path / "out"))
    assert run.returncode == 0, run.stderr
    assert "[recorded] A: seeds 0-4 (seed 0)" in run.stdout
    assert "[todo] A: seeds 0-4 (seed 1)" in run.stdout and "[todo] A': seeds 5-9 (seed 5)" in run.stdout
    assert "1 recorded in" in run.stdout
