"""ICFG-PEDES from its published JSON (ICFG-PEDES.json: file_path, id, captions, train|test)."""
import json

import pytest
from fastreid.data.datasets import DATASET_REGISTRY

import fastreid_multimodal  # noqa: F401
from fastreid_multimodal.errors import DataFormatError, DatasetNotFoundError


def test_reads_the_published_json(tmp_path, pedes):
    pedes(tmp_path, "ICFG-PEDES", "ICFG-PEDES.json", "file_path",
          [("train", (1, 2, 3)), ("test", (4, 5))])
    data = DATASET_REGISTRY.get("ICFGPEDES")(root=str(tmp_path))
    assert len(data.train) == 6 and len(data.texts) == 12
    assert {pid for _, pid, _ in data.train} == {"icfgpedes_1", "icfgpedes_2", "icfgpedes_3"}
    assert [pid for _, pid, _ in data.query] == [4, 5] and len(data.gallery) == 2
    assert len(data.text_queries) == 8 and len(data.text_gallery) == 4  # the missing one skipped
    assert all(c.image in data.caption_of for c, _, _ in data.texts)


def test_missing_file_and_bad_records_say_what(tmp_path, pedes):
    with pytest.raises(DatasetNotFoundError, match="ICFG-PEDES/ICFG-PEDES.json"):
        DATASET_REGISTRY.get("ICFGPEDES")(root=str(tmp_path))
    records = pedes(tmp_path, "ICFG-PEDES", "ICFG-PEDES.json", "file_path", [("train", (1,))])
    del records[1]["captions"]
    (tmp_path / "ICFG-PEDES" / "ICFG-PEDES.json").write_text(json.dumps(records))
    with pytest.raises(DataFormatError, match=r"ICFG-PEDES.json: record 1 lacks \['captions'\]"):
        DATASET_REGISTRY.get("ICFGPEDES")(root=str(tmp_path))
