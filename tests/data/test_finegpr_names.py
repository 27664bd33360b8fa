"""FineGPR's viewpoint table (c01 = 90, c10 = 180, c19 = 270, c28 = 0, 10 degrees apart) and the
side of the person that captions built from a file name name."""
import re

import numpy as np
import pytest

from fastreid_multimodal.data.captions import make_caption
from fastreid_multimodal.data.finegpr_names import environment_of, viewpoint_of

ATTRS = {"gender": "male", "hair_length": "short", "age": "adult", "glasses": False,
         "short_sleeve": True, "top_length": "short", "dress": False, "boots": False, "hat": False,
         "bag": False, "shoe_colour": "dark", "upper_colour": "red", "lower_colour": "blue"}
SIDES = {"front": {"front"}, "back": {"back", "behind"}, "left": {"left"}, "right": {"right"}}


@pytest.mark.parametrize("camera,degrees", [(1, 90.0), (10, 180.0), (19, 270.0), (28, 0.0),
                                            (2, 100.0), (36, 80.0)])
def test_viewpoint_table(camera, degrees):
    assert viewpoint_of(camera) == degrees
    assert environment_of(f"0001_c{camera:02d}_w01_l01_p01.jpg")["viewpoint_deg"] == degrees


@pytest.mark.parametrize("camera,side", [(1, "right"), (10, "back"), (19, "left"), (28, "front")])
def test_captions_name_the_side_the_anchor_camera_sees(camera, side):
    env = environment_of(f"0001_c{camera:02d}_w03_l04_p02.jpg")
    for seed in range(12):  # every template, each names the side its own way
        words = set(re.findall(r"[a-z]+", make_caption(ATTRS, env, np.random.default_rng(seed))))
        assert words & SIDES[side], (camera, words)
        assert not words & set().union(*(w for s, w in SIDES.items() if s != side)), (camera, words)


def test_camera_outside_the_table_is_refused():
    with pytest.raises(ValueError, match="1..36"):
        viewpoint_of(37)
