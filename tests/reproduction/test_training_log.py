"""A table can report what the training logged (e.g. whether ITM learned within the run): the last
metrics.json record of each run, per seed in the results JSON, with paired steps between rows."""
import json
import os

from fastreid_multimodal.reproduction.paper_tables import MAP, R1, Row, Run, Table
from fastreid_multimodal.reproduction.planning import PlannedRun
from fastreid_multimodal.reproduction.report import (TRAINING, format_results_json, read_results_json,
                                                     write_results_json)

TABLE = Table("t", ("T",), (MAP, R1), (Row("cosine", Run("train", "a.yml")),
                                        Row("constant", Run("train", "b.yml"))),
              training=("loss_itm",))


def finished(tmp_path, row, seed, m_ap, itm_losses):
    """A run folder with results and a metrics.json whose records log ``itm_losses`` in order."""
    out = tmp_path / "runs" / f"{row}_s{seed}"
    os.makedirs(out)
    (out / "results.json").write_text(json.dumps({"T": {"mAP": m_ap, "Rank-1": m_ap + 10}}))
    if itm_losses is not None:
        records = [{"iteration": 20 * i, "loss_itm": loss, "lr": 1e-4} for i, loss in enumerate(itm_losses)]
        records.insert(1, {"iteration": 25, "lr": 1e-4})  # a record without the key
        (out / "metrics.json").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return PlannedRun(row, seed, str(out), [], ())


def test_the_last_logged_value_per_seed_lands_in_the_results_json(tmp_path):
    runs = [finished(tmp_path, "cosine", s, 40.0 + s, [0.69, 0.64, v]) for s, v in enumerate((0.637, 0.636, 0.635))] \
        + [finished(tmp_path, "constant", s, 41.0 + s, [0.69, 0.5, v]) for s, v in enumerate((0.4, 0.41, 0.42))]
    path = str(tmp_path / "t.json")
    data = write_results_json(TABLE, runs, path)
    assert data["training"] == ["loss_itm"]
    assert data["rows"]["cosine"][TRAINING]["loss_itm"] == [0.637, 0.636, 0.635]
    assert data["rows"]["constant"][TRAINING]["loss_itm"] == [0.4, 0.41, 0.42]
    text = format_results_json(TABLE, read_results_json(path))
    assert "| constant | 0.410±0.010 |" in text and "| cosine | 0.636±0.001 |" in text
    # paired by seed: d = -0.237, -0.226, -0.215; 2SE = 2 * 0.011 / sqrt(3) = 0.013
    assert "| cosine → constant | -0.226 (0.013) reversed |" in text


def test_a_row_without_the_key_reports_none_and_the_cells_survive_a_fresh_machine(tmp_path):
    runs = [finished(tmp_path, "cosine", s, 40.0, None) for s in range(2)] \
        + [finished(tmp_path, "constant", 0, 41.0, [0.5]), finished(tmp_path, "constant", 1, 42.0, None)]
    path = str(tmp_path / "t.json")
    data = write_results_json(TABLE, runs, path)
    # a key only some seeds logged is left out: its values would not line up with the seeds
    assert TRAINING not in data["rows"]["cosine"] and TRAINING not in data["rows"]["constant"]
    later = finished(tmp_path, "constant", 2, 43.0, [0.45])
    runs2 = [finished(tmp_path / "x", "constant", s, 41.0, [v]) for s, v in enumerate((0.5, 0.6))]
    write_results_json(TABLE, runs2, path)
    for run in runs2:
        os.remove(os.path.join(run.output_dir, "results.json"))
    data = write_results_json(TABLE, [later], path)  # seeds 0-1 recorded, seed 2 new
    assert data["rows"]["constant"][TRAINING]["loss_itm"] == [0.5, 0.6, 0.45]
