"""Compose one SynthPerson image and its foreground mask (numpy + PIL only).

:func:`render`, deterministic given identity, environment, domain and size:

1. The pedestrian (``person``) and then an occluder (pole, car, bin, sign) are drawn into a
   part-label map (``labels``); occluders hide the person but are not foreground.
2. Clothing texture (stripes, checks, dots, print, two-tone) relabels garment pixels; a palette
   lookup turns labels into colours; cylindrical body shading, the ground shadow and a crop of a
   background tile (``backgrounds``) complete the scene.
3. Illumination (brightness and colour temperature, the person lit apart from the background),
   weather (contrast, haze towards grey growing with depth, snow specks/streaks; the tables are in
   ``environment``) and the camera (white-balance cast, contrast, saturation, low resolution =
   render small and upscale, blur, sensor noise) are applied.

Low-resolution cameras render everything at ``camera.res`` x max(output height, 128) rows (at most
the output size) and upscale; the mask is upscaled with nearest neighbour so it stays aligned.
"""
from __future__ import annotations

from typing import Dict, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .attributes import Identity
from .backgrounds import background_tile
from .domains import Camera, Domain, get_domain
from .environment import (FOG_RGB, ILLUMINATION_FX, WEATHER_FX, Environment, IlluminationEffect,
                          WeatherEffect)
from .labels import (BAG, EYES, GLASSES, HAIR, HAT, IS_FOREGROUND, IS_OPAQUE, LOWER, LOWER_FAR,
                     OCC1, OCC2, OCC3, SHADOW, SHOES, SHOES_FAR, SKIN, SKIN_FAR, SLEEVE, STRAP,
                     UPPER, UPPER_ALT, UPPER_FAR)
from .person import draw_person

# where the person is on the label map: centre x, half body width, top row, height (px)
Placement = Tuple[float, float, float, float]


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
    H0, W0 = _render_size(H, W, cam)
    # one stream, drawn in a fixed order: occluder shape, occluder colour, snow, sensor noise
    rng = np.random.default_rng(env.noise_seed)
    lab, placement = _label_map(identity, env, rng, H0, W0)
    pattern = _texture_pattern(identity, placement, H0, W0)
    if pattern is not None:
        lab[(lab == UPPER) & pattern] = UPPER_ALT
    colours = _palette(identity, env, rng)
    isfg = IS_FOREGROUND[lab]
    weather = WEATHER_FX[env.weather_name]
    light = ILLUMINATION_FX[env.illumination_name]

    out = _lit_scene(lab, isfg, colours, placement, env, domain, cam, weather, light)
    if weather.haze_on_person > 0 or weather.haze_on_background > 0:
        out = _haze(out, isfg, weather, light.background_gain)
    out = _contrast_and_saturation(out, weather.contrast * cam.contrast,
                                   weather.saturation * cam.saturation)
    if weather.snow_density > 0:
        _snow(out, rng, weather)

    mask = np.where(isfg, np.uint8(255), np.uint8(0))
    img8 = np.clip(out, 0, 255).astype(np.uint8)
    if (H0, W0) != (H, W):
        img8 = np.asarray(Image.fromarray(img8, "RGB").resize((W, H), Image.BILINEAR))
        mask = _nearest(mask, H, W)
        if return_parts:
            lab = _nearest(lab, H, W)
    if cam.blur > 0:
        blur = ImageFilter.GaussianBlur(cam.blur * H / 128.0)
        img8 = np.asarray(Image.fromarray(img8, "RGB").filter(blur))
    if cam.noise > 0:
        img8 = _sensor_noise(img8, rng, cam.noise)
    if return_parts:
        return img8, mask, lab
    return img8, mask


def _render_size(H, W, cam: Camera):
    # a camera's resolution is relative to max(output height, 128): a low-res camera stays
    # low-res at any output size, small outputs are not degraded twice
    H0 = min(H, max(16, int(round(max(H, 128) * cam.res))))
    W0 = min(W, max(8, int(round(H0 * W / H))))
    return H0, W0


