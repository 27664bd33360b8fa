"""One's own captioned Re-ID images in one file, JSONL or CSV (the ``CaptionedImages`` data set).

JSONL, one object a line::

    {"image": "imgs/0001_a.jpg", "pid": 1, "camid": 0, "split": "train",
     "captions": ["a man in a red coat", "a man with a black backpack"]}

CSV, a header line naming the columns ``image,pid,camid,split,caption`` and one record a line;
every column whose name starts with ``caption`` (``caption``, ``caption_2``, ...) holds one caption.

``image``: a path relative to the file (an absolute path as it is); ``pid``: an integer identity;
``camid``: an integer camera, on every record or on none; ``split``: train, query or gallery;
``captions``: one or more (a string or a list of strings). A record that breaks a rule is one
error naming the file, the line and the field; fields not listed here are counted and ignored.
"""
import csv
import io
import json
import logging
import os
from collections import Counter
from dataclasses import dataclass
from typing import List, Optional

from ..errors import DataFormatError

logger = logging.getLogger("fastreid.multimodal")
SPLITS = ("train", "query", "gallery")
FIELDS = ("image", "pid", "camid", "split", "captions")


@dataclass(frozen=True)
class CaptionedRecord:
    line: int
    image: str                 # the path, resolved against the file's folder
    pid: int
    camid: Optional[int]
    split: str
    captions: List[str]


def _fail(path, line, field, expected, value):
    shown = repr(value)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    raise DataFormatError(f"{path}:{line}: field '{field}': expected {expected}, got {shown}")


def _integer(path, line, field, value):
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    _fail(path, line, field, "a non-negative integer", value)


def _record(path, line, fields, captions):
    """One checked record from its raw fields (JSON values or CSV cells)."""
    for field in ("image", "pid", "split", "captions"):
        if (captions if field == "captions" else fields.get(field)) in (None, ""):
            raise DataFormatError(f"{path}:{line}: field '{field}' is missing (each record has "
                                  f"image, pid, split and captions; camid is optional)")
    image = fields["image"]
    if not isinstance(image, str):
        _fail(path, line, "image", "a path relative to the file", image)
    resolved = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(path)), image))
    if not os.path.isfile(resolved):
        raise DataFormatError(f"{path}:{line}: field 'image': {resolved} does not exist (the path "
                              "is relative to the folder of the file)")
    split = fields["split"]
    if split not in SPLITS:
        _fail(path, line, "split", " or ".join(SPLITS), split)
    camid = fields.get("camid")
    camid = None if camid in (None, "") else _integer(path, line, "camid", camid)
    if isinstance(captions, str):
        captions = [captions]
    if not isinstance(captions, list) or not all(isinstance(c, str) for c in captions):
        _fail(path, line, "captions", "a caption or a list of captions", captions)
    captions = [c.strip() for c in captions if c.strip()]
    if not captions:
        _fail(path, line, "captions", "one or more non-empty captions", fields.get("captions"))
    return CaptionedRecord(line, resolved, _integer(path, line, "pid", fields["pid"]), camid,
                           split, captions)


def _jsonl(path, text, unknown):
    for line, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            fields = json.loads(raw)
        except ValueError as exc:
            raise DataFormatError(f"{path}:{line}: not a JSON object ({exc})") from None
        if not isinstance(fields, dict):
            raise DataFormatError(f"{path}:{line}: expected a JSON object "
                                  f"{{\"image\", \"pid\", \"split\", \"captions\", ...}}, got "
                                  f"{type(fields).__name__}")
        unknown.update(k for k in fields if k not in FIELDS)
        yield _record(path, line, fields, fields.get("captions"))


def _csv(path, text, unknown):
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = reader.fieldnames or []
    caption_columns = [c for c in columns if c and c.startswith("caption")]
    for field in ("image", "pid", "split"):
        if field not in columns:
            raise DataFormatError(f"{path}:1: the header lacks column '{field}' (columns: "
                                  "image, pid, camid (optional), split, caption[, caption_2 "
                                  f"...]); got {columns}")
    if not caption_columns:
        raise DataFormatError(f"{path}:1: the header has no caption column (caption, caption_2, "
                              f"...); got {columns}")
    unknown.update(c for c in columns if c not in FIELDS and c not in caption_columns)
    for fields in reader:
        line = reader.line_num
        if None in fields:
            raise DataFormatError(f"{path}:{line}: more cells than the header's {len(columns)} "
                                  "columns (quote a caption that holds a comma)")
        if not any((v or "").strip() for v in fields.values()):
            continue
        yield _record(path, line, fields, [fields[c] or "" for c in caption_columns])


def read_captioned_file(path):
    """The checked records of a JSONL (``.jsonl``, ``.json``) or CSV (``.csv``) file."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in (".jsonl", ".json", ".csv"):
        raise DataFormatError(f"{path}: expected a .jsonl or .csv file")
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DataFormatError(f"{path}:{line}: not UTF-8 text ({exc.reason})") from None
    unknown = Counter()
    records = list((_csv if suffix == ".csv" else _jsonl)(path, text, unknown))
    if not records:
        raise DataFormatError(f"{path}: no record (expected one image a line: image, pid, split, "
                              "captions)")
    _check_together(path, records)
    if unknown:
        listed = ", ".join(f"{k} ({n}x)" for k, n in sorted(unknown.items()))
        logger.warning("%s: ignored unknown fields %s (the fields read: image, pid, camid, split, "
                       "captions)", path, listed)
    return records


def _check_together(path, records):
    """Rules across records: camid on all or none; an image once per split."""
    with_camera = [r for r in records if r.camid is not None]
    if with_camera and len(with_camera) < len(records):
        first = next(r for r in records if r.camid is None)
        raise DataFormatError(f"{path}:{first.line}: field 'camid' is missing, but line "
                              f"{with_camera[0].line} has one (give camid on every record or "
                              "on none)")
    seen = {}
    for record in records:
        key = (record.image, record.split)
        if key in seen:
            raise DataFormatError(f"{path}:{record.line}: field 'image': {record.image} is already "
                                  f"a {record.split} image on line {seen[key]}")
        seen[key] = record.line
