"""CaptionedImages: one's own captioned images from one JSONL or CSV file (image relative to the
file, pid, optional camid, split, one or more captions); bad records are one error naming file,
line and field; the set trains DMF's stage I and is evaluated text->image."""
import json
import logging
import os

import pytest
from fastreid.data.datasets import DATASET_REGISTRY
from PIL import Image

import fastreid_multimodal  # noqa: F401
from fastreid_multimodal.data.captions import read_caption_lines
from fastreid_multimodal.data.finegpr_names import parse_image_name
from fastreid_multimodal.data.synth import generate_domain, image_file
from fastreid_multimodal.engine import load_config
from fastreid_multimodal.errors import ConfigError, DataFormatError, DatasetNotFoundError

TRAIN_IDS, TEST_IDS = range(6), (6, 7, 8, 9)
# the demo's stage I at test size (tests/engine/test_dmf_pipeline.py's TINY)
TINY = ["MODEL.VIT.EMBED_DIM", "32", "MODEL.BACKBONE.FEAT_DIM", "32", "MODEL.VIT.DEPTH", "2",
        "MODEL.VIT.NUM_HEADS", "2", "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]",
        "MODEL.TEXT.MAX_LENGTH", "64", "SOLVER.IMS_PER_BATCH", "16", "DATALOADER.NUM_WORKERS", "0",
        "SOLVER.WARMUP_ITERS", "0"]


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    """Ten rendered people (four images each) with their captions: 6 train, 4 test (a gallery of
    12: FastReID's metrics need 10 gallery images for Rank-10)."""
    root = str(tmp_path_factory.mktemp("captioned"))
    folder = generate_domain(root, "source", num_ids=10, images_per_id=4, seed=2, size=(64, 32))
    return folder, {n: c for _, n, c in read_caption_lines(os.path.join(folder, "captions.txt"))}


def records(people):
    """JSONL records of ``people``: test identities' first image is the query, the rest gallery;
    every image has its rendered caption, the training ones a second, shorter one."""
    folder, captions = people
    out, seen = [], set()
    for name in sorted(captions):
        parsed = parse_image_name(name)
        pid = parsed["pid"]
        split = "train" if pid in TRAIN_IDS else ("gallery" if pid in seen else "query")
        seen.add(pid)
        texts = [captions[name]] + ([f"person number {pid}."] if split == "train" else [])
        out.append({"image": os.path.relpath(image_file(folder, name), folder), "pid": pid,
                    "camid": parsed["camera"], "split": split, "captions": texts})
    return out


def write_jsonl(path, lines):
    with open(path, "w") as f:
        f.write("".join((line if isinstance(line, str) else json.dumps(line)) + "\n"
                        for line in lines))
    return str(path)


def build(root, file):
    cfg = load_config(opts=["DATASETS.CAPTIONED.FILE", file])
    return DATASET_REGISTRY.get("CaptionedImages")(root=str(root), dataset_cfg=cfg)


def test_jsonl_gives_images_texts_and_both_test_lists(people):
    folder, _ = people
    lines = records(people)
    data = build(folder, write_jsonl(os.path.join(folder, "mine.jsonl"), lines))
    train = [r for r in lines if r["split"] == "train"]
    assert len(data.train) == len(train) == 24 and len(data.texts) == 48  # two captions each
    path, pid, camid = data.train[0]
    assert os.path.isfile(path) and pid == "captionedimages_0"
    assert camid == f"captionedimages_{parse_image_name(path)['camera']}"
    assert {c.image for c, _, _ in data.texts} == {p for p, _, _ in data.train}
    assert [pid for _, pid, _ in data.query] == list(TEST_IDS) and len(data.gallery) == 12
    assert len(data.text_queries) == 4 and data.text_gallery == data.gallery
    assert data.caption_of[path] == train[0]["captions"][0]


def test_csv_with_caption_columns_and_no_cameras(tmp_path):
    for k in range(4):
        Image.new("RGB", (16, 32)).save(tmp_path / f"{k}.jpg")
    (tmp_path / "mine.csv").write_text(
        "image,pid,split,caption,caption_2,notes\n"
        "0.jpg,1,train,a man in red,\"a man, red coat\",x\n"
        "1.jpg,1,train,a man in red,,\n"
        "2.jpg,2,query,a woman in blue,,\n"
        "3.jpg,2,gallery,a woman in blue,,\n")
    data = build(tmp_path, "mine.csv")  # relative: read under FASTREID_DATASETS (the root)
    assert [c.text for c, _, _ in data.texts] == ["a man in red", "a man, red coat", "a man in red"]
    # no camids: query and gallery on different cameras, so the match is not dropped
    assert data.query[0][2] != data.gallery[0][2]


BAD_JSONL = [
    ({"image": "images/none.jpg"}, "field 'image': ", "does not exist"),
    ({"pid": "seven"}, "field 'pid': expected a non-negative integer, got 'seven'", ""),
    ({"pid": -1}, "field 'pid': expected a non-negative integer", ""),
    ({"split": "test"}, "field 'split': expected train or query or gallery, got 'test'", ""),
    ({"captions": []}, "field 'captions': expected one or more non-empty captions", ""),
    ({"captions": None}, "field 'captions' is missing", ""),
    ({"captions": [3]}, "field 'captions': expected a caption or a list of captions", ""),
    ({"camid": None}, "field 'camid' is missing, but line 1 has one", ""),
    ({"image": None}, "field 'image' is missing", ""),
    ("{not json", "not a JSON object", ""),
    ("[1, 2]", "expected a JSON object", ""),
]


