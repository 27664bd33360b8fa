"""Attribute files: FineGPR's 13 attributes under the documented keys are what captions read; a
missing key or a bad value is one error naming file, identity and key; other keys are counted and
ignored; SynthPerson's own attributes.json still loads."""
import json
import re
import logging

import numpy as np
import pytest

from fastreid_multimodal.data.captions import make_caption
from fastreid_multimodal.data.finegpr_attributes import ATTRIBUTES, OPTIONAL, read_attributes
from fastreid_multimodal.data.synth import generate_domain, read_domain
from fastreid_multimodal.errors import DataFormatError, UserError

RECORD = {"gender": "female", "hair_length": "long", "age": "adult", "glasses": True,
          "short_sleeve": False, "top_length": "long", "dress": False, "boots": True, "hat": False,
          "bag": True, "shoe_colour": "light", "upper_colour": "purple", "lower_colour": "brown"}
ENV = {"weather": "Sunny", "illumination": "Noon", "viewpoint": "front"}


def write(tmp_path, identities, **header):
    path = tmp_path / "attributes.json"
    path.write_text(json.dumps({**header, "identities": identities}))
    return str(path)


def test_the_documented_keys_are_the_thirteen_finegpr_attributes():
    assert list(ATTRIBUTES) == ["gender", "hair_length", "age", "glasses", "short_sleeve",
                                "top_length", "dress", "boots", "hat", "bag", "shoe_colour",
                                "upper_colour", "lower_colour"]
    assert set(OPTIONAL) == {"skin_colour", "hat_type", "bag_type"}


def test_a_record_written_from_the_documentation_captions(tmp_path):
    records = read_attributes(write(tmp_path, {"0007": RECORD}))
    caption = make_caption(records[7], ENV, np.random.default_rng(0))
    for words in ("long hair", "purple", "brown", "light boots", "glasses"):
        assert words in caption, caption
    assert "skin" not in caption  # FineGPR gives none: the caption leaves it out
    with_skin = read_attributes(write(tmp_path, {"0007": {**RECORD, "skin_colour": "tan"}}))
    assert "tan skin" in make_caption(with_skin[7], ENV, np.random.default_rng(0))


@pytest.mark.parametrize("key", list(ATTRIBUTES))
def test_a_missing_key_is_one_error_naming_file_identity_and_key(tmp_path, key):
    record = {k: v for k, v in RECORD.items() if k != key}
    path = write(tmp_path, {"0003": record})
    with pytest.raises(DataFormatError) as error:
        read_attributes(path)
    assert isinstance(error.value, UserError)  # the command line prints one `error:` line
    assert str(error.value).startswith(f"{path}: identity 0003 lacks '{key}'")


@pytest.mark.parametrize("key,value,expected", [
    ("gender", "man", "must be one of ['male', 'female']"),
    ("upper_colour", "pink", "must be one of ['black'"),
    ("glasses", "yes", "must be true or false"),
    ("skin_colour", "green", "must be one of ['fair'"),
])
def test_a_value_outside_its_list_is_an_error(tmp_path, key, value, expected):
    path = write(tmp_path, {"0003": {**RECORD, key: value}})
    with pytest.raises(DataFormatError, match=rf"identity 0003: '{key}' {re.escape(expected)}"):
        read_attributes(path)


def test_unknown_keys_are_counted_ignored_and_logged_once(tmp_path, caplog):
    extra = {**RECORD, "hair": "long", "skin": "fair", "height_cm": 170}
    path = write(tmp_path, {"0001": extra, "0002": {**RECORD, "hair": "short"}})
    with caplog.at_level(logging.WARNING, logger="fastreid.multimodal"):
        records = read_attributes(path)
    assert set(records[1]) == set(ATTRIBUTES) and records[2]["hair_length"] == "long"
    lines = [r.getMessage() for r in caplog.records if "unknown attribute keys" in r.getMessage()]
    assert len(lines) == 1
    assert "ignored 4 unknown attribute keys: hair (2x), height_cm (1x), skin (1x)" in lines[0]


def test_bad_identity_numbers_and_bad_json_are_errors(tmp_path):
    with pytest.raises(DataFormatError, match="identity 'bob' is not an identity number"):
        read_attributes(write(tmp_path, {"bob": RECORD}))
    (tmp_path / "attributes.json").write_text("{not json")
    with pytest.raises(DataFormatError, match="not a JSON file"):
        read_attributes(str(tmp_path / "attributes.json"))


def test_synthperson_attribute_files_load_as_its_identities(tmp_path):
    """SynthPerson keeps writing its Identity records (rendered data stays valid); the reader turns
    them into the documented keys, the ones its own captions were made from."""
    folder = generate_domain(str(tmp_path), "source", num_ids=2, images_per_id=1, seed=1,
                             size=(32, 16))
    records = read_attributes(f"{folder}/attributes.json")
    identities = read_domain(folder)["identities"]
    assert records == {pid: ident.caption_attributes() for pid, ident in identities.items()}
    assert set(ATTRIBUTES) <= set(records[0]) and "hair" not in records[0]


def test_a_missing_key_ends_train_net_with_one_error_line(tmp_path, tool):
    from PIL import Image
    images = tmp_path / "FineGPR" / "images"
    images.mkdir(parents=True)
    for cam in (1, 2):
        Image.new("RGB", (32, 64)).save(images / f"0004_c{cam:02d}_w01_l01_p01.jpg")
    record = {k: v for k, v in RECORD.items() if k != "shoe_colour"}
    path = write(tmp_path / "FineGPR", {"0004": {**record, "shoes": "dark"}})
    run = tool("train_net.py", "--config-file", "configs/Demo/dmf_stage1_synth.yml",
               "DATASETS.NAMES", "('FineGPRCaption',)", "DATASETS.TESTS", "()",
               "OUTPUT_DIR", str(tmp_path / "out"), env={"FASTREID_DATASETS": str(tmp_path)})
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-3000:]
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(
        f"error: {path}: identity 0004 lacks 'shoe_colour'"), run.stderr[-3000:]