def _nearest(labels, H, W):
    return np.asarray(Image.fromarray(labels, "L").resize((W, H), Image.NEAREST))


# ------------------------------------------------------------------------------------------
# label map: person, occluder, texture
# ------------------------------------------------------------------------------------------
def _label_map(identity: Identity, env: Environment, rng, H, W):
    lab_img = Image.new("L", (W, H), 0)
    d = ImageDraw.Draw(lab_img)
    placement = draw_person(d, identity, env, H, W)
    if env.occluder != "none":
        _OCCLUDERS[env.occluder](d, rng, env.occ_x * W, env.occ_size, H, W)
    return np.array(lab_img), placement


def _pole(d, rng, x, k, H, W):
    pw = max(2.0, W * (0.06 + 0.06 * k))
    d.rectangle([x - pw / 2, 0, x + pw / 2, H], fill=OCC1)
    d.line([(x + pw * 0.25, 0), (x + pw * 0.25, H)], fill=OCC3)
    if rng.uniform() < 0.5:  # a sign on the pole
        sy = H * rng.uniform(0.15, 0.35)
        d.rectangle([x - pw * 2, sy, x + pw * 2, sy + H * 0.08], fill=OCC2)


def _car(d, rng, x, k, H, W):
    h = H * (0.25 + 0.17 * k)
    x0 = x - W * 0.9 if rng.uniform() < 0.5 else x
    x1 = x0 + W * 0.9
    y0 = H - h
    d.rounded_rectangle([x0, y0, x1, H + 4], radius=max(1, int(h * 0.25)), fill=OCC1)
    d.rectangle([x0 + W * 0.1, y0 - h * 0.35, x1 - W * 0.1, y0 + 2], fill=OCC3)
    for wx in (x0 + W * 0.2, x1 - W * 0.2):
        r = h * 0.28
        d.ellipse([wx - r, H - r * 1.1, wx + r, H + r * 0.9], fill=OCC2)


def _bin(d, rng, x, k, H, W):
    bw = W * (0.2 + 0.15 * k)
    bh = H * (0.2 + 0.15 * k)
    d.rectangle([x - bw / 2, H - bh, x + bw / 2, H], fill=OCC1)
    d.rectangle([x - bw / 2 - 1, H - bh - max(1.0, H * 0.015), x + bw / 2 + 1, H - bh],
                fill=OCC2)


def _sign(d, rng, x, k, H, W):
    bw = W * (0.3 + 0.2 * k)
    top = H * (0.45 + 0.15 * (1 - k))
    d.rectangle([x - bw / 2, top, x + bw / 2, top + H * 0.22], fill=OCC1)
    d.rectangle([x - bw / 2 + 2, top + 2, x + bw / 2 - 2, top + H * 0.22 - 2], outline=OCC3)
    d.line([(x, top + H * 0.22), (x, H)], fill=OCC2, width=max(1, int(W * 0.03)))


_OCCLUDERS = {"pole": _pole, "car": _car, "bin": _bin, "sign": _sign}


def _row_mask(n, start, period, duty):
    t = ((np.arange(n, dtype=np.float32) - start) / max(period, 1.0)) % 1.0
    return t < duty


def _texture_pattern(identity: Identity, placement: Placement, H, W):
    """Where the upper garment shows its second colour (None: plain, or a print drawn as a part)."""
    tex = identity.texture
    if tex in ("plain", "print"):
        return None
    cx, _, top, P = placement
    per = identity.texture_period * P
    if tex == "hstripes":
        return _row_mask(H, top, per, 0.4)[:, None]
    if tex == "vstripes":
        return _row_mask(W, cx, per, 0.4)[None, :]
    if tex == "checks":
        return _row_mask(H, top, per * 1.4, 0.5)[:, None] ^ \
            _row_mask(W, cx, per * 1.4, 0.5)[None, :]
    if tex == "dots":
        return _row_mask(H, top, per, 0.3)[:, None] & _row_mask(W, cx, per, 0.3)[None, :]
    return (np.arange(H) > top + 0.36 * P)[:, None]  # twotone: the lower part of the top