@pytest.mark.parametrize("change,expected,also", BAD_JSONL)
def test_a_bad_record_is_one_error_naming_file_line_and_field(people, tmp_path, change, expected,
                                                              also):
    folder, _ = people
    lines = records(people)
    lines[2] = change if isinstance(change, str) else {**lines[2], **change}
    file = write_jsonl(os.path.join(folder, "bad.jsonl"), lines)
    with pytest.raises(DataFormatError) as error:
        build(folder, file)
    assert str(error.value).startswith(f"{file}:3: {expected}") and also in str(error.value)


def test_the_same_image_twice_in_a_split_is_an_error(people):
    folder, _ = people
    lines = records(people)
    file = write_jsonl(os.path.join(folder, "twice.jsonl"), lines + [lines[0]])
    with pytest.raises(DataFormatError, match=rf"twice.jsonl:{len(lines) + 1}: field 'image': .* "
                                              r"is already a train image on line 1"):
        build(folder, file)


def test_csv_header_and_row_errors(tmp_path):
    Image.new("RGB", (16, 32)).save(tmp_path / "0.jpg")
    (tmp_path / "a.csv").write_text("image,split,caption\n0.jpg,train,x\n")
    with pytest.raises(DataFormatError, match="a.csv:1: the header lacks column 'pid'"):
        build(tmp_path, "a.csv")
    (tmp_path / "b.csv").write_text("image,pid,split,caption\n0.jpg,1,train,a man, red coat\n")
    with pytest.raises(DataFormatError, match="b.csv:2: more cells than the header's 4 columns"):
        build(tmp_path, "b.csv")


def test_file_key_empty_missing_or_of_another_kind(tmp_path):
    with pytest.raises(ConfigError, match="DATASETS.CAPTIONED.FILE is empty"):
        build(tmp_path, "")
    with pytest.raises(DatasetNotFoundError, match="CAPTIONED.FILE .*nope.jsonl' does not exist"):
        build(tmp_path, "nope.jsonl")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(DataFormatError, match="expected a .jsonl or .csv file"):
        build(tmp_path, "x.txt")


def test_unknown_fields_are_counted_and_logged(people, caplog):
    folder, _ = people
    lines = [{**r, "bbox": [0, 0, 1, 1]} for r in records(people)]
    with caplog.at_level(logging.WARNING, logger="fastreid.multimodal"):
        build(folder, write_jsonl(os.path.join(folder, "extra.jsonl"), lines))
    assert f"ignored unknown fields bbox ({len(lines)}x)" in caplog.text


def test_a_bad_record_ends_train_net_with_one_error_line(people, tmp_path, tool):
    folder, _ = people
    lines = records(people)
    lines[2] = {**lines[2], "split": "val"}
    file = write_jsonl(os.path.join(folder, "cli.jsonl"), lines)
    run = tool("train_net.py", "--config-file", "configs/Demo/dmf_stage1_synth.yml", *TINY,
               "DATASETS.NAMES", '("CaptionedImages",)', "DATASETS.CAPTIONED.FILE", file,
               "OUTPUT_DIR", str(tmp_path / "out"), env={"FASTREID_DATASETS": folder})
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-3000:]
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {file}:3: field 'split': expected train or query or gallery, "
                      "got 'val'"]


def test_trains_dmf_stage_one_and_evaluates_text_to_image(people, tmp_path, tool, monkeypatch):
    from fastreid_multimodal.engine.inference import load_model
    from fastreid_multimodal.evaluation.text_retrieval import TextToImageEvaluator
    folder, _ = people
    file = write_jsonl(os.path.join(folder, "train.jsonl"), records(people))
    out = tmp_path / "out"
    run = tool("train_net.py", "--config-file", "configs/Demo/dmf_stage1_synth.yml", *TINY,
               "DATASETS.NAMES", '("CaptionedImages",)', "DATASETS.TESTS", '("CaptionedImages",)',
               "DATASETS.CAPTIONED.FILE", "train.jsonl", "SOLVER.MAX_EPOCH", "1",
               "OUTPUT_DIR", str(out), env={"FASTREID_DATASETS": folder})
    assert run.returncode == 0, run.stderr[-3000:]
    log = open(out / "log.txt").read()
    assert "Training samples: 24 images + 48 texts of 6 identities" in log
    seen = [json.loads(line) for line in open(out / "metrics.json")][-1]
    assert seen["samples/texts"] > 0 and seen["samples/images"] > 0
    assert 0 < json.load(open(out / "results.json"))["CaptionedImages"]["mAP"] <= 100

    monkeypatch.setenv("FASTREID_DATASETS", folder)
    cfg, model = load_model(str(out / "config.yaml"), str(out / "model_final.pth"))
    evaluator = TextToImageEvaluator(cfg, "CaptionedImages")
    assert len(evaluator.queries) == 4 and len(evaluator.gallery) == 12
    metrics = evaluator.evaluate(model)
    assert 0 < metrics["text2image/mAP"] <= 100 and "text2image/Rank-1" in metrics
