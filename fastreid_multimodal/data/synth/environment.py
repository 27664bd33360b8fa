"""What is random about one SynthPerson image (its :class:`Environment`, drawn from a domain's
tables), and what the weather and the illumination it names do to the picture."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Mapping, NamedTuple, Optional, Tuple

import numpy as np

from .domains import ILLUMINATIONS, SCENES, WEATHERS, Domain, viewpoint_name


class IlluminationEffect(NamedTuple):
    background_gain: float
    person_gain: float    # the person is lit separately: night scenes stay readable
    colour_temperature: Tuple[float, float, float]   # r, g, b gains


class WeatherEffect(NamedTuple):
    contrast: float
    saturation: float
    haze_on_person: float
    haze_on_background: float   # grows with depth (towards the top of the image)
    snow_density: float         # fraction of pixels hit by a snow speck
    snow_streaks: bool
    shadow_strength: float      # of the ground shadow


ILLUMINATION_FX = {
    "Midnight": IlluminationEffect(0.36, 0.7, (0.84, 0.92, 1.16)),
    "Dawn": IlluminationEffect(0.76, 0.84, (1.1, 0.96, 0.9)),
    "Forenoon": IlluminationEffect(0.97, 0.98, (0.98, 1.0, 1.03)),
    "Noon": IlluminationEffect(1.05, 1.05, (1.0, 1.0, 1.0)),
    "Afternoon": IlluminationEffect(1.0, 1.0, (1.05, 1.0, 0.93)),
    "Dusk": IlluminationEffect(0.64, 0.74, (1.2, 0.92, 0.72)),
    "Night": IlluminationEffect(0.44, 0.8, (1.1, 0.98, 0.82)),
}
WEATHER_FX = {
    "Sunny": WeatherEffect(1.12, 1.1, 0.0, 0.0, 0.0, False, 0.45),
    "Clouds": WeatherEffect(1.0, 1.0, 0.0, 0.06, 0.0, False, 0.25),
    "Overcast": WeatherEffect(0.9, 0.85, 0.05, 0.14, 0.0, False, 0.12),
    "Foggy": WeatherEffect(0.85, 0.72, 0.24, 0.55, 0.0, False, 0.05),
    "Neutral": WeatherEffect(1.0, 1.0, 0.0, 0.0, 0.0, False, 0.2),
    "Blizzard": WeatherEffect(0.85, 0.75, 0.14, 0.4, 0.05, True, 0.05),
    "Snowlight": WeatherEffect(0.93, 0.9, 0.05, 0.15, 0.018, False, 0.15),
}
FOG_RGB = np.array([200.0, 202.0, 208.0], dtype=np.float32)
OCCLUDERS = ("pole", "car", "bin", "sign")


@dataclass
class Environment:
    """Everything random about one image (JSON-serialisable; stored in ``images.json``)."""

    camera: int            # 1..36
    weather: int           # 1..7 (WEATHERS)
    illumination: int      # 1..7 (ILLUMINATIONS)
    scene: int             # 1..9 (SCENES)
    viewpoint_deg: float   # 0 front, 90 walking to the image right, 180 back, 270 left
    phase: float           # gait phase (rad)
    stride: float          # swing amplitude of this image (0 = standing)
    zoom: float            # person height scale
    dx: float              # horizontal offset (fraction of width)
    dy: float              # vertical offset (fraction of height)
    light_dir: float       # -1..1, side of the key light
    bg_tile: int
    bg_x: float            # crop position in the background tile (0..1)
    bg_seed: int           # seeds the background tiles (per generation seed and domain)
    occluder: str          # none | pole | car | bin | sign
    occ_x: float
    occ_size: float
    noise_seed: int        # snow, sensor noise and occluder colours

    @property
    def viewpoint(self) -> str:
        return viewpoint_name(self.viewpoint_deg)

    @property
    def weather_name(self) -> str:
        return WEATHERS[self.weather - 1]

    @property
    def illumination_name(self) -> str:
        return ILLUMINATIONS[self.illumination - 1]

    @property
    def scene_name(self) -> str:
        return SCENES[self.scene - 1]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["viewpoint"] = self.viewpoint
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> "Environment":
        kw = {}
        for f in fields(cls):
            v = d[f.name]
            kw[f.name] = (int(v) if f.type in ("int", int) else str(v) if f.type in ("str", str)
                          else float(v))
        return cls(**kw)

    def caption_env(self) -> dict:
        """Names for the caption generator."""
        return {"weather": self.weather_name, "illumination": self.illumination_name,
                "viewpoint": self.viewpoint, "scene": self.scene_name,
                "viewpoint_deg": self.viewpoint_deg}


def sample_environment(rng: np.random.Generator, domain: Domain, bg_seed: int = 0,
                       camera: Optional[int] = None) -> Environment:
    """Draw one image's environment from the domain's tables (``camera`` forces the camera)."""
    if camera is None:
        cam = domain.cameras[int(rng.integers(len(domain.cameras)))]
    else:
        cam = domain.camera(camera)
    weather = int(rng.choice(7, p=domain.weather_probs)) + 1
    illum = int(rng.choice(7, p=domain.illumination_probs)) + 1
    if cam.scenes:
        w = np.array([domain.scene_probs[s - 1] for s in cam.scenes]) + 1e-3
        scene = int(cam.scenes[int(rng.choice(len(cam.scenes), p=w / w.sum()))])
    else:
        scene = int(rng.choice(9, p=domain.scene_probs)) + 1
    base = cam.views[int(rng.integers(len(cam.views)))]
    view = float((base + rng.uniform(-cam.view_jitter, cam.view_jitter)) % 360.0)
    occ = "none"
    if rng.uniform() < domain.occlusion_prob:
        occ = OCCLUDERS[int(rng.integers(len(OCCLUDERS)))]
    return Environment(
        camera=int(cam.cid), weather=weather, illumination=illum, scene=scene,
        viewpoint_deg=round(view, 3),
        phase=round(float(rng.uniform(0, 2 * math.pi)), 4),
        stride=round(float(rng.uniform(0.15, 1.0)), 4),
        zoom=round(float(rng.uniform(*cam.zoom)), 4),
        dx=round(float(rng.uniform(-cam.offset, cam.offset)), 4),
        dy=round(float(rng.uniform(-0.015, 0.015)), 4),
        light_dir=round(float(rng.uniform(-1, 1)), 4),
        bg_tile=int(rng.integers(domain.bg_tiles)),
        bg_x=round(float(rng.uniform()), 4),
        bg_seed=int(bg_seed),
        occluder=occ,
        occ_x=round(float(rng.uniform(0.1, 0.9)), 4),
        occ_size=round(float(rng.uniform(0.5, 1.0)), 4),
        noise_seed=int(rng.integers(2 ** 31)),
    )
