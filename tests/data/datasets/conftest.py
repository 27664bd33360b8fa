"""Tiny text-based person search sets in the published JSON shape (CUHK-PEDES, ICFG-PEDES,
RSTPReid): a list of {path field, id, captions, split} records beside an imgs/ folder."""
import json

import numpy as np
import pytest
from PIL import Image


def write_pedes(root, folder, annotation, path_field, splits, per_id=2):
    """``splits``: (split, pids) pairs; ``per_id`` images per identity, two captions each; one
    record names a missing image. Returns the record list."""
    top = root / folder
    records = []
    for split, pids in splits:
        for pid in pids:
            for k in range(per_id):
                name = f"{split}/{pid:04d}/{pid:04d}_{k}.jpg"
                (top / "imgs" / name).parent.mkdir(parents=True, exist_ok=True)
                pixels = np.full((16, 8, 3), 10 * pid + k, np.uint8)
                Image.fromarray(pixels).save(top / "imgs" / name)
                records.append({path_field: name, "id": pid, "split": split,
                                "captions": [f"person {pid} image {k} wears red.",
                                             f"person {pid} image {k} walks."]})
    records.append({path_field: "test/9999/missing.jpg", "id": 9999, "split": "test",
                    "captions": ["nobody"]})
    (top / annotation).write_text(json.dumps(records))
    return records


@pytest.fixture
def pedes():
    return write_pedes
