"""FineGPR-C style captions: generated from identity attributes + image environment, and the
``ImageName:<file>, the caption is: <caption>`` line format of caption files.

``make_caption(attrs, env, rng)`` describes every visible identity attribute (gender, age, skin
when known, hair length, glasses, hat, bag, upper colour + sleeve + top length, lower colour /
dress, shoes or boots and their shade; keys as ``finegpr_attributes`` documents them) and the
environment (weather, illumination, viewpoint), in one of several
sentence templates with a few synonyms drawn by ``rng``. Absent accessories are never mentioned
(so "glasses" in a caption means the person wears glasses). All words are common lower-case
English words (BERT uncased vocabulary).
"""
from __future__ import annotations

import re
from typing import Mapping, Tuple

import numpy as np

from .finegpr_names import ILLUMINATIONS, WEATHERS

WEATHER_PHRASES = {
    "sunny": ("on a sunny day", "in sunny weather", "in the sunshine"),
    "clouds": ("on a cloudy day", "in cloudy weather", "under a cloudy sky"),
    "overcast": ("under heavy clouds", "on a dull day", "under a dark sky"),
    "foggy": ("in the fog", "in fog", "in the mist"),
    "neutral": ("in mild weather", "on a calm day", "in normal weather"),
    "blizzard": ("in a blizzard", "in a heavy snow storm", "in a snow storm"),
    "snowlight": ("in light snow", "while a little snow is falling", "in a light snowfall"),
}
ILLUMINATION_PHRASES = {
    "midnight": ("at midnight",),
    "dawn": ("at dawn", "at sunrise"),
    "forenoon": ("in the morning",),
    "noon": ("at noon", "at midday"),
    "afternoon": ("in the afternoon",),
    "dusk": ("at dusk", "at sunset"),
    "night": ("at night", "in the night"),
}
VIEW_PHRASES = {  # (adjective form for "with X viewpoint", "seen from ..." form)
    "front": ("front", ("from the front",)),
    "back": ("back", ("from behind", "from the back")),
    "left": ("left", ("from the left side", "walking to the left")),
    "right": ("right", ("from the right side", "walking to the right")),
}
GENDER_WORDS = {
    ("male", "teenager"): ("boy", "male", "young man"),
    ("male", "adult"): ("man", "male"),
    ("male", "older"): ("man", "male"),
    ("female", "teenager"): ("girl", "female", "young woman"),
    ("female", "adult"): ("woman", "female", "lady"),
    ("female", "older"): ("woman", "female", "lady"),
}
AGE_WORDS = {"teenager": ("teenage", "young"), "adult": ("adult",), "older": ("old", "elderly")}
PRONOUN = {"male": "he", "female": "she"}

_LINE_RE = re.compile(r"^\s*ImageName:\s*(?P<name>[^,\s][^,]*?)\s*,\s*the caption is:"
                      r"\s*(?P<cap>.*)$", re.IGNORECASE)


def _pick(rng: np.random.Generator, options):
    if isinstance(options, str):
        return options
    return options[int(rng.integers(len(options)))]


def _env_name(env: Mapping, key: str, names) -> str:
    v = env.get(key)
    if v is None:
        raise KeyError(f"caption environment lacks '{key}'")
    if isinstance(v, (int, np.integer)):
        v = names[int(v) - 1]
    return str(v).lower()


