"""Draw one SynthPerson image and its foreground mask (numpy + PIL only).

Pipeline of :func:`render` (all of it deterministic given identity, environment, domain, size):

1. The pedestrian is drawn with ``PIL.ImageDraw`` as a *part-label map* (one uint8 label per
   pixel: skin, hair, upper garment, lower garment, shoes, hat, bag, ...), back to front so that
   the far arm/leg, a backpack or long hair are hidden where the body covers them. Geometry is a
   tiny 3-D model: every body point has a lateral and a forward coordinate that the viewpoint
   angle rotates, so widths, the visible face/back of the head, the bag side, the visible arm and
   the walking stride all follow the viewpoint. Occluders (pole, car, bin, sign) are drawn last
   with labels that do NOT count as foreground.
2. Clothing texture (stripes, checks, dots, print, two-tone) relabels garment pixels; a palette
   lookup turns labels into colours; cylindrical body shading, a ground shadow and a random crop of
   a cached, procedurally painted background tile (per domain and scene) complete the scene.
3. Illumination (brightness and colour temperature, person lit separately from the background),
   weather (contrast, haze towards grey growing with depth, snow specks/streaks) and the camera
   (white-balance cast, contrast, saturation, low resolution = render small and upscale, blur,
   sensor noise) are applied.

Low-resolution cameras render everything at ``camera.res`` x max(output height, 128) rows (at most
the output size) and upscale; the mask is upscaled with nearest neighbour so it stays aligned.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Dict, Mapping, Optional, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .attributes import Identity
from .domains import (ILLUMINATIONS, SCENES, WEATHERS, Domain, Palette, get_domain,
                      viewpoint_name)

# ------------------------------------------------------------------------------------------
# part labels (label map values); 1..199 are foreground
# ------------------------------------------------------------------------------------------
BG, SKIN, SKIN_FAR, HAIR, UPPER, UPPER_ALT, UPPER_FAR, LOWER, LOWER_FAR = range(9)
SHOES, SHOES_FAR, HAT, BAG, STRAP, EYES, GLASSES, SLEEVE = range(9, 17)
SHADOW = 200
OCC1, OCC2, OCC3 = 240, 241, 242
PART_NAMES = {BG: "background", SKIN: "skin", SKIN_FAR: "skin", HAIR: "hair", UPPER: "upper",
              UPPER_ALT: "upper", UPPER_FAR: "upper", LOWER: "lower", LOWER_FAR: "lower",
              SHOES: "shoes", SHOES_FAR: "shoes", HAT: "hat", BAG: "bag", STRAP: "bag",
              EYES: "skin", GLASSES: "glasses", SLEEVE: "upper", SHADOW: "background",
              OCC1: "occluder",
              OCC2: "occluder", OCC3: "occluder"}

_FG_LUT = np.zeros(256, dtype=bool)
_FG_LUT[1:SHADOW] = True
_OPAQUE_LUT = _FG_LUT.copy()
_OPAQUE_LUT[OCC1:OCC3 + 1] = True

# ------------------------------------------------------------------------------------------
# environment effects
# ------------------------------------------------------------------------------------------
#: illumination -> (background gain, person gain, colour temperature gains r,g,b)
ILLUMINATION_FX = {
    "Midnight": (0.36, 0.7, (0.84, 0.92, 1.16)),
    "Dawn": (0.76, 0.84, (1.1, 0.96, 0.9)),
    "Forenoon": (0.97, 0.98, (0.98, 1.0, 1.03)),
    "Noon": (1.05, 1.05, (1.0, 1.0, 1.0)),
    "Afternoon": (1.0, 1.0, (1.05, 1.0, 0.93)),
    "Dusk": (0.64, 0.74, (1.2, 0.92, 0.72)),
    "Night": (0.44, 0.8, (1.1, 0.98, 0.82)),
}
#: weather -> (contrast, saturation, haze on person, haze on background, snow density,
#:             snow streaks, ground-shadow strength)
WEATHER_FX = {
    "Sunny": (1.12, 1.1, 0.0, 0.0, 0.0, False, 0.45),
    "Clouds": (1.0, 1.0, 0.0, 0.06, 0.0, False, 0.25),
    "Overcast": (0.9, 0.85, 0.05, 0.14, 0.0, False, 0.12),
    "Foggy": (0.85, 0.72, 0.24, 0.55, 0.0, False, 0.05),
    "Neutral": (1.0, 1.0, 0.0, 0.0, 0.0, False, 0.2),
    "Blizzard": (0.85, 0.75, 0.14, 0.4, 0.05, True, 0.05),
    "Snowlight": (0.93, 0.9, 0.05, 0.15, 0.018, False, 0.15),
}
FOG_RGB = np.array([200.0, 202.0, 208.0], dtype=np.float32)
OCCLUDERS = ("pole", "car", "bin", "sign")


# ------------------------------------------------------------------------------------------
# environment record
# ------------------------------------------------------------------------------------------
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


# ------------------------------------------------------------------------------------------
# backgrounds: a few procedurally painted tiles per (domain, scene), random crops of them
# ------------------------------------------------------------------------------------------
_TILE_CACHE: Dict[tuple, np.ndarray] = {}
_TILE_CACHE_MAX = 512


def _jit(rng, rgb, amount=12):
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in rgb)


def _pick(rng, options, amount=12):
    return _jit(rng, options[int(rng.integers(len(options)))], amount)


def _sky(arr, y1, pal: Palette):
    """Vertical sky gradient on rows [0, y1)."""
    if y1 <= 0:
        return
    t = np.linspace(0.0, 1.0, y1, dtype=np.float32)[:, None]
    top = np.asarray(pal.sky[0], np.float32)
    bot = np.asarray(pal.sky[1], np.float32)
    arr[:y1] = (top * (1 - t) + bot * t)[:, None, :]


def _pavement(d, rng, W, H, y0, pal: Palette, colour=None):
    """Ground from row y0 with perspective joints (tile lines spread towards the bottom)."""
    c = colour or _pick(rng, pal.pavement, 8)
    d.rectangle([0, y0, W, H], fill=c)
    line = tuple(max(0, v - 28) for v in c)
    y, step = float(y0), max(1.5, (H - y0) * 0.08)
    while y < H:
        d.line([(0, int(y)), (W, int(y))], fill=line)
        step *= 1.35
        y += step
    vx = W * rng.uniform(0.3, 0.7)
    for k in range(-12, 13):
        d.line([(vx + k * W * 0.02, y0), (vx + k * W * 0.16, H)], fill=line)


def _snow_caps(d, rng, W, y, pal: Palette, n=20):
    if pal.snow <= 0:
        return
    for _ in range(n):
        x = rng.uniform(0, W)
        r = rng.uniform(2, 8)
        d.ellipse([x - r, y - r * 0.4, x + r, y + r * 0.4], fill=(236, 240, 246))


def _trees(d, rng, W, H, y_base, pal: Palette, n, size):
    for _ in range(n):
        x = rng.uniform(-10, W + 10)
        r = size * rng.uniform(0.6, 1.3)
        trunk_h = r * rng.uniform(0.8, 1.6)
        tw = max(1.0, r * 0.18)
        d.rectangle([x - tw, y_base - trunk_h, x + tw, y_base], fill=_jit(rng, pal.trunk, 10))
        c = _pick(rng, pal.foliage, 14)
        cy = y_base - trunk_h - r * 0.6
        d.ellipse([x - r, cy - r, x + r, cy + r], fill=c)
        if pal.snow > 0:
            d.ellipse([x - r * 0.8, cy - r, x + r * 0.8, cy - r * 0.35], fill=(232, 236, 242))


def _paint_scene(scene: int, rng: np.random.Generator, H: int, W: int,
                 pal: Palette) -> np.ndarray:
    """Paint one background tile (H x W) of scene 1..9 in the palette's colours."""
    arr = np.zeros((H, W, 3), np.float32)
    if scene in (3, 5, 6, 8, 9):
        _sky(arr, int(H * 0.75), pal)
    img = Image.fromarray(arr.astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    lit = pal.lit_windows

    def window_colour():
        if lit > 0 and rng.uniform() < lit:
            return _jit(rng, pal.lit, 16)
        return _pick(rng, pal.windows, 10)

    if scene == 1:  # brick wall + pavement
        wall = _pick(rng, pal.walls, 10)
        gy = int(H * rng.uniform(0.6, 0.72))
        d.rectangle([0, 0, W, gy], fill=wall)
        bh = max(2.0, H * rng.uniform(0.028, 0.045))
        bw = bh * rng.uniform(2.0, 2.8)
        mort = _jit(rng, pal.mortar, 8) if pal.snow <= 0 else (200, 200, 204)
        row, y = 0, 0.0
        while y < gy:
            d.line([(0, int(y)), (W, int(y))], fill=mort)
            x = -(row % 2) * bw / 2
            while x < W:
                d.line([(int(x), int(y)), (int(x), int(min(gy, y + bh)))], fill=mort)
                x += bw
            y += bh
            row += 1
        for _ in range(int(rng.integers(1, 3))):  # doors / windows in the wall
            x = rng.uniform(0, W)
            ww = W * rng.uniform(0.06, 0.12)
            d.rectangle([x, gy * rng.uniform(0.1, 0.4), x + ww, gy - 1], fill=window_colour())
        _pavement(d, rng, W, H, gy, pal)
    elif scene == 2:  # office facade with a window grid
        wall = _pick(rng, pal.walls, 10)
        gy = int(H * rng.uniform(0.62, 0.72))
        d.rectangle([0, 0, W, gy], fill=wall)
        cw = W * rng.uniform(0.05, 0.08)
        ch = H * rng.uniform(0.12, 0.18)
        y = H * rng.uniform(0.0, 0.05)
        while y + ch * 0.7 < gy:
            x = rng.uniform(0, cw)
            while x < W:
                d.rectangle([x, y, x + cw * 0.7, y + ch * 0.7], fill=window_colour())
                x += cw
            y += ch
        d.rectangle([0, gy - H * 0.03, W, gy], fill=tuple(max(0, v - 30) for v in wall))
        _pavement(d, rng, W, H, gy, pal)
    elif scene == 3:  # street: skyline, road, sidewalk
        hz = H * rng.uniform(0.35, 0.45)
        x = 0.0
        while x < W:
            bw = W * rng.uniform(0.04, 0.1)
            top = hz - H * rng.uniform(0.05, 0.3)
            c = _pick(rng, pal.walls, 20)
            d.rectangle([x, top, x + bw, hz + H * 0.15], fill=c)
            for yy in np.arange(top + 2, hz + H * 0.1, max(2.0, H * 0.04)):
                d.line([(x + 1, yy), (x + bw - 1, yy)], fill=window_colour())
            x += bw
        ry = hz + H * 0.15
        sy = ry + H * rng.uniform(0.12, 0.2)
        d.rectangle([0, ry, W, sy], fill=_jit(rng, pal.road, 6))
        my = (ry + sy) / 2
        for xx in np.arange(0, W, W * 0.06):
            d.line([(xx, my), (xx + W * 0.03, my)], fill=(220, 220, 200) if not pal.snow
                   else (240, 240, 244))
        _pavement(d, rng, W, H, int(sy), pal)
    elif scene == 4:  # shop fronts with awnings
        wall = _pick(rng, pal.walls, 10)
        gy = int(H * rng.uniform(0.64, 0.74))
        d.rectangle([0, 0, W, gy], fill=wall)
        x = 0.0
        while x < W:
            sw = W * rng.uniform(0.12, 0.2)
            aw = _pick(rng, pal.awnings, 14)
            ay = H * rng.uniform(0.18, 0.3)
            d.rectangle([x + 2, ay + H * 0.06, x + sw - 2, gy], fill=window_colour())
            d.polygon([(x, ay), (x + sw, ay), (x + sw + 2, ay + H * 0.07),
                       (x - 2, ay + H * 0.07)], fill=aw)
            for xs in np.arange(x, x + sw, max(2.0, sw / 6))[::2]:
                d.rectangle([xs, ay, xs + max(1.0, sw / 12), ay + H * 0.07],
                            fill=(235, 235, 230))
            d.rectangle([x + sw * 0.6, ay + H * 0.1, x + sw * 0.85, gy],
                        fill=tuple(max(0, v - 50) for v in wall))
            x += sw + W * rng.uniform(0.0, 0.04)
        _pavement(d, rng, W, H, gy, pal)
    elif scene == 5:  # plaza: distant buildings, large floor tiles
        hz = int(H * rng.uniform(0.38, 0.48))
        x = 0.0
        while x < W:
            bw = W * rng.uniform(0.08, 0.2)
            d.rectangle([x, hz - H * rng.uniform(0.05, 0.15), x + bw, hz],
                        fill=_pick(rng, pal.walls, 20))
            x += bw
        c1 = _pick(rng, pal.pavement, 6)
        c2 = tuple(max(0, v - 22) for v in c1)
        y, step, k = float(hz), max(1.5, H * 0.03), 0
        while y < H:
            d.rectangle([0, y, W, y + step], fill=c1 if k % 2 else c2)
            y += step
            step *= 1.28
            k += 1
        vx = W * 0.5
        for j in range(-16, 17):
            d.line([(vx + j * W * 0.015, hz), (vx + j * W * 0.09, H)], fill=c2)
    elif scene == 6:  # park: tree line, lawn, path
        hz = int(H * rng.uniform(0.45, 0.55))
        d.rectangle([0, hz, W, H], fill=_pick(rng, pal.grass, 8))
        _trees(d, rng, W, H, hz + 2, pal, int(W / 14) + 3, H * 0.12)
        py = H * rng.uniform(0.78, 0.86)
        d.polygon([(0, py), (W, py - H * 0.05), (W, H), (0, H)], fill=_jit(rng, pal.dirt, 8))
    elif scene == 7:  # forest: dense canopy and trunks, dirt floor
        hz = int(H * rng.uniform(0.6, 0.7))
        canopy = _pick(rng, pal.foliage, 6)
        d.rectangle([0, 0, W, hz], fill=tuple(max(0, v - 15) for v in canopy))
        for _ in range(int(W / 3)):
            x, y = rng.uniform(0, W), rng.uniform(-5, hz * 0.7)
            r = H * rng.uniform(0.05, 0.14)
            d.ellipse([x - r, y - r, x + r, y + r], fill=_pick(rng, pal.foliage, 18))
        for _ in range(int(W / 12) + 3):
            x = rng.uniform(0, W)
            tw = max(1.0, W * rng.uniform(0.006, 0.02))
            d.rectangle([x - tw, H * rng.uniform(0.0, 0.3), x + tw, hz + H * 0.02],
                        fill=_jit(rng, pal.trunk, 12))
        d.rectangle([0, hz, W, H], fill=_jit(rng, pal.dirt if not pal.snow else pal.grass[0], 8))
        _snow_caps(d, rng, W, hz + 3, pal, int(W / 8))
    elif scene == 8:  # field: clouds, hills, grass
        hz = H * rng.uniform(0.45, 0.55)
        for _ in range(int(W / 25) + 2):
            x, y = rng.uniform(0, W), rng.uniform(0, hz * 0.6)
            r = H * rng.uniform(0.04, 0.09)
            c = tuple(min(255, v + 30) for v in pal.sky[1])
            d.ellipse([x - r * 2.2, y - r, x + r * 2.2, y + r], fill=c)
        g1 = _pick(rng, pal.grass, 8)
        pts = [(0, H)]
        f, a = rng.uniform(0.01, 0.03), H * rng.uniform(0.03, 0.08)
        ph = rng.uniform(0, 6.28)
        for x in range(0, W + 8, 8):
            pts.append((x, hz - a * (1 + math.sin(x * f + ph))))
        pts.append((W, H))
        d.polygon(pts, fill=tuple(max(0, v - 25) for v in g1))
        d.rectangle([0, hz + H * 0.04, W, H], fill=g1)
        for _ in range(int(W / 2)):
            x, y = rng.uniform(0, W), rng.uniform(hz + H * 0.05, H)
            d.line([(x, y), (x + 2, y)], fill=_jit(rng, g1, 22))
    else:  # 9 mountain: peaks with snow caps, rocky ground
        hz = H * rng.uniform(0.5, 0.6)
        x = -W * 0.1
        while x < W:
            pw = W * rng.uniform(0.15, 0.3)
            ph = H * rng.uniform(0.15, 0.35)
            c = _pick(rng, pal.mountain, 10)
            d.polygon([(x, hz), (x + pw / 2, hz - ph), (x + pw, hz)], fill=c)
            d.polygon([(x + pw / 2 - pw * 0.12, hz - ph * 0.76), (x + pw / 2, hz - ph),
                       (x + pw / 2 + pw * 0.12, hz - ph * 0.76)], fill=(236, 238, 244))
            x += pw * rng.uniform(0.5, 0.8)
        d.rectangle([0, hz, W, H], fill=_jit(rng, pal.dirt, 8))
        for _ in range(int(W / 6)):
            x, y = rng.uniform(0, W), rng.uniform(hz, H)
            r = H * rng.uniform(0.005, 0.03) * (0.5 + (y - hz) / (H - hz))
            d.ellipse([x - r * 1.5, y - r, x + r * 1.5, y + r],
                      fill=_pick(rng, pal.mountain, 20))
    if pal.lamps:  # street lamps: posts (drawn) + additive glow (numpy, below)
        lamp_xy = []
        for _ in range(int(rng.integers(2, 5))):
            lx = rng.uniform(0, W)
            ly = H * rng.uniform(0.12, 0.3)
            d.line([(lx, ly), (lx, H * 0.75)], fill=(30, 30, 34), width=max(1, W // 120))
            lamp_xy.append((lx, ly))
    arr = np.asarray(img, dtype=np.float32)
    if pal.lamps:
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        glow = np.zeros((H, W), np.float32)
        for lx, ly in lamp_xy:
            r2 = (H * 0.18) ** 2
            glow += np.exp(-((xx - lx) ** 2 + (yy - ly) ** 2) / r2)
        arr = arr + glow[..., None] * np.asarray([200.0, 160.0, 90.0], np.float32)
    if pal.texture > 0:
        n = rng.standard_normal((H, W, 1), dtype=np.float32) * pal.texture
        arr = arr + n + rng.standard_normal((H, W, 3), dtype=np.float32) * (pal.texture * 0.3)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    img = img.filter(ImageFilter.GaussianBlur(0.5 if H < 80 else 0.7))  # depth of field
    return np.asarray(img, dtype=np.float32)


def background_tile(domain: Domain, scene: int, index: int, bg_seed: int, H: int,
                    W: int) -> np.ndarray:
    """Cached float32 tile of ``H`` rows and ``4 W`` columns (random crops make backgrounds)."""
    key = (domain.name, domain.salt, domain.palette, int(scene), int(index), int(bg_seed), H, W)
    tile = _TILE_CACHE.get(key)
    if tile is None:
        if len(_TILE_CACHE) >= _TILE_CACHE_MAX:
            _TILE_CACHE.clear()
        rng = np.random.default_rng([int(bg_seed), domain.salt, int(scene), int(index), H, W])
        tile = _paint_scene(int(scene), rng, H, 4 * W, domain.palette)
        tile.setflags(write=False)
        _TILE_CACHE[key] = tile
    return tile


# ------------------------------------------------------------------------------------------
# the pedestrian
# ------------------------------------------------------------------------------------------
def _proj(a, b, c, s):
    """Half-width on screen of an ellipse with lateral half-axis a and forward half-axis b."""
    return math.sqrt((a * c) ** 2 + (b * s) ** 2)


class _Pen:
    """Draws in person units onto the label map."""

    __slots__ = ("d", "cx", "top", "P", "c", "s")

    def __init__(self, d, cx, top, P, c, s):
        self.d, self.cx, self.top, self.P, self.c, self.s = d, cx, top, P, c, s

    def x(self, xl, z=0.0):
        return self.cx + (xl * self.c + z * self.s) * self.P

    def y(self, f):
        return self.top + f * self.P

    def depth(self, xl, z=0.0):
        return z * self.c - xl * self.s

    def limb(self, p0, p1, width, label):
        w = max(1.0, width * self.P)
        self.d.line([p0, p1], fill=label, width=max(1, int(round(w))))
        r = w / 2.0
        if r >= 0.9:
            self.d.ellipse([p1[0] - r, p1[1] - r, p1[0] + r, p1[1] + r], fill=label)
            self.d.ellipse([p0[0] - r, p0[1] - r, p0[0] + r, p0[1] + r], fill=label)

    def ellipse(self, cx, cy, rx, ry, label):
        self.d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=label)

    def poly(self, pts, label):
        self.d.polygon(pts, fill=label)


def _draw_person(d: ImageDraw.ImageDraw, ident: Identity, env: Environment, H: int, W: int):
    """Draw the pedestrian onto label map ``d``; return (cx, half body width px, top, P)."""
    P = H * 0.86 * ident.height * env.zoom
    feet = H * (0.975 + env.dy)
    top = feet - P
    cx = W * (0.5 + env.dx)
    th = math.radians(env.viewpoint_deg)
    c, s = math.cos(th), math.sin(th)
    pen = _Pen(d, cx, top, P, c, s)
    b = ident.build
    female = ident.gender == "female"
    teen = ident.age == "teenager"
    older = ident.age == "older"
    face_vis = c > -0.3

    # proportions (units of P)
    head_r = 0.066 * (1.08 if teen else 1.0)
    head_a, head_b = 0.052 * (1.05 if teen else 1.0), 0.06
    hw = _proj(head_a, head_b, c, s) * P          # head half-width px
    hr = head_r * P
    stoop = 0.025 if older else 0.0
    hx = pen.x(0.0, stoop)
    hy = pen.y(head_r + 0.004 + stoop * 0.4)
    sh_y = 2 * head_r + 0.05
    sh_a = (0.118 if female else 0.138) * b
    t_b = 0.068 * b
    waist_a = (0.088 if female else 0.104) * b
    hip_a = (0.112 if female else 0.104) * b
    waist_y, hip_y = 0.45, 0.51
    top_end = 0.585 if ident.top_length == "long" else 0.49
    arm_w = 0.048 * math.sqrt(b)
    leg_w = (0.066 if female else 0.074) * math.sqrt(b)
    swing = ident.gait * env.stride

    sw = _proj(sh_a, t_b, c, s) * P
    ww = _proj(waist_a, t_b * 0.95, c, s) * P
    hipw = _proj(hip_a, t_b * 1.05, c, s) * P
    tx = pen.x(0.0, stoop * 0.4)  # shoulders lean a little with a stoop

    # ground shadow (not foreground)
    sl = (0.25 + 0.2 * abs(s)) * P
    pen.ellipse(cx + env.light_dir * 0.08 * P, feet - 0.004 * P, sl, 0.03 * P, SHADOW)

    def far(label_near, label_far, dep):
        return label_far if dep < -0.02 else label_near

    # ---------------- hair behind the head (long hair, face-visible views)
    long_hair = ident.hair == "long"
    if long_hair and face_vis:
        ytop = hy
        ybot = pen.y(0.28 if female else 0.22)
        bx = hx - s * hw * 0.5
        pen.poly([(bx - hw * 1.12, ytop), (bx + hw * 1.12, ytop), (bx + hw * 1.25, ybot),
                  (bx - hw * 1.25, ybot)], HAIR)

    # ---------------- bags behind the body
    bag_items = []
    if ident.bag and ident.bag_type == "backpack":
        zc = -(t_b + 0.045)
        bw_ = _proj(0.088, 0.045, c, s) * P
        bx = pen.x(0.0, zc)
        dep = pen.depth(0.0, zc)
        box = [bx - bw_, pen.y(sh_y + 0.025), bx + bw_, pen.y(0.46)]

        def draw_backpack(box=box):
            d.rounded_rectangle(box, radius=max(1, int(0.025 * P)), fill=BAG)
            ym = box[1] + (box[3] - box[1]) * 0.42
            d.line([(box[0] + 1, ym), (box[2] - 1, ym)], fill=STRAP,
                   width=max(1, int(0.012 * P)))
        bag_items.append((dep, draw_backpack))
    elif ident.bag:
        xl = hip_a + 0.035
        dep = pen.depth(xl, 0.0)
        bx = pen.x(xl, 0.0)
        bw_ = _proj(0.028, 0.065, c, s) * P
        box = [bx - bw_, pen.y(0.43), bx + bw_, pen.y(0.545)]

        def draw_sbag(box=box):
            d.rounded_rectangle(box, radius=max(1, int(0.015 * P)), fill=BAG)
        bag_items.append((dep, draw_sbag))
    for dep, fn in bag_items:
        if dep < 0:
            fn()

    # ---------------- arms (computed now, drawn behind or in front of the torso)
    arms = []
    for side in (1.0, -1.0):
        xl = side * (sh_a - arm_w * 0.3)
        phi = 0.42 * swing * math.sin(env.phase + (math.pi if side > 0 else 0.0))
        y0 = sh_y + 0.018
        ze, ye = 0.165 * math.sin(phi), y0 + 0.165 * math.cos(phi)
        phi2 = phi + 0.12 + 0.5 * max(phi, 0.0)
        zw, yw = ze + 0.155 * math.sin(phi2), ye + 0.155 * math.cos(phi2)
        xo = side * 0.014
        p_sh = (pen.x(xl, 0.0), pen.y(y0))
        p_el = (pen.x(xl + xo, ze), pen.y(ye))
        p_wr = (pen.x(xl + xo * 1.3, zw), pen.y(yw))
        dep = pen.depth(xl, (ze + zw) * 0.5) + 0.03
        arms.append((dep, p_sh, p_el, p_wr))

    def draw_arm(arm):
        dep, p_sh, p_el, p_wr = arm
        cloth = far(SLEEVE, UPPER_FAR, dep)
        skin = far(SKIN, SKIN_FAR, dep)
        if ident.short_sleeve:
            mid = (p_sh[0] + (p_el[0] - p_sh[0]) * 0.55, p_sh[1] + (p_el[1] - p_sh[1]) * 0.55)
            pen.limb(mid, p_el, arm_w * 0.8, skin)
            pen.limb(p_el, p_wr, arm_w * 0.75, skin)
            pen.limb(p_sh, mid, arm_w * 1.1, cloth)
        else:
            pen.limb(p_el, p_wr, arm_w * 0.92, cloth)
            pen.limb(p_sh, p_el, arm_w, cloth)
        pen.ellipse(p_wr[0], p_wr[1] + 0.012 * P, arm_w * 0.5 * P, arm_w * 0.62 * P, skin)

    for arm in arms:
        if arm[0] < -0.02:
            draw_arm(arm)

    # ---------------- legs, shoes
    legs = []
    for side in (1.0, -1.0):
        xl = side * 0.05 * b
        psi = 0.36 * swing * math.sin(env.phase + (0.0 if side > 0 else math.pi))
        zk, yk = 0.225 * math.sin(psi), hip_y + 0.225 * math.cos(psi)
        psi2 = psi - 0.7 * max(0.0, -psi)
        za, ya = zk + 0.225 * math.sin(psi2), yk + 0.225 * math.cos(psi2)
        dep = pen.depth(xl, zk)
        legs.append((dep, xl, (pen.x(xl, 0.0), pen.y(hip_y)), (pen.x(xl, zk), pen.y(yk)),
                     (pen.x(xl, za), pen.y(ya)), za, ya))
    legs.sort(key=lambda t: t[0])
    for dep, xl, p_hip, p_kn, p_an, za, ya in legs:
        cloth = far(LOWER, LOWER_FAR, dep)
        skin = far(SKIN, SKIN_FAR, dep)
        shoe = far(SHOES, SHOES_FAR, dep)
        if ident.dress:
            pen.limb(p_hip, p_kn, leg_w * 0.72, skin)
            pen.limb(p_kn, p_an, leg_w * 0.6, skin)
        else:
            pen.limb(p_kn, p_an, leg_w * 0.86, cloth)
            pen.limb(p_hip, p_kn, leg_w * 1.05, cloth)
        # shoe: ellipse centred slightly forward of the ankle
        fx = pen.x(xl, za + 0.02)
        fy = pen.y(min(ya, 0.975) + 0.012)
        rx = max(1.0, _proj(0.032, 0.055, c, s) * P)
        pen.ellipse(fx, fy, rx, 0.022 * P, shoe)
        if ident.boots:
            p_top = (p_an[0] + (p_kn[0] - p_an[0]) * 0.5, p_an[1] + (p_kn[1] - p_an[1]) * 0.5)
            pen.limb(p_an, p_top, leg_w * 0.95, shoe)

    # ---------------- pelvis / dress
    if ident.dress:
        hem = 0.75
        hem_w = _proj(0.175 * b, 0.13 * b, c, s) * P
        sway = 0.02 * swing * math.sin(env.phase) * P * s
        pen.poly([(tx - ww, pen.y(waist_y - 0.02)), (tx + ww, pen.y(waist_y - 0.02)),
                  (tx + hem_w + sway, pen.y(hem)), (tx - hem_w + sway, pen.y(hem))], LOWER)
    else:
        pen.poly([(tx - ww, pen.y(waist_y - 0.02)), (tx + ww, pen.y(waist_y - 0.02)),
                  (tx + hipw, pen.y(hip_y + 0.04)), (tx - hipw, pen.y(hip_y + 0.04))], LOWER)

    # ---------------- torso (upper garment)
    bot_w = hipw * 1.04 if ident.top_length == "long" else ww * 1.02
    ys = pen.y(sh_y)
    pen.poly([(tx - sw * 0.62, ys - 0.014 * P), (tx + sw * 0.62, ys - 0.014 * P),
              (tx + sw, ys + 0.04 * P), (tx + ww, pen.y(waist_y - 0.03)),
              (tx + bot_w, pen.y(top_end)), (tx - bot_w, pen.y(top_end)),
              (tx - ww, pen.y(waist_y - 0.03)), (tx - sw, ys + 0.04 * P)], UPPER)
    if ident.texture == "print" and c > 0.3:
        pw_ = sw * 0.38
        pen.poly([(tx - pw_, pen.y(sh_y + 0.06)), (tx + pw_, pen.y(sh_y + 0.06)),
                  (tx + pw_, pen.y(sh_y + 0.14)), (tx - pw_, pen.y(sh_y + 0.14))], UPPER_ALT)

    # ---------------- neck, head, face, hair
    neck_w = 0.024 * P
    nx = (hx + tx) * 0.5
    d.rectangle([nx - neck_w, hy + hr * 0.5, nx + neck_w, ys + (0.012 * P if c > 0.3 else 0)],
                fill=SKIN)
    pen.ellipse(hx, hy - 0.008 * P, hw * 1.06, hr * 1.02, HAIR)
    face_dx = s * hw * 0.3
    if face_vis:
        shrink = 0.97 if c > 0.3 else 0.8
        fx = hx + face_dx
        fy = hy + 0.009 * P
        pen.ellipse(fx, fy, hw * shrink, hr * 0.93, SKIN)
        if c < 0.7:  # hair over the back of the head in oblique/side views
            bx = hx - s * hw * 0.6
            pen.ellipse(bx, hy - 0.004 * P, hw * 0.5, hr * 0.92, HAIR)
        # eyes / glasses
        ey = hy + 0.006 * P
        er = max(0.5, 0.006 * P)
        eyes = []
        if c > 0.3:
            for e in (-1.0, 1.0):
                eyes.append(fx + e * hw * 0.42 * c + s * hw * 0.2)
        elif abs(s) > 0.5:
            eyes.append(hx + s * hw * 0.62)
        for ex in eyes:
            d.rectangle([ex - er, ey - er, ex + er, ey + er], fill=EYES)
        if ident.glasses and eyes:
            gr = max(1.0, 0.014 * P)
            for ex in eyes:
                d.rectangle([ex - gr, ey - gr * 0.8, ex + gr, ey + gr * 0.8], outline=GLASSES)
            if len(eyes) == 2:
                d.line([(eyes[0] + gr, ey), (eyes[1] - gr, ey)], fill=GLASSES)
            else:  # side view: temple arm towards the ear
                d.line([(eyes[0], ey), (hx - s * hw * 0.2, ey)], fill=GLASSES)
        if c > 0.3:  # mouth hint
            d.line([(fx - hw * 0.18, hy + hr * 0.5), (fx + hw * 0.18, hy + hr * 0.5)],
                   fill=SKIN_FAR)
    if long_hair and not face_vis or (long_hair and abs(s) > 0.6):
        # long hair over the back (back and side views)
        bx = hx - s * hw * 0.6
        hwid = hw * (1.05 if not face_vis else 0.55)
        ybot = pen.y(0.3 if female else 0.23)
        pen.poly([(bx - hwid, hy - hr * 0.1), (bx + hwid, hy - hr * 0.1),
                  (bx + hwid * 1.1, ybot), (bx - hwid * 1.1, ybot)], HAIR)
    if long_hair and c > 0.6:  # locks falling in front of the shoulders
        for e in (-1.0, 1.0):
            lx = hx + face_dx + e * hw * 1.1
            pen.poly([(lx - 0.012 * P, hy), (lx + 0.012 * P, hy),
                      (lx + e * 0.01 * P + 0.014 * P, pen.y(0.25)),
                      (lx + e * 0.01 * P - 0.014 * P, pen.y(0.25))], HAIR)
    if ident.hat:
        if ident.hat_type == "beanie":
            d.chord([hx - hw * 1.14, hy - hr * 1.22, hx + hw * 1.14, hy + hr * 0.55], 180, 360,
                    fill=HAT)
            d.rectangle([hx - hw * 1.14, hy - hr * 0.2, hx + hw * 1.14, hy - hr * 0.02],
                        fill=HAT)
        else:  # cap with a brim towards the facing direction
            d.chord([hx - hw * 1.12, hy - hr * 1.15, hx + hw * 1.12, hy + hr * 0.4], 180, 360,
                    fill=HAT)
            by = hy - hr * 0.12
            if face_vis:
                bl = hx + s * hw * 0.3 - hw * (1.2 * c)
                br = hx + s * hw * 1.9 + hw * (1.2 * c)
                x0, x1 = min(bl, br), max(bl, br)
                d.ellipse([x0, by - 0.014 * P, x1, by + 0.014 * P], fill=HAT)

    # ---------------- bags in front, straps
    for dep, fn in bag_items:
        if dep >= 0:
            fn()
    if ident.bag and ident.bag_type == "backpack" and c > 0.2:
        for e in (-1.0, 1.0):
            d.line([(pen.x(e * sh_a * 0.55), ys), (pen.x(e * sh_a * 0.6), pen.y(0.4))],
                   fill=STRAP, width=max(1, int(0.016 * P)))
    elif ident.bag and ident.bag_type == "backpack" and abs(s) > 0.7:
        d.line([(pen.x(0.0, t_b * 0.3), ys), (pen.x(0.0, -t_b * 0.6), pen.y(0.4))],
               fill=STRAP, width=max(1, int(0.016 * P)))
    elif ident.bag and ident.bag_type != "backpack":
        xl = hip_a + 0.035
        d.line([(pen.x(-sh_a * 0.55), ys), (pen.x(xl), pen.y(0.44))], fill=STRAP,
               width=max(1, int(0.012 * P)))

    for arm in sorted(arms, key=lambda a: a[0]):
        if arm[0] >= -0.02:
            draw_arm(arm)
    return cx, max(sw, hipw), top, P


def _draw_occluder(d, env: Environment, rng, H, W):
    kind = env.occluder
    x = env.occ_x * W
    k = env.occ_size
    if kind == "pole":
        pw = max(2.0, W * (0.06 + 0.06 * k))
        d.rectangle([x - pw / 2, 0, x + pw / 2, H], fill=OCC1)
        d.line([(x + pw * 0.25, 0), (x + pw * 0.25, H)], fill=OCC3)
        if rng.uniform() < 0.5:  # a sign on the pole
            sy = H * rng.uniform(0.15, 0.35)
            d.rectangle([x - pw * 2, sy, x + pw * 2, sy + H * 0.08], fill=OCC2)
    elif kind == "car":
        h = H * (0.25 + 0.17 * k)
        x0 = x - W * 0.9 if rng.uniform() < 0.5 else x
        x1 = x0 + W * 0.9
        y0 = H - h
        d.rounded_rectangle([x0, y0, x1, H + 4], radius=max(1, int(h * 0.25)), fill=OCC1)
        d.rectangle([x0 + W * 0.1, y0 - h * 0.35, x1 - W * 0.1, y0 + 2], fill=OCC3)
        for wx in (x0 + W * 0.2, x1 - W * 0.2):
            r = h * 0.28
            d.ellipse([wx - r, H - r * 1.1, wx + r, H + r * 0.9], fill=OCC2)
    elif kind == "bin":
        bw = W * (0.2 + 0.15 * k)
        bh = H * (0.2 + 0.15 * k)
        d.rectangle([x - bw / 2, H - bh, x + bw / 2, H], fill=OCC1)
        d.rectangle([x - bw / 2 - 1, H - bh - max(1.0, H * 0.015), x + bw / 2 + 1, H - bh],
                    fill=OCC2)
    elif kind == "sign":
        bw = W * (0.3 + 0.2 * k)
        top = H * (0.45 + 0.15 * (1 - k))
        d.rectangle([x - bw / 2, top, x + bw / 2, top + H * 0.22], fill=OCC1)
        d.rectangle([x - bw / 2 + 2, top + 2, x + bw / 2 - 2, top + H * 0.22 - 2], outline=OCC3)
        d.line([(x, top + H * 0.22), (x, H)], fill=OCC2, width=max(1, int(W * 0.03)))


# deterministic sensor-noise buffers (per output size)
_NOISE: Dict[tuple, np.ndarray] = {}


def _noise_buffer(H, W):
    key = (H, W)
    buf = _NOISE.get(key)
    if buf is None:
        buf = np.random.default_rng(12345).standard_normal(H * W * 3 * 4, dtype=np.float32)
        buf.setflags(write=False)
        _NOISE[key] = buf
    return buf


def _row_mask(n, start, period, duty):
    t = ((np.arange(n, dtype=np.float32) - start) / max(period, 1.0)) % 1.0
    return t < duty


def render(identity: Identity, env: Environment, domain, size: Tuple[int, int] = (128, 64),
           return_parts: bool = False):
    """Render one image.

    Returns ``(image, mask)``: uint8 ``H x W x 3`` RGB and uint8 ``H x W`` (0/255 pedestrian incl.
    hat and bag; occluders are not foreground), or ``(image, mask, parts)`` with the part-label map
    at output size when ``return_parts`` (labels: see ``PART_NAMES``).
    """
    if isinstance(domain, str):
        domain = get_domain(domain)
    H, W = int(size[0]), int(size[1])
    cam = domain.camera(env.camera)
    # a camera's resolution is relative to max(output height, 128): a low-res camera stays
    # low-res at any output size, small outputs are not degraded twice
    H0 = min(H, max(16, int(round(max(H, 128) * cam.res))))
    W0 = min(W, max(8, int(round(H0 * W / H))))
    rng = np.random.default_rng(env.noise_seed)

    # 1. label map
    lab_img = Image.new("L", (W0, H0), 0)
    d = ImageDraw.Draw(lab_img)
    cx, half_w, top, P = _draw_person(d, identity, env, H0, W0)
    if env.occluder != "none":
        _draw_occluder(d, env, rng, H0, W0)
    lab = np.array(lab_img)

    # 2. texture relabels the upper garment
    tex = identity.texture
    if tex not in ("plain", "print"):
        per = identity.texture_period * P
        if tex == "hstripes":
            pat = _row_mask(H0, top, per, 0.4)[:, None]
        elif tex == "vstripes":
            pat = _row_mask(W0, cx, per, 0.4)[None, :]
        elif tex == "checks":
            pat = _row_mask(H0, top, per * 1.4, 0.5)[:, None] ^ \
                _row_mask(W0, cx, per * 1.4, 0.5)[None, :]
        elif tex == "dots":
            pat = _row_mask(H0, top, per, 0.3)[:, None] & _row_mask(W0, cx, per, 0.3)[None, :]
        else:  # twotone: lower part of the top in another colour
            pat = (np.arange(H0) > top + 0.36 * P)[:, None]
        lab[(lab == UPPER) & pat] = UPPER_ALT

    pal = np.zeros((256, 3), np.float32)
    pal[SKIN] = identity.skin_rgb
    pal[SKIN_FAR] = np.asarray(identity.skin_rgb, np.float32) * 0.8
    pal[HAIR] = identity.hair_rgb
    pal[UPPER] = identity.upper_rgb
    pal[UPPER_ALT] = identity.texture_rgb
    pal[UPPER_FAR] = np.asarray(identity.upper_rgb, np.float32) * 0.78
    pal[SLEEVE] = np.asarray(identity.upper_rgb, np.float32) * 0.86 + 4
    pal[LOWER] = identity.lower_rgb
    pal[LOWER_FAR] = np.asarray(identity.lower_rgb, np.float32) * 0.78
    pal[SHOES] = identity.shoe_rgb
    pal[SHOES_FAR] = np.asarray(identity.shoe_rgb, np.float32) * 0.8
    pal[HAT] = identity.hat_rgb
    pal[BAG] = identity.bag_rgb
    pal[STRAP] = np.asarray(identity.bag_rgb, np.float32) * 0.55
    pal[EYES] = (40, 28, 26)
    pal[GLASSES] = (22, 22, 26)
    if env.occluder != "none":
        oc = rng.integers(30, 200, size=3)
        pal[OCC1] = oc if env.occluder in ("car", "sign") else (88, 90, 94) + oc * 0.1
        pal[OCC2] = (26, 26, 28)
        pal[OCC3] = (150, 170, 190) if env.occluder == "car" else pal[OCC1] * 1.3

    isfg = _FG_LUT[lab]
    opaque = _OPAQUE_LUT[lab]
    col = pal[lab]

    # body shading: cylindrical across the body, light from above and from light_dir
    xs = (np.arange(W0, dtype=np.float32) - cx) / max(half_w * 1.5, 1.0)
    colf = 1.0 - 0.3 * np.clip(xs - 0.3 * env.light_dir, -1, 1) ** 2
    ys = (np.arange(H0, dtype=np.float32) - top) / max(P, 1.0)
    rowf = 1.06 - 0.12 * np.clip(ys, 0, 1)
    shade = rowf[:, None] * colf[None, :]

    weather = WEATHERS[env.weather - 1]
    contrast, sat, haze_p, haze_bg, snow, streaks, shadow = WEATHER_FX[weather]
    bg_gain, fg_gain, temp = ILLUMINATION_FX[ILLUMINATIONS[env.illumination - 1]]

    tile = background_tile(domain, env.scene, env.bg_tile, env.bg_seed, H0, W0)
    x0 = int(env.bg_x * (tile.shape[1] - W0))
    bg = tile[:, x0:x0 + W0]
    if shadow > 0:
        bg = bg * np.where(lab == SHADOW, np.float32(1.0 - shadow), np.float32(1.0))[..., None]

    gain = np.where(isfg, shade * fg_gain, np.float32(bg_gain))
    out = np.where(opaque[..., None], col, bg) * gain[..., None]
    out *= np.asarray(temp, np.float32) * np.asarray(cam.cast, np.float32)

    # haze: stronger on the background and towards the top (further away)
    if haze_p > 0 or haze_bg > 0:
        depth = 0.55 + 0.45 * (1.0 - np.arange(H0, dtype=np.float32) / H0)
        f = np.where(isfg, np.float32(haze_p), (haze_bg * depth)[:, None])[..., None]
        fog = FOG_RGB * (0.35 + 0.65 * bg_gain)
        out = out * (1.0 - f) + fog * f

    # contrast / saturation (weather x camera)
    k_c = contrast * cam.contrast
    k_s = sat * cam.saturation
    m = out.mean()
    out = (out - m) * k_c + m
    if k_s != 1.0:
        g = out.mean(axis=2, keepdims=True)
        out = g + (out - g) * k_s

    # snow in front of everything
    if snow > 0:
        flat = out.reshape(-1, 3)
        n = int(snow * H0 * W0)
        idx = rng.integers(0, H0 * W0, n)
        flat[idx] = flat[idx] * 0.25 + 190.0
        if streaks:
            for k in (1, 2):
                j = np.minimum(idx + k * (W0 + 1), H0 * W0 - 1)
                flat[j] = flat[j] * 0.45 + 130.0

    mask = np.where(isfg, np.uint8(255), np.uint8(0))
    img8 = np.clip(out, 0, 255).astype(np.uint8)
    if (H0, W0) != (H, W) or cam.blur > 0:
        im = Image.fromarray(img8, "RGB")
        if (H0, W0) != (H, W):
            im = im.resize((W, H), Image.BILINEAR)
            mask = np.asarray(Image.fromarray(mask, "L").resize((W, H), Image.NEAREST))
            if return_parts:
                lab = np.asarray(Image.fromarray(lab, "L").resize((W, H), Image.NEAREST))
        if cam.blur > 0:
            im = im.filter(ImageFilter.GaussianBlur(cam.blur * H / 128.0))
        img8 = np.asarray(im)
    if cam.noise > 0:
        buf = _noise_buffer(H, W)
        off = int(rng.integers(0, buf.size - H * W * 3))
        noisy = img8 + buf[off:off + H * W * 3].reshape(H, W, 3) * np.float32(cam.noise)
        img8 = np.clip(noisy, 0, 255).astype(np.uint8)
    if return_parts:
        return img8, mask, lab
    return img8, mask
