"""SynthPerson backgrounds: a few procedurally painted tiles per (domain, scene), four image
widths wide and cached; every image shows a random crop of one (``Environment.bg_x``).

Scenes (``SCENES``): 1 brick wall, 2 office windows, 3 street, 4 shop fronts, 5 plaza (urban);
6 park, 7 forest, 8 field, 9 mountain (wild). Colours come from the domain's :class:`Palette`.
"""
from __future__ import annotations

import math
from typing import Dict

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .domains import Domain, Palette

_TILE_CACHE: Dict[tuple, np.ndarray] = {}
_TILE_CACHE_MAX = 512
_SKY_SCENES = (3, 5, 6, 8, 9)


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


def _paint_scene(scene: int, rng: np.random.Generator, H: int, W: int,
                 pal: Palette) -> np.ndarray:
    """Paint one background tile (H x W) of scene 1..9 in the palette's colours."""
    arr = np.zeros((H, W, 3), np.float32)
    if scene in _SKY_SCENES:
        _sky(arr, int(H * 0.75), pal)
    img = Image.fromarray(arr.astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    _PAINTERS[scene](d, rng, H, W, pal)
    lamps = _lamp_posts(d, rng, H, W) if pal.lamps else []
    arr = np.asarray(img, dtype=np.float32)
    if lamps:
        arr = arr + _lamp_glow(lamps, H, W)[..., None] * np.asarray([200.0, 160.0, 90.0],
                                                                    np.float32)
    if pal.texture > 0:
        n = rng.standard_normal((H, W, 1), dtype=np.float32) * pal.texture
        arr = arr + n + rng.standard_normal((H, W, 3), dtype=np.float32) * (pal.texture * 0.3)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    img = img.filter(ImageFilter.GaussianBlur(0.5 if H < 80 else 0.7))  # depth of field
    return np.asarray(img, dtype=np.float32)


# ------------------------------------------------------------------------------------------
# colours and shared elements
# ------------------------------------------------------------------------------------------
def _jit(rng, rgb, amount=12):
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in rgb)


def _pick(rng, options, amount=12):
    return _jit(rng, options[int(rng.integers(len(options)))], amount)


def _darker(rgb, amount):
    return tuple(max(0, v - amount) for v in rgb)


def _window_colour(rng, pal: Palette):
    if pal.lit_windows > 0 and rng.uniform() < pal.lit_windows:
        return _jit(rng, pal.lit, 16)
    return _pick(rng, pal.windows, 10)


def _sky(arr, y1, pal: Palette):
    """Vertical sky gradient on rows [0, y1)."""
    if y1 <= 0:
        return
    t = np.linspace(0.0, 1.0, y1, dtype=np.float32)[:, None]
    top = np.asarray(pal.sky[0], np.float32)
    bot = np.asarray(pal.sky[1], np.float32)
    arr[:y1] = (top * (1 - t) + bot * t)[:, None, :]


def _facade(d, rng, H, W, pal: Palette, low, high):
    """A wall from the top down to a random ground row in [low, high) x H; (colour, row)."""
    wall = _pick(rng, pal.walls, 10)
    gy = int(H * rng.uniform(low, high))
    d.rectangle([0, 0, W, gy], fill=wall)
    return wall, gy


def _pavement(d, rng, W, H, y0, pal: Palette):
    """Ground from row y0 with perspective joints (tile lines spread towards the bottom)."""
    c = _pick(rng, pal.pavement, 8)
    d.rectangle([0, y0, W, H], fill=c)
    line = _darker(c, 28)
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


