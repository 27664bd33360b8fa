"""FineGPR image file names, ``{pid:04d}_c{01-36}_w{01-07}_l{01-07}_p{01-09}.jpg``: the one
definition shared by the folder reader and the SynthPerson writer.

c = camera (a viewpoint, 10 degrees apart; FineGPR's table: c01 = 90, c10 = 180, c19 = 270,
c28 = 0, see ``viewpoint_of``), w = weather, l = illumination, p = scene; the indices are 1-based
positions in the tables below (FineGPR's order).
"""
import os
import re
from typing import Dict

WEATHERS = ("Sunny", "Clouds", "Overcast", "Foggy", "Neutral", "Blizzard", "Snowlight")
ILLUMINATIONS = ("Midnight", "Dawn", "Forenoon", "Noon", "Afternoon", "Dusk", "Night")
NUM_CAMERAS = 36
NUM_SCENES = 9

_NAME_RE = re.compile(r"^(\d{4,})_c(\d{2})_w(\d{2})_l(\d{2})_p(\d{2})\.jpg$")


def format_image_name(pid: int, camera: int, weather: int, illumination: int, scene: int) -> str:
    return f"{pid:04d}_c{camera:02d}_w{weather:02d}_l{illumination:02d}_p{scene:02d}.jpg"


def parse_image_name(name: str) -> Dict[str, int]:
    """FineGPR file name -> {"pid", "camera", "weather", "illumination", "scene"}."""
    m = _NAME_RE.match(os.path.basename(name))
    if m is None:
        raise ValueError(f"not a FineGPR image name (pid_cXX_wXX_lXX_pXX.jpg): {name!r}")
    pid, c, w, l, p = (int(g) for g in m.groups())
    if not (1 <= c <= NUM_CAMERAS and 1 <= w <= len(WEATHERS) and 1 <= l <= len(ILLUMINATIONS)
            and 1 <= p <= NUM_SCENES):
        raise ValueError(f"FineGPR image name with an index out of range: {name!r}")
    return {"pid": pid, "camera": c, "weather": w, "illumination": l, "scene": p}


def viewpoint_of(camera: int) -> float:
    """Viewpoint in degrees of FineGPR camera ``camera`` (1..36), per FineGPR's table: c01 = 90,
    c10 = 180, c19 = 270, c28 = 0, c36 = 80. The angle means what the caption generator reads
    (0 front, 90 right, 180 back, 270 left). The one place the table is written down."""
    if not 1 <= int(camera) <= NUM_CAMERAS:
        raise ValueError(f"FineGPR camera must be 1..{NUM_CAMERAS}, got {camera!r}")
    return float((90 + (int(camera) - 1) * 10) % 360)


def environment_of(name):
    """Environment of an image from its FineGPR file name."""
    parsed = parse_image_name(name)
    return {"camera": parsed["camera"], "viewpoint_deg": viewpoint_of(parsed["camera"]),
            "weather": WEATHERS[parsed["weather"] - 1],
            "illumination": ILLUMINATIONS[parsed["illumination"] - 1], "scene": parsed["scene"]}