def _viewpoint(env: Mapping) -> str:
    v = env.get("viewpoint")
    if v is None and "viewpoint_deg" in env:
        v = ("front", "right", "back", "left")[int(((float(env["viewpoint_deg"]) % 360) + 45)
                                                   // 90) % 4]
    if v is None:
        raise KeyError("caption environment lacks 'viewpoint'")
    return str(v).lower()


def _join(items):
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def make_caption(attrs: Mapping, env: Mapping, rng: np.random.Generator) -> str:
    """One FineGPR-C style caption (lower case, ends with a full stop).

    ``attrs``: an identity record with the keys of ``finegpr_attributes.ATTRIBUTES`` (SynthPerson:
    ``Identity.caption_attributes()``); ``env``: ``weather`` and ``illumination`` (names or 1-based
    FineGPR indices) and ``viewpoint`` (front/back/left/right) or ``viewpoint_deg``.
    """
    gender, age = attrs["gender"], attrs["age"]
    who = _pick(rng, GENDER_WORDS[(gender, age)])
    age_w = _pick(rng, AGE_WORDS[age])
    subject = f"{age_w} {who}" if not who.startswith("young") else who
    if age == "teenager" and who.startswith("young"):
        subject = f"teenage {who.split()[1]}" if rng.uniform() < 0.5 else who
    # FineGPR's own attributes have no skin colour: without one the caption leaves it out
    skin = f"{attrs['skin_colour']} skin" if attrs.get("skin_colour") else ""
    hair = f"{attrs['hair_length']} hair"
    sleeve = "short" if attrs["short_sleeve"] else "long"
    top = attrs["top_length"]
    upper_c, lower_c = attrs["upper_colour"], attrs["lower_colour"]
    upper = _pick(rng, (f"a {upper_c} {top} top with {sleeve} sleeves",
                        f"{upper_c} upper-body clothes with {sleeve} sleeves and a {top} top",
                        f"a {top} {upper_c} top with {sleeve} sleeves"))
    if attrs["dress"]:
        lower = _pick(rng, (f"a {lower_c} dress", f"a {lower_c} skirt dress"))
    else:
        lower = _pick(rng, (f"{lower_c} trousers", f"{lower_c} pants",
                            f"{lower_c} lower-body clothes"))
    footwear = "boots" if attrs["boots"] else "shoes"
    shoes = f"{attrs['shoe_colour']} {footwear}"
    acc = []
    if attrs["glasses"]:
        acc.append("glasses")
    if attrs["hat"]:
        acc.append(_pick(rng, ("a cap", "a baseball cap")) if attrs.get("hat_type") == "cap"
                   else _pick(rng, ("a hat", "a winter hat", "a wool hat")))
    bag_phrase = ""
    if attrs["bag"]:
        bag_phrase = ("a backpack" if attrs.get("bag_type") == "backpack"
                      else _pick(rng, ("a shoulder bag", "a bag over the shoulder")))

    weather = _pick(rng, WEATHER_PHRASES[_env_name(env, "weather", WEATHERS)])
    illum = _pick(rng, ILLUMINATION_PHRASES[_env_name(env, "illumination", ILLUMINATIONS)])
    view = _viewpoint(env)
    view_adj, view_seen = VIEW_PHRASES[view]
    view_seen = _pick(rng, view_seen)
    pron = PRONOUN[gender]

    t = int(rng.integers(4))
    if t == 0:  # FineGPR-C order
        extra = ""
        if acc or bag_phrase:
            extra = ", with " + _join(acc + ([bag_phrase] if bag_phrase else []))
        cap = (f"there is a {subject} with {_join([skin, hair])}, who wears {upper}, {lower}, "
               f"{shoes}{extra} {weather} {illum}, and with {view_adj} viewpoint.")
    elif t == 1:
        carry = f", and carries {bag_phrase}" if bag_phrase else ""
        with_skin = f" with {skin}" if skin else ""
        cap = (f"a {subject}{with_skin} is seen {view_seen} {weather} {illum}. "
               f"{pron} has {hair} and wears {_join([upper, lower, shoes] + acc)}{carry}.")
    elif t == 2:
        carry = f", carrying {bag_phrase}" if bag_phrase else ""
        wearing = f" wearing {_join(acc)}," if acc else ""
        cap = (f"{illum} {weather}, a {subject} with {_join([hair, skin])},{wearing} is dressed in "
               f"{upper} and {lower} with {shoes}{carry}; the {view_adj} view of the person.")
    else:
        items = [upper, lower, shoes] + acc + ([bag_phrase] if bag_phrase else [])
        cap = (f"the photo shows a {subject} {view_seen}, {weather} {illum}. the {who} has "
               f"{_join([skin, hair])}, and has {_join(items)}.")
    cap = re.sub(r"\s+", " ", cap).replace(" ,", ",").strip()
    cap = re.sub(r"\ba (?=[aeiou])", "an ", cap)
    return cap[0].lower() + cap[1:]


def format_caption_line(image_name: str, caption: str) -> str:
    """``ImageName:<file>, the caption is: <caption>`` (no newline)."""
    if "\n" in caption or "\n" in image_name:
        raise ValueError("caption and image name must be single-line")
    return f"ImageName:{image_name}, the caption is: {caption}"


def parse_caption_line(line: str) -> Tuple[str, str]:
    """Parse one ``ImageName:<file>, the caption is: <caption>`` line -> (image_name, caption).

    Raises ``ValueError`` naming what is wrong (the caller adds file and line number).
    """
    text = line.rstrip("\r\n")
    m = _LINE_RE.match(text)
    shown = text if len(text) <= 80 else text[:77] + "..."
    if m is None:
        if not text.strip():
            raise ValueError("empty caption line")
        raise ValueError("malformed caption line, expected 'ImageName:<file>, the caption is: "
                         f"<caption>', got {shown!r}")
    name, cap = m.group("name").strip(), m.group("cap").strip()
    if not cap:
        raise ValueError(f"caption line has an empty caption: {shown!r}")
    return name, cap


def read_caption_lines(path: str):
    """Yield (line number, image name, caption) of a caption file; a malformed or non-UTF-8 line
    is a ``DataFormatError`` naming ``path:line``. Blank lines are skipped."""
    from ..errors import DataFormatError
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataFormatError(f"{path}:{number}: not UTF-8 text ({exc.reason} at byte "
                                      f"{exc.start} of the line)") from None
            if not line.strip():
                continue
            try:
                name, caption = parse_caption_line(line)
            except ValueError as exc:
                raise DataFormatError(f"{path}:{number}: {exc}") from None
            yield number, name, caption


# -- key words (DMF §3.2: the text path reads "key words of fine-grained attribute annotations") --
#: phrases that describe the image, not the person: weather, light, viewpoint (ours and FineGPR-C's
#: "in a blizzard night, and with back viewpoint")
ENVIRONMENT_PHRASES = tuple(sorted(
    {p for ps in WEATHER_PHRASES.values() for p in ps}
    | {p for ps in ILLUMINATION_PHRASES.values() for p in ps}
    | {p for _, ps in VIEW_PHRASES.values() for p in ps}
    | {f"with {adj} viewpoint" for adj, _ in VIEW_PHRASES.values()}
    | {f"the {adj} view of the person" for adj, _ in VIEW_PHRASES.values()}
    | {f"in a {w.lower()} {i.lower()}" for w in WEATHERS for i in ILLUMINATIONS},
    key=len, reverse=True))
#: the words that name an identity attribute (FineGPR's 13 + skin): who, hair, clothes and their
#: colours, shoes, accessories. Everything else (articles, verbs, environment) is dropped.
IDENTITY_WORDS = frozenset((
    "man male boy young woman female girl lady teenage adult old elderly "
    "skin fair light tan brown dark hair long short glasses cap baseball hat winter wool beanie "
    "backpack shoulder bag top sleeves upper-body lower-body clothes trousers pants dress skirt "
    "shoes boots black white red purple gray grey yellow blue green").split())
_ENVIRONMENT_RE = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in ENVIRONMENT_PHRASES) + r")\b")
_WORD_RE = re.compile(r"[a-z]+(?:-[a-z]+)*")


def identity_keywords(caption: str) -> str:
    """The identity-attribute words of a caption, in order: environment phrases removed first
    (so "light" of "in light snow" is not kept as a shoe shade), then every other word dropped."""
    text = _ENVIRONMENT_RE.sub(" ", caption.lower())
    return " ".join(w for w in _WORD_RE.findall(text) if w in IDENTITY_WORDS)