def _lamp_posts(d, rng, H, W):
    """Street-lamp posts; returns the lamp positions (their glow is added after drawing)."""
    lamps = []
    for _ in range(int(rng.integers(2, 5))):
        lx = rng.uniform(0, W)
        ly = H * rng.uniform(0.12, 0.3)
        d.line([(lx, ly), (lx, H * 0.75)], fill=(30, 30, 34), width=max(1, W // 120))
        lamps.append((lx, ly))
    return lamps


def _lamp_glow(lamps, H, W):
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    glow = np.zeros((H, W), np.float32)
    for lx, ly in lamps:
        r2 = (H * 0.18) ** 2
        glow += np.exp(-((xx - lx) ** 2 + (yy - ly) ** 2) / r2)
    return glow


# ------------------------------------------------------------------------------------------
# the nine scenes
# ------------------------------------------------------------------------------------------
def _brick_wall(d, rng, H, W, pal: Palette):
    _, gy = _facade(d, rng, H, W, pal, 0.6, 0.72)
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
        d.rectangle([x, gy * rng.uniform(0.1, 0.4), x + ww, gy - 1],
                    fill=_window_colour(rng, pal))
    _pavement(d, rng, W, H, gy, pal)


def _office_windows(d, rng, H, W, pal: Palette):
    wall, gy = _facade(d, rng, H, W, pal, 0.62, 0.72)
    cw = W * rng.uniform(0.05, 0.08)
    ch = H * rng.uniform(0.12, 0.18)
    y = H * rng.uniform(0.0, 0.05)
    while y + ch * 0.7 < gy:
        x = rng.uniform(0, cw)
        while x < W:
            d.rectangle([x, y, x + cw * 0.7, y + ch * 0.7], fill=_window_colour(rng, pal))
            x += cw
        y += ch
    d.rectangle([0, gy - H * 0.03, W, gy], fill=_darker(wall, 30))
    _pavement(d, rng, W, H, gy, pal)


def _street(d, rng, H, W, pal: Palette):
    """Skyline, road, sidewalk."""
    hz = H * rng.uniform(0.35, 0.45)
    x = 0.0
    while x < W:
        bw = W * rng.uniform(0.04, 0.1)
        top = hz - H * rng.uniform(0.05, 0.3)
        c = _pick(rng, pal.walls, 20)
        d.rectangle([x, top, x + bw, hz + H * 0.15], fill=c)
        for yy in np.arange(top + 2, hz + H * 0.1, max(2.0, H * 0.04)):
            d.line([(x + 1, yy), (x + bw - 1, yy)], fill=_window_colour(rng, pal))
        x += bw
    ry = hz + H * 0.15
    sy = ry + H * rng.uniform(0.12, 0.2)
    d.rectangle([0, ry, W, sy], fill=_jit(rng, pal.road, 6))
    my = (ry + sy) / 2
    for xx in np.arange(0, W, W * 0.06):
        d.line([(xx, my), (xx + W * 0.03, my)], fill=(220, 220, 200) if not pal.snow
               else (240, 240, 244))
    _pavement(d, rng, W, H, int(sy), pal)


def _shop_fronts(d, rng, H, W, pal: Palette):
    """Shop windows under striped awnings."""
    wall, gy = _facade(d, rng, H, W, pal, 0.64, 0.74)
    x = 0.0
    while x < W:
        sw = W * rng.uniform(0.12, 0.2)
        aw = _pick(rng, pal.awnings, 14)
        ay = H * rng.uniform(0.18, 0.3)
        d.rectangle([x + 2, ay + H * 0.06, x + sw - 2, gy], fill=_window_colour(rng, pal))
        d.polygon([(x, ay), (x + sw, ay), (x + sw + 2, ay + H * 0.07),
                   (x - 2, ay + H * 0.07)], fill=aw)
        for xs in np.arange(x, x + sw, max(2.0, sw / 6))[::2]:
            d.rectangle([xs, ay, xs + max(1.0, sw / 12), ay + H * 0.07],
                        fill=(235, 235, 230))
        d.rectangle([x + sw * 0.6, ay + H * 0.1, x + sw * 0.85, gy], fill=_darker(wall, 50))
        x += sw + W * rng.uniform(0.0, 0.04)
    _pavement(d, rng, W, H, gy, pal)


def _plaza(d, rng, H, W, pal: Palette):
    """Distant buildings, large floor tiles."""
    hz = int(H * rng.uniform(0.38, 0.48))
    x = 0.0
    while x < W:
        bw = W * rng.uniform(0.08, 0.2)
        d.rectangle([x, hz - H * rng.uniform(0.05, 0.15), x + bw, hz],
                    fill=_pick(rng, pal.walls, 20))
        x += bw
    c1 = _pick(rng, pal.pavement, 6)
    c2 = _darker(c1, 22)
    y, step, k = float(hz), max(1.5, H * 0.03), 0
    while y < H:
        d.rectangle([0, y, W, y + step], fill=c1 if k % 2 else c2)
        y += step
        step *= 1.28
        k += 1
    vx = W * 0.5
    for j in range(-16, 17):
        d.line([(vx + j * W * 0.015, hz), (vx + j * W * 0.09, H)], fill=c2)


def _park(d, rng, H, W, pal: Palette):
    """Tree line, lawn, path."""
    hz = int(H * rng.uniform(0.45, 0.55))
    d.rectangle([0, hz, W, H], fill=_pick(rng, pal.grass, 8))
    _trees(d, rng, W, H, hz + 2, pal, int(W / 14) + 3, H * 0.12)
    py = H * rng.uniform(0.78, 0.86)
    d.polygon([(0, py), (W, py - H * 0.05), (W, H), (0, H)], fill=_jit(rng, pal.dirt, 8))


def _forest(d, rng, H, W, pal: Palette):
    """Dense canopy and trunks, dirt floor."""
    hz = int(H * rng.uniform(0.6, 0.7))
    canopy = _pick(rng, pal.foliage, 6)
    d.rectangle([0, 0, W, hz], fill=_darker(canopy, 15))
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


def _field(d, rng, H, W, pal: Palette):
    """Clouds, hills, grass."""
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
    d.polygon(pts, fill=_darker(g1, 25))
    d.rectangle([0, hz + H * 0.04, W, H], fill=g1)
    for _ in range(int(W / 2)):
        x, y = rng.uniform(0, W), rng.uniform(hz + H * 0.05, H)
        d.line([(x, y), (x + 2, y)], fill=_jit(rng, g1, 22))


def _mountain(d, rng, H, W, pal: Palette):
    """Peaks with snow caps, rocky ground."""
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


_PAINTERS = {1: _brick_wall, 2: _office_windows, 3: _street, 4: _shop_fronts, 5: _plaza,
             6: _park, 7: _forest, 8: _field, 9: _mountain}
