"""SynthPerson vocabulary and identity sampling.

An :class:`Identity` holds FineGPR's 13 identity attributes plus a skin tone (all of them visible
in the picture and used by the captions), and HIDDEN per-identity properties that no caption
mentions but that make people distinguishable beyond their clothing colours: body height and
build, gait, clothing texture, the exact shade of every colour, hair colour, hat style/colour and
bag colour.

Attribute values are plain strings/bools so that ``to_dict()`` is directly the JSON record written
to ``attributes.json``; ``from_dict()`` reads it back.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

# --------------------------------------------------------------------------------------------
# vocabulary (FineGPR order where FineGPR defines one)
# --------------------------------------------------------------------------------------------
GENDERS = ("male", "female")
HAIR_LENGTHS = ("short", "long")
AGES = ("teenager", "adult", "older")
TOP_LENGTHS = ("short", "long")
SHOE_COLOURS = ("dark", "light")
BAG_TYPES = ("backpack", "shoulder bag")
HAT_TYPES = ("cap", "beanie")

#: clothing colour names (FineGPR's nine) -> base RGB under neutral light
COLOURS: Dict[str, Tuple[int, int, int]] = {
    "black": (32, 32, 36),
    "white": (236, 236, 230),
    "red": (196, 32, 38),
    "purple": (122, 52, 156),
    "gray": (128, 128, 128),
    "yellow": (232, 200, 40),
    "blue": (40, 72, 176),
    "green": (44, 136, 62),
    "brown": (122, 78, 42),
}
COLOUR_NAMES = tuple(COLOURS)

#: skin tone names -> base RGB (caption says "with <name> skin")
SKIN_TONES: Dict[str, Tuple[int, int, int]] = {
    "fair": (242, 208, 188),
    "light": (226, 182, 150),
    "tan": (196, 146, 106),
    "brown": (150, 102, 70),
    "dark": (96, 66, 46),
}
SKIN_NAMES = tuple(SKIN_TONES)

#: hidden hair colours (adults/teenagers); older people draw from OLD_HAIR
HAIR_COLOURS = {
    "black": (24, 20, 20),
    "dark brown": (58, 40, 28),
    "brown": (108, 72, 42),
    "blonde": (204, 172, 102),
    "auburn": (138, 62, 32),
}
OLD_HAIR = {"gray": (150, 150, 152), "white": (214, 212, 206)}

#: hidden clothing textures of the upper garment
TEXTURES = ("plain", "hstripes", "vstripes", "checks", "dots", "print", "twotone")

# --------------------------------------------------------------------------------------------
# default sampling probabilities; a Domain may override any of them (``identity_shift``)
# --------------------------------------------------------------------------------------------
DEFAULT_PROBS: Dict[str, object] = {
    "female": 0.45,
    "long_hair_female": 0.75,
    "long_hair_male": 0.08,
    "age": (0.2, 0.6, 0.2),              # teenager, adult, older
    "glasses": 0.22,
    "short_sleeve": 0.45,
    "long_top": 0.45,
    "dress_female": 0.3,
    "boots": 0.15,
    "hat": 0.2,
    "bag": 0.45,
    "backpack": 0.6,                     # given bag
    "light_shoes": 0.35,
    # clothing colours: deliberately skewed (black/gray/blue common) so that many people share
    # the same (upper, lower) pair and colours alone do not identify a person.
    "upper": {"black": 0.18, "white": 0.14, "gray": 0.14, "blue": 0.13, "red": 0.09,
              "green": 0.08, "brown": 0.08, "purple": 0.07, "yellow": 0.09},
    "lower": {"black": 0.3, "blue": 0.24, "gray": 0.14, "brown": 0.1, "white": 0.05,
              "green": 0.05, "red": 0.04, "purple": 0.03, "yellow": 0.05},
    "skin": {"fair": 0.22, "light": 0.26, "tan": 0.22, "brown": 0.16, "dark": 0.14},
    "texture": {"plain": 0.4, "hstripes": 0.13, "vstripes": 0.1, "checks": 0.1, "dots": 0.07,
                "print": 0.1, "twotone": 0.1},
}


def _choice(rng: np.random.Generator, table: Mapping[str, float]) -> str:
    keys = list(table)
    p = np.asarray([table[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _jitter_colour(rng: np.random.Generator, rgb: Sequence[int], shade: float = 0.12,
                   hue: int = 10) -> Tuple[int, int, int]:
    """Per-identity shade of a named colour: brightness x(1 +- shade), each channel +- hue."""
    k = 1.0 + rng.uniform(-shade, shade)
    out = [int(np.clip(round(c * k + rng.integers(-hue, hue + 1)), 0, 255)) for c in rgb]
    return (out[0], out[1], out[2])


def nearest_colour(rgb: Sequence[float], names: Sequence[str] = COLOUR_NAMES) -> str:
    """Name of the clothing colour whose base RGB is nearest (Euclidean) to ``rgb``."""
    v = np.asarray(rgb, dtype=np.float64)
    return min(names, key=lambda n: float(((np.asarray(COLOURS[n]) - v) ** 2).sum()))


@dataclass
class Identity:
    """One synthetic person: visible attributes (captioned) + hidden appearance parameters."""

    pid: int
    # --- FineGPR's 13 identity attributes + skin (visible, captioned) ---
    gender: str              # male | female
    hair: str                # short | long
    age: str                 # teenager | adult | older
    glasses: bool
    short_sleeve: bool
    top_length: str          # short | long
    dress: bool              # only for females; drawn instead of trousers
    boots: bool
    hat: bool
    bag: bool
    bag_type: Optional[str]  # backpack | shoulder bag | None
    shoes: str               # dark | light
    upper: str               # COLOUR_NAMES
    lower: str               # COLOUR_NAMES
    skin: str                # SKIN_NAMES
    # --- hidden (not captioned) ---
    height: float            # person height factor (~0.86..1.04 of the nominal)
    build: float             # width factor (~0.82..1.2)
    gait: float              # leg/arm swing amplitude factor
    texture: str             # TEXTURES
    texture_period: float    # stripe/check period (fraction of person height)
    upper_rgb: Tuple[int, int, int]
    lower_rgb: Tuple[int, int, int]
    texture_rgb: Tuple[int, int, int]
    hair_colour: str
    hair_rgb: Tuple[int, int, int]
    skin_rgb: Tuple[int, int, int]
    shoe_rgb: Tuple[int, int, int]
    hat_type: Optional[str]
    hat_rgb: Tuple[int, int, int]
    bag_rgb: Tuple[int, int, int]

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> "Identity":
        names = {f.name for f in fields(cls)}
        missing = names - set(d)
        if missing:
            raise ValueError(f"identity record lacks fields {sorted(missing)}")
        kw = {}
        for k in names:
            v = d[k]
            if k.endswith("_rgb"):
                v = tuple(int(c) for c in v)
            elif k in ("height", "build", "gait", "texture_period"):
                v = float(v)
            elif k == "pid":
                v = int(v)
            kw[k] = v
        return cls(**kw)

    def caption_attributes(self) -> dict:
        """The visible attributes only (what a caption may mention), under the keys of a FineGPR
        attribute record (``data/finegpr_attributes.py``): captions are made from one format."""
        return {FINEGPR_KEY.get(k, k): getattr(self, k) for k in VISIBLE_ATTRIBUTES}


#: the attributes a caption describes (FineGPR's 13 + skin + bag and hat type)
VISIBLE_ATTRIBUTES = ("gender", "hair", "age", "glasses", "short_sleeve", "top_length", "dress",
                      "boots", "hat", "hat_type", "bag", "bag_type", "shoes", "upper", "lower",
                      "skin")
#: Identity fields named otherwise in a FineGPR attribute record; the fields keep their names
#: because they are the keys of every attributes.json SynthPerson has written
FINEGPR_KEY = {"hair": "hair_length", "shoes": "shoe_colour", "upper": "upper_colour",
               "lower": "lower_colour", "skin": "skin_colour"}


def sample_identity(rng: np.random.Generator, pid: int,
                    probs: Optional[Mapping[str, object]] = None) -> Identity:
    """Draw one identity. ``probs`` overrides entries of :data:`DEFAULT_PROBS` (domain shift)."""
    p = dict(DEFAULT_PROBS)
    if probs:
        unknown = set(probs) - set(p)
        if unknown:
            raise KeyError(f"unknown identity probabilities {sorted(unknown)}")
        p.update(probs)
    u = rng.uniform
    female = u() < p["female"]
    gender = "female" if female else "male"
    age = AGES[int(rng.choice(3, p=np.asarray(p["age"]) / np.sum(p["age"])))]
    hair = "long" if u() < (p["long_hair_female"] if female else p["long_hair_male"]) else "short"
    glasses = u() < p["glasses"] * (1.6 if age == "older" else 1.0)
    short_sleeve = u() < p["short_sleeve"]
    top_length = "long" if u() < p["long_top"] else "short"
    dress = female and u() < p["dress_female"]
    boots = u() < p["boots"]
    hat = u() < p["hat"]
    bag = u() < p["bag"]
    bag_type = (BAG_TYPES[0] if u() < p["backpack"] else BAG_TYPES[1]) if bag else None
    shoes = "light" if u() < p["light_shoes"] else "dark"
    upper = _choice(rng, p["upper"])
    lower = _choice(rng, p["lower"])
    skin = _choice(rng, p["skin"])

    # hidden appearance
    height = float(rng.uniform(0.9, 1.04) * (0.9 if age == "teenager" else 1.0)
                   * (0.97 if female else 1.0))
    build = float(rng.uniform(0.82, 1.2) * (0.93 if female else 1.0))
    gait = float(rng.uniform(0.6, 1.3) * (0.75 if age == "older" else 1.0))
    texture = _choice(rng, p["texture"])
    texture_period = float(rng.uniform(0.045, 0.09))
    upper_rgb = _jitter_colour(rng, COLOURS[upper])
    lower_rgb = _jitter_colour(rng, COLOURS[lower])
    # texture colour: a clearly different shade of the same hue for stripes/checks/dots (so the
    # named colour stays the dominant one), a free colour for a small chest print / lower band
    if texture in ("print", "twotone"):
        texture_rgb = _jitter_colour(rng, COLOURS[COLOUR_NAMES[int(rng.integers(9))]], 0.1, 20)
    else:
        base = np.asarray(upper_rgb, dtype=np.float64)
        if base.mean() < 70:
            alt = base * 0.5 + 95
        elif base.mean() > 200:
            alt = base * 0.62
        else:
            alt = base * (0.55 if u() < 0.6 else 1.3) + (0 if u() < 0.5 else 20)
        texture_rgb = tuple(int(c) for c in np.clip(alt, 0, 255))
    if age == "older":
        hair_colour = list(OLD_HAIR)[int(rng.integers(len(OLD_HAIR)))]
        hair_base = OLD_HAIR[hair_colour]
    else:
        names = list(HAIR_COLOURS)
        hair_colour = names[int(rng.choice(len(names), p=[0.4, 0.25, 0.15, 0.12, 0.08]))]
        hair_base = HAIR_COLOURS[hair_colour]
    hair_rgb = _jitter_colour(rng, hair_base, 0.1, 8)
    skin_rgb = _jitter_colour(rng, SKIN_TONES[skin], 0.05, 6)
    shoe_rgb = (_jitter_colour(rng, (210, 205, 196), 0.08, 14) if shoes == "light"
                else _jitter_colour(rng, (44, 36, 32), 0.25, 10))
    hat_type = (HAT_TYPES[int(rng.integers(2))] if hat else None)
    hat_rgb = _jitter_colour(rng, COLOURS[COLOUR_NAMES[int(rng.integers(9))]], 0.1, 16)
    bag_rgb = _jitter_colour(rng, COLOURS[COLOUR_NAMES[int(rng.integers(9))]], 0.15, 16)
    return Identity(pid=int(pid), gender=gender, hair=hair, age=age, glasses=bool(glasses),
                    short_sleeve=bool(short_sleeve), top_length=top_length, dress=bool(dress),
                    boots=bool(boots), hat=bool(hat), bag=bool(bag), bag_type=bag_type,
                    shoes=shoes, upper=upper, lower=lower, skin=skin, height=height, build=build,
                    gait=gait, texture=texture, texture_period=texture_period,
                    upper_rgb=upper_rgb, lower_rgb=lower_rgb, texture_rgb=texture_rgb,
                    hair_colour=hair_colour, hair_rgb=hair_rgb, skin_rgb=skin_rgb,
                    shoe_rgb=shoe_rgb, hat_type=hat_type, hat_rgb=hat_rgb, bag_rgb=bag_rgb)