# ------------------------------------------------------------------------------------------
# colours, light, weather, sensor
# ------------------------------------------------------------------------------------------
def _palette(identity: Identity, env: Environment, rng) -> np.ndarray:
    """RGB of every label; far-side parts darker."""
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
    return pal


def _lit_scene(lab, isfg, colours, placement: Placement, env: Environment, domain: Domain,
               cam: Camera, weather: WeatherEffect, light: IlluminationEffect):
    """The person (shaded) over the background crop, each under its own light, then colour
    temperature and the camera's white-balance cast."""
    H, W = lab.shape
    cx, half_w, top, P = placement
    # cylindrical across the body, light from above and from the side of light_dir
    xs = (np.arange(W, dtype=np.float32) - cx) / max(half_w * 1.5, 1.0)
    colf = 1.0 - 0.3 * np.clip(xs - 0.3 * env.light_dir, -1, 1) ** 2
    ys = (np.arange(H, dtype=np.float32) - top) / max(P, 1.0)
    rowf = 1.06 - 0.12 * np.clip(ys, 0, 1)
    shade = rowf[:, None] * colf[None, :]

    tile = background_tile(domain, env.scene, env.bg_tile, env.bg_seed, H, W)
    x0 = int(env.bg_x * (tile.shape[1] - W))
    bg = tile[:, x0:x0 + W]
    shadow = weather.shadow_strength
    if shadow > 0:
        bg = bg * np.where(lab == SHADOW, np.float32(1.0 - shadow), np.float32(1.0))[..., None]

    gain = np.where(isfg, shade * light.person_gain, np.float32(light.background_gain))
    out = np.where(IS_OPAQUE[lab][..., None], colours[lab], bg) * gain[..., None]
    out *= (np.asarray(light.colour_temperature, np.float32)
            * np.asarray(cam.cast, np.float32))
    return out


def _haze(out, isfg, weather: WeatherEffect, bg_gain):
    """Towards fog grey: more on the background, and more towards the top (further away)."""
    H = out.shape[0]
    depth = 0.55 + 0.45 * (1.0 - np.arange(H, dtype=np.float32) / H)
    f = np.where(isfg, np.float32(weather.haze_on_person),
                 (weather.haze_on_background * depth)[:, None])[..., None]
    fog = FOG_RGB * (0.35 + 0.65 * bg_gain)
    return out * (1.0 - f) + fog * f


def _contrast_and_saturation(out, contrast, saturation):
    m = out.mean()
    out = (out - m) * contrast + m
    if saturation != 1.0:
        g = out.mean(axis=2, keepdims=True)
        out = g + (out - g) * saturation
    return out


def _snow(out, rng, weather: WeatherEffect):
    """Snow specks in front of everything (in place); a blizzard streaks them."""
    H, W = out.shape[:2]
    flat = out.reshape(-1, 3)
    n = int(weather.snow_density * H * W)
    idx = rng.integers(0, H * W, n)
    flat[idx] = flat[idx] * 0.25 + 190.0
    if weather.snow_streaks:
        for k in (1, 2):
            j = np.minimum(idx + k * (W + 1), H * W - 1)
            flat[j] = flat[j] * 0.45 + 130.0


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


def _sensor_noise(img8, rng, std):
    """A random window of a fixed noise buffer: cheaper than drawing fresh noise per image."""
    H, W = img8.shape[:2]
    buf = _noise_buffer(H, W)
    off = int(rng.integers(0, buf.size - H * W * 3))
    noisy = img8 + buf[off:off + H * W * 3].reshape(H, W, 3) * np.float32(std)
    return np.clip(noisy, 0, 255).astype(np.uint8)
