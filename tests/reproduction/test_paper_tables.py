"""Paper numbers transcribed correctly; the comparison table's deltas; reproduce planning."""
import json
import os
import re
import sys

import pytest

from fastreid_multimodal.errors import ConfigError
from fastreid_multimodal.reproduction.execution import execute
from fastreid_multimodal.reproduction.paper_tables import MAP, R1, TABLES, format_comparison
from fastreid_multimodal.reproduction.planning import (
    PlannedRun, choose_rows, missing_datasets, needed_datasets, plan, prepare_synthetic_data, select)
from fastreid_multimodal.reproduction.report import (
    collect, format_results_json, read_results_json, step_significance, write_results_json,
    write_table)

PAPERS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "papers.md")


@pytest.mark.skipif(not os.path.isfile(PAPERS), reason="shared/papers.md not beside the checkout")
def test_dmf_table1_matches_papers_md():
    text = open(PAPERS).read()
    names = {"none (baseline)": "none (baseline)", "text only": "text only",
             "image only": "image only", "text + image (DMF)": "text + image (DMF)"}
    table = TABLES["dmf-1"]
    for row in table.rows:
        line = re.search(r"^\| " + re.escape(names[row.name]) + r" \|(.*)\|$", text, re.M).group(1)
        pairs = [tuple(map(float, cell.split("/"))) for cell in line.split("|")]
        for target, (r1, m) in zip(table.targets, pairs):
            assert row.paper[target] == {R1: r1, MAP: m}, (row.name, target)


@pytest.mark.skipif(not os.path.isfile(PAPERS), reason="shared/papers.md not beside the checkout")
def test_prose_tables_match_papers_md():
    text = " ".join(open(PAPERS).read().split())  # prose wraps across lines
    assert "CUHK03 23.4 / 22.6, MSMT17 50.6 / 21.5" in text
    assert TABLES["dmf-2"].rows[0].paper == {"CUHK03": {R1: 23.4, MAP: 22.6},
                                             "MSMT17": {R1: 50.6, MAP: 21.5}}
    assert "Market 82.6 / 58.8, CUHK03 34.0 / 32.1" in text
    assert TABLES["dmf-3"].rows[1].paper["CUHK03"] == {R1: 34.0, MAP: 32.1}
    # MMET tables are mAP / R1
    assert "Market1501 — baseline 15.4 / 38.9" in text
    assert TABLES["mmet-1"].rows[0].paper["Market1501"] == {MAP: 15.4, R1: 38.9}
    assert "MLM only 14.4 / 27.8 / 39.5" in text
    mlm = TABLES["mmet-2"].rows[1].paper["CUHKPEDES"]
    assert list(mlm.values()) == [14.4, 27.8, 39.5]


def test_comparison_deltas():
    table = TABLES["dmf-2"]
    ours = {"DMF": {"CUHK03": {R1: 25.0, MAP: 20.0}}}
    text = format_comparison(table, ours, {"DMF": {"CUHK03": {R1: 1.25}}})
    row = text.splitlines()[2].split(" | ")
    assert row[1:7] == ["25.0±1.2", "23.4", "+1.6", "20.0", "22.6", "-2.6"]
    assert row[7:] == ["-", "50.6", "-", "-", "21.5", "- |"]


def test_every_table_plans_runs_whose_configs_build():
    for name, table in TABLES.items():
        for synthetic in (False, True)[0 if table.rows else 1:2 if table.synthetic else 1]:
            _, runs = plan(name, "/tmp/out", synthetic, seeds=(0,))
            assert len(runs) == len(select(name, synthetic).rows)
            assert needed_datasets(runs)  # every config loads


