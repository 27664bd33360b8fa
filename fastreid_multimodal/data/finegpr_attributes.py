"""FineGPR attribute files (``attributes.json`` beside the images): one record per identity.

FineGPR names 13 identity attributes but publishes no file for them; this is the format read
(README, "Data sets"), FineGPR's attributes under FineGPR's names::

    {"identities": {"0001": {"gender": "female", "hair_length": "long", "age": "adult",
                             "glasses": false, "short_sleeve": true, "top_length": "short",
                             "dress": false, "boots": false, "hat": false, "bag": true,
                             "shoe_colour": "dark", "upper_colour": "red", "lower_colour": "blue"}}}

plus the optional ``skin_colour``, ``hat_type`` and ``bag_type``. These keys are exactly what the
caption generator reads. A missing key or a value outside its list is one error naming the file, the
identity and the key; any other key is ignored, and the ignored keys are counted in one log line.

SynthPerson's ``attributes.json`` (its header names the ``domain``) holds its whole ``Identity``
records, hidden appearance included; those are read through ``Identity``, so that captions generated
from them are the ones in its ``captions.txt``.
"""
import json
import logging
from collections import Counter

from ..errors import DataFormatError
from .synth.attributes import (AGES, BAG_TYPES, COLOUR_NAMES, GENDERS, HAIR_LENGTHS, HAT_TYPES,
                               SHOE_COLOURS, SKIN_NAMES, TOP_LENGTHS, Identity)

logger = logging.getLogger("fastreid.multimodal")
BOOLEAN = (True, False)

#: FineGPR's 13 identity attributes (in FineGPR's order) -> allowed values; all required
ATTRIBUTES = {
    "gender": GENDERS, "hair_length": HAIR_LENGTHS, "age": AGES, "glasses": BOOLEAN,
    "short_sleeve": BOOLEAN, "top_length": TOP_LENGTHS, "dress": BOOLEAN, "boots": BOOLEAN,
    "hat": BOOLEAN, "bag": BOOLEAN, "shoe_colour": SHOE_COLOURS, "upper_colour": COLOUR_NAMES,
    "lower_colour": COLOUR_NAMES,
}
#: read when present (null = absent): FineGPR has no skin colour; the types refine hat and bag
OPTIONAL = {"skin_colour": SKIN_NAMES, "hat_type": HAT_TYPES, "bag_type": BAG_TYPES}


def _value(path, pid, key, value, allowed):
    if allowed is BOOLEAN:
        # 0/1 as well: attribute tables exported from spreadsheets write them so
        if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
            return bool(value)
        raise DataFormatError(f"{path}: identity {pid}: '{key}' must be true or false, got "
                              f"{value!r}")
    if value not in allowed:
        raise DataFormatError(f"{path}: identity {pid}: '{key}' must be one of {list(allowed)}, "
                              f"got {value!r}")
    return value


def finegpr_record(path, pid, record, unknown):
    """The documented keys of one identity's record, checked; others are added to ``unknown``."""
    if not isinstance(record, dict):
        raise DataFormatError(f"{path}: identity {pid}: expected an object of attributes, got "
                              f"{type(record).__name__}")
    for key in ATTRIBUTES:
        if key not in record:
            raise DataFormatError(f"{path}: identity {pid} lacks '{key}' (FineGPR attributes: "
                                  f"{', '.join(ATTRIBUTES)}; optional: {', '.join(OPTIONAL)})")
    out = {key: _value(path, pid, key, record[key], allowed) for key, allowed in ATTRIBUTES.items()}
    for key, allowed in OPTIONAL.items():
        if record.get(key) is not None:
            out[key] = _value(path, pid, key, record[key], allowed)
    unknown.update(k for k in record if k not in ATTRIBUTES and k not in OPTIONAL)
    return out


def synthperson_record(path, pid, record):
    try:
        return Identity.from_dict(record).caption_attributes()
    except (ValueError, TypeError, KeyError) as exc:
        raise DataFormatError(f"{path}: identity {pid}: not a SynthPerson identity record "
                              f"({exc})") from None


def read_attributes(path):
    """{pid: record with the documented keys} of an attribute file."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("identities"), dict):
        raise DataFormatError(f"{path}: expected a JSON object with an 'identities' mapping "
                              "(pid as 4-digit string -> attribute record)")
    synthperson = "domain" in data
    records, unknown = {}, Counter()
    for key, record in data["identities"].items():
        if not str(key).isdigit():
            raise DataFormatError(f"{path}: identity '{key}' is not an identity number "
                                  "(expected e.g. \"0001\")")
        records[int(key)] = (synthperson_record(path, key, record) if synthperson
                             else finegpr_record(path, key, record, unknown))
    if unknown:
        listed = ", ".join(f"{k} ({n}x)" for k, n in sorted(unknown.items()))
        logger.warning("%s: ignored %d unknown attribute keys: %s (the keys read: %s; optional: "
                       "%s)", path, sum(unknown.values()), listed, ", ".join(ATTRIBUTES),
                       ", ".join(OPTIONAL))
    return records
