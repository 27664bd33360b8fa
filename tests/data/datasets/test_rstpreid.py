"""RSTPReid from its published JSON (data_captions.json: img_path, id, captions, train|val|test)."""
import json

import pytest
from fastreid.data.datasets import DATASET_REGISTRY

import fastreid_multimodal  # noqa: F401
from fastreid_multimodal.errors import DataFormatError


def test_reads_the_published_json(tmp_path, pedes):
    pedes(tmp_path, "RSTPReid", "data_captions.json", "img_path",
          [("train", (1, 2)), ("val", (3,)), ("test", (4, 5, 6))])
    data = DATASET_REGISTRY.get("RSTPReid")(root=str(tmp_path))
    assert len(data.train) == 4 and len(data.texts) == 8
    assert data.train[0][1] == "rstpreid_1"
    assert [pid for _, pid, _ in data.query] == [4, 5, 6] and len(data.gallery) == 3
    assert len(data.text_queries) == 12 and len(data.text_gallery) == 6
    assert not {3} & {pid for _, pid, _ in data.query + data.gallery}  # val is not read


def test_the_cuhk_path_field_is_not_rstpreids(tmp_path, pedes):
    pedes(tmp_path, "RSTPReid", "data_captions.json", "file_path", [("train", (1,))])
    with pytest.raises(DataFormatError, match=r"record 0 lacks \['img_path'\]"):
        DATASET_REGISTRY.get("RSTPReid")(root=str(tmp_path))


def test_captions_must_be_a_list_of_strings(tmp_path, pedes):
    records = pedes(tmp_path, "RSTPReid", "data_captions.json", "img_path", [("train", (1,))])
    records[0]["captions"] = "one string"
    (tmp_path / "RSTPReid" / "data_captions.json").write_text(json.dumps(records))
    with pytest.raises(DataFormatError, match="record 0: 'captions' must be a list of strings"):
        DATASET_REGISTRY.get("RSTPReid")(root=str(tmp_path))