def test_missing_datasets_reported_up_front(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTREID_DATASETS", str(tmp_path))
    _, runs = plan("dmf-1", str(tmp_path), seeds=(0,))
    missing = dict(missing_datasets(runs))
    assert set(missing) == {"FineGPRCaption", "DukeMTMC", "Market1501", "CUHK03", "MSMT17"}
    _, synthetic = plan("dmf-1", str(tmp_path), synthetic=True, seeds=(0,))
    assert missing_datasets(synthetic) == []


def test_collect_means_over_seeds_and_skips_done_runs(tmp_path):
    table, runs = plan("dmf-2", str(tmp_path), seeds=(0, 1))
    for run, value in zip(runs, (20.0, 30.0)):
        os.makedirs(run.output_dir)
        json.dump({"CUHK03": {R1: value, MAP: 10.0}}, open(os.path.join(run.output_dir, "results.json"), "w"))
    assert all(run.done for run in runs)
    mean, std = collect(table, runs)
    assert mean["DMF"]["CUHK03"][R1] == 25.0 and std["DMF"]["CUHK03"][R1] == pytest.approx(50 ** 0.5)
    text = write_table(table, runs, str(tmp_path / "t.md"))
    assert "25.0±7.1 | 23.4 | +1.6" in text and "seeds [0, 1]" in text


def test_collect_writes_the_json_of_finished_runs_and_trains_nothing(tmp_path, tool):
    out, results = tmp_path / "out", tmp_path / "results"
    _, runs = plan("mmet-2", str(out), synthetic=True, seeds=(0, 1))
    done = runs[0]  # MIM only, seed 0; nothing else has finished
    os.makedirs(done.output_dir)
    json.dump({"SynthPersonCampus": {MAP: 12.5, R1: 30.0}},
              open(os.path.join(done.output_dir, "results.json"), "w"))
    run = tool("reproduce.py", "--table", "mmet-2", "--synthetic", "--seeds", "0", "1", "--collect",
               "--output-dir", str(out), "--results-dir", str(results))
    assert run.returncode == 0, run.stderr
    data = json.load(open(results / "mmet-2-synthetic.json"))
    assert data["seeds"] == [0] and data["rows"]["MIM only"]["SynthPersonCampus"]["mAP"] == [12.5]
    assert sorted(os.listdir(out / "mmet-2-synthetic")) == ["mim_only_s0"]  # nothing trained


def test_rows_are_chosen_by_name_or_folder_and_an_unknown_one_lists_the_rows():
    table = select("dmf-stage1", synthetic=True)
    assert choose_rows(table, ["image only, ID loss only", "text_image_dmf_id_loss_only"]) == \
        {"image only, ID loss only", "text + image (DMF), ID loss only"}
    with pytest.raises(ConfigError, match=r"'image only' is not a row.*'image only, after stage I'"):
        choose_rows(table, ["image only"])


def test_dry_run_from_the_command_line(tool):
    for name in ("dmf-1", "mmet-2"):  # every table's planning is covered in-process above
        run = tool("reproduce.py", "--table", name, "--dry-run")
        assert run.returncode == 0, run.stderr
        assert "runs" in run.stdout and "[todo]" in run.stdout


def test_synthetic_tables_have_no_paper_columns():
    table = select("dmf-1", synthetic=True)
    header = format_comparison(table, {}).splitlines()[0]
    assert "paper" not in header and header.count("|") == 1 + len(table.targets) * 2 + 1


def test_a_run_two_tables_share_is_planned_once():
    _, table1 = plan("mmet-1", "/tmp/out", synthetic=True, seeds=(0,))
    _, table2 = plan("mmet-2", "/tmp/out", synthetic=True, seeds=(0,))
    assert table2[-1].output_dir == table1[3].output_dir == "/tmp/out/mmet-1-synthetic/mmet_mmm_s0"
    # MMET Table 1's anchor row is the A/A table's first run set
    _, aa = plan("aa", "/tmp/out", synthetic=True, seeds=(0,))
    assert table1[-1].output_dir == aa[0].output_dir == "/tmp/out/aa-synthetic/baseline_synth_s0"
    assert table2[0].output_dir == "/tmp/out/mmet-2-synthetic/mim_only_s0"
    _, table3 = plan("mmet-3", "/tmp/out")
    _, table4 = plan("mmet-4", "/tmp/out")
    assert table4[1].output_dir == table3[0].output_dir  # both train configs/MMET/finegpr.yml


def test_a_stage_one_is_trained_once_for_every_stage_two_that_starts_from_it():
    """The real-photo table fine-tunes the synthetic table's stage I models (same config,
    variant, seed) instead of pre-training them again; command-line options opt out."""
    _, synthetic = plan("dmf-1", "/tmp/out", synthetic=True, seeds=(3,))
    _, real = plan("dmf-real", "/tmp/out", seeds=(3,))

    def stage1_of(run):
        command = run.command
        return command[command.index("--stage1-dir") + 1] if "--stage1-dir" in command else None

    assert [stage1_of(run) for run in synthetic] == [None] * 5 + [  # each its own OUTPUT_DIR/stage1
        "/tmp/out/dmf-stage1-synthetic/text_image_dmf_caption_loss_weight_0_1_s3/train"]  # but that
    shared = {run.row: stage1_of(run) for run in real}
    assert shared["text + image (DMF)"] == "/tmp/out/dmf-1-synthetic/text_image_dmf_s3/stage1"
    assert shared["text only"] == "/tmp/out/dmf-1-synthetic/text_only_s3/stage1"
    assert shared["none (baseline)"] is None and shared["stock Baseline (MobileNetV2, ImageNet)"] is None
    assert shared["text + image (DMF), caption loss weight 0.1"] == \
        "/tmp/out/dmf-stage1-synthetic/text_image_dmf_caption_loss_weight_0_1_s3/train"
    for run in real:
        assert run.command[-2:] == ["SEED", "3"]
    _, reverse = plan("dmf-real-m2d", "/tmp/out", seeds=(3,))  # Market -> Duke: the same stage I
    assert {run.row: stage1_of(run) for run in reverse} == shared
    _, with_opts = plan("dmf-real", "/tmp/out", seeds=(3,), extra_opts=("SOLVER.BASE_LR", "0.001"))
    assert all(stage1_of(run) is None for run in with_opts)


def test_stage_one_models_are_tested_directly_without_training_them_again():
    """dmf-stage1 evaluates the synthetic Table 1's stage I folders (the variant passed as the
    pipeline passes it), only after they have finished."""
    _, runs = plan("dmf-stage1", "/tmp/out", synthetic=True, seeds=(2,))
    assert [run.after for run in runs[:2]] == ["/tmp/out/dmf-1-synthetic/image_only_s2/stage1",
                                               "/tmp/out/dmf-1-synthetic/text_image_dmf_s2/stage1"]
    # a stage I of other options is no pipeline's: the row trains its own
    assert runs[2].after == runs[2].output_dir + "/train"
    for run, variant in zip(runs[:2], ("image", "both")):
        command = run.command
        assert command[command.index("--train-dir") + 1] == run.after
        assert command[-4:] == ["MODEL.DMF.MODALITIES", variant, "SEED", "2"]
        assert "SynthPersonSourceVal" in command[command.index("--tests") + 1:]


def test_synthetic_mmet_tables_report_image_and_text_queries():
    for name in ("mmet-1", "mmet-2"):
        table = select(name, synthetic=True)
        assert table.metrics == (MAP, R1, "text2image/mAP", "text2image/Rank-1")
        header = format_comparison(table, {}).splitlines()[0]
        assert "SynthPersonNight t2i mAP" in header


def test_mmm_ranked_on_cls_m_tests_the_mmm_models_without_training_again():
    table, runs = plan("mmet-1", "/tmp/out", synthetic=True, seeds=(2,))
    rows = {run.row: run for run in runs}
    mmm, fusion = rows["MMET + MMM"], rows["MMET + MMM, ranked on [CLS_M]"]
    command = fusion.command
    assert command[command.index("--train-dir") + 1] == mmm.output_dir == fusion.after
    assert command[command.index("--eval-opt"):command.index("--eval-opt") + 3] == [
        "--eval-opt", "MODEL.MMET.EVAL_FEATURE", "fusion"]
    assert command[-2:] == ["SEED", "2"]
    assert ("MMET + MMM", "MMET + MMM, ranked on [CLS_M]") in table.steps
    assert [name for name, _ in table.steps[:3]] == ["baseline", "MMET, no masking",
                                                      "MMET, random masking"]


def test_a_run_that_tests_another_runs_model_waits_for_it(tmp_path):
    """With two jobs, the evaluation of a model starts only once its training has finished."""
    training = _fake_run(tmp_path, "train", "import time; time.sleep(1.0)")
    model = os.path.join(training.output_dir, "results.json")
    evaluation = _fake_run(tmp_path, "eval", f"assert os.path.isfile({model!r}), 'started too early'")
    evaluation.after = training.output_dir
    behind = _fake_run(tmp_path, "behind", f"assert not os.path.isfile({model!r}), 'started too late'")
    started = []
    execute([training, evaluation, behind], jobs=2, log=started.append)
    assert evaluation.done and behind.done
    order = [line.split(":")[1].split(" seed")[0].strip() for line in started if line.startswith("run:")]
    assert order == ["train", "behind", "eval"]  # the waiting run lets the one behind it go first


def _fake_run(tmp_path, name, code):
    out = str(tmp_path / name)
    script = ("import json, os, sys; out = sys.argv[1]; os.makedirs(out, exist_ok=True); "
              "print('threads', os.environ.get('OMP_NUM_THREADS')); " + code +
              "; json.dump({'T': {'mAP': 1.0}}, open(os.path.join(out, 'results.json'), 'w'))")
    return PlannedRun(name, 0, out, [sys.executable, "-c", script, out], ())


def test_parallel_runs_split_threads_and_keep_their_console(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    runs = [_fake_run(tmp_path, f"r{i}", "import time; time.sleep(0.5)") for i in range(3)]
    seconds = execute(runs, jobs=2, log=lambda *_: None)
    assert all(run.done for run in runs) and len(seconds) == 3
    for run in runs:
        assert open(os.path.join(run.output_dir, "console.log")).read().strip() == "threads 1"
    assert execute(runs, jobs=2, log=lambda *_: None) == {}  # all done: nothing runs


def test_a_failed_run_stops_the_queue_and_is_named(tmp_path):
    runs = [_fake_run(tmp_path, "bad", "sys.exit(3)"), _fake_run(tmp_path, "next", "")]
    with pytest.raises(SystemExit, match="bad seed 0"):
        execute(runs, jobs=1, log=lambda *_: None)
    assert not runs[1].done


def test_parallel_runs_render_each_synthetic_domain_once_beforehand(monkeypatch):
    from fastreid.data.datasets import DATASET_REGISTRY
    built = []
    monkeypatch.setattr(DATASET_REGISTRY, "get", lambda name: lambda **kw: built.append(name))
    _, runs = plan("mmet-1", "/tmp/out", synthetic=True, seeds=(0, 1))
    prepare_synthetic_data(runs)
    assert sorted(built) == ["SynthPersonCampus", "SynthPersonNight", "SynthPersonSource",
                             "SynthPersonWinter"]


def test_a_run_finished_meanwhile_by_another_reproduction_is_not_trained_again(tmp_path):
    later = _fake_run(tmp_path, "shared", "")
    first = _fake_run(tmp_path, "first", f"os.makedirs({later.output_dir!r}); "
                      f"open(os.path.join({later.output_dir!r}, 'results.json'), 'w').write('{{}}')")
    seconds = execute([first, later], jobs=1, log=lambda *_: None)
    assert list(seconds) == [first.output_dir]


def test_results_json_keeps_every_seed_and_marks_significant_steps(tmp_path):
    table, runs = plan("dmf-1", str(tmp_path), synthetic=True, seeds=(0, 1, 2))
    campus = {"none (baseline)": (10, 11, 12), "text only": (10, 12, 14),
              "image only": (20, 21, 22), "text + image (DMF)": (20.5, 21.5, 22.5),
              "stock Baseline (MobileNetV2, ImageNet)": (21, 22, 23),
              "text + image (DMF), caption loss weight 0.1": (21, 22, 23)}
    for run in runs:
        os.makedirs(run.output_dir)
        value = campus[run.row][run.seed]
        json.dump({"SynthPersonCampus": {MAP: value, R1: 2 * value}, "Other": {MAP: 1.0}},
                  open(os.path.join(run.output_dir, "results.json"), "w"))
    path = str(tmp_path / "results" / "dmf-1-synthetic.json")
    data = write_results_json(table, runs, path, {"chance": {"SynthPersonCampus": {MAP: 3.0}}})
    assert read_results_json(path) == data  # the readable JSON and its per-query APs beside it
    assert "per_query_ap" not in json.load(open(path))
    assert data["seeds"] == [0, 1, 2]
    assert data["rows"]["text only"]["SynthPersonCampus"] == {"mAP": [10, 12, 14], "R1": [20, 24, 28]}
    assert "Other" not in data["rows"]["text only"]  # only the table's targets
    lines = step_significance(data, "mAP", table.steps).splitlines()
    # paired by seed: none -> text d = (0, 1, 2): mean 1.0, SE = std(d)/sqrt(3) = 1/sqrt(3),
    # 2SE = 1.15 -> no (the unpaired 2*sqrt(1/3 + 4/3) = 2.58 would say the same)
    assert lines[2].startswith("| none (baseline) → text only | +1.0 (1.2) no")
    # text -> image: d = (10, 9, 8): +9.0, 2SE 1.15 -> yes
    assert lines[3].startswith("| text only → image only | +9.0 (1.2) yes")
    # image -> DMF: d = (0.5, 0.5, 0.5): every seed gains 0.5, SE 0 -> yes (unpaired: 1.6, no)
    assert lines[4].startswith("| image only → text + image (DMF) | +0.5 (0.0) yes")
    # the anchor against DMF: d = (-0.5, -0.5, -0.5): DMF below the stock Baseline
    assert lines[5].startswith("| stock Baseline (MobileNetV2, ImageNet) → text + image (DMF) | "
                               "-0.5 (0.0) reversed")
    assert "(unpaired)" not in "\n".join(lines) and "paired by seed" in "\n".join(lines)
    text = format_results_json(table, data)
    assert "| text only | 24.0±4.0 | 12.0±2.0 |" in text and "| chance | - | 3.0 |" in text


def test_a_pipeline_reuses_the_stage_one_a_transfer_table_trained(tmp_path):
    """dmf-1's weighted-caption row fine-tunes the stage I models dmf-stage1 trained and tested
    (same config and options, in another order), instead of training them again; the rows that
    already shared a pipeline's stage I keep it."""
    _, runs = plan("dmf-1", str(tmp_path), synthetic=True, seeds=(3,))
    by_folder = {os.path.basename(r.output_dir): r.command for r in runs}
    weighted = by_folder["text_image_dmf_caption_loss_weight_0_1_s3"]
    stage1 = weighted[weighted.index("--stage1-dir") + 1]
    assert stage1 == str(tmp_path / "dmf-stage1-synthetic" / "text_image_dmf_caption_loss_weight_0_1_s3" / "train")
    assert "--stage1-dir" not in by_folder["text_image_dmf_s3"]  # its own stage1/
    _, transfers = plan("dmf-stage1", str(tmp_path), synthetic=True, seeds=(3,))
    after = {os.path.basename(r.output_dir): r.command for r in transfers}
    own = after["text_image_dmf_caption_loss_weight_0_1_s3"]
    assert own[own.index("--train-dir") + 1] == stage1
    shared = after["text_image_dmf_after_stage_i_s3"]
    assert shared[shared.index("--train-dir") + 1] == str(tmp_path / "dmf-1-synthetic" / "text_image_dmf_s3" / "stage1")
