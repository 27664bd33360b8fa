import numpy as np

from fastreid_multimodal.evaluation import format_table, read_results, write_results


def test_table_and_json_round_trip(tmp_path):
    results = {"campus": {"Rank-1": np.float32(81.25), "Rank-5": 90.0, "Rank-10": 95.0,
                          "mAP": 60.5, "mINP": 30.0, "dataset": "campus"},
               "winter": {"Rank-1": 40.0, "mAP": 20.04}}
    table = format_table(results)
    assert table.splitlines()[2] == "| campus | 81.2 | 90.0 | 95.0 | 60.5 | 30.0 |"
    assert table.splitlines()[3] == "| winter | 40.0 | - | - | 20.0 | - |"
    write_results(results, str(tmp_path))
    back = read_results(str(tmp_path))
    assert back["campus"]["Rank-1"] == 81.25 and "dataset" not in back["campus"]
    assert (tmp_path / "results.md").read_text().startswith("| target |")
