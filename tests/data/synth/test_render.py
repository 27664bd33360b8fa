"""SynthPerson renderer: named colours, viewpoint, foreground masks, occluders, low-res cameras."""
import dataclasses

import numpy as np

from fastreid_multimodal.data.synth import (get_domain, image_rng, nearest_colour, render,
                                            sample_domain_identity, sample_environment)
from fastreid_multimodal.data.synth.labels import (EYES, HAIR, LOWER, OCC1, OCC2, OCC3, SHADOW,
                                                   UPPER)


def _clear_env(domain, pid, k, **over):
    env = sample_environment(image_rng(0, domain, pid, k), get_domain(domain), bg_seed=0)
    base = dict(weather=1, illumination=4, occluder="none")  # Sunny, Noon, unoccluded
    base.update(over)
    return dataclasses.replace(env, **base)


def test_named_colours_visible_in_sunny_noon_images():
    src = get_domain("source")
    up_ok = low_ok = n = 0
    for pid in range(40):
        ident = sample_domain_identity(src, pid, 0)
        env = _clear_env("source", pid, 0, camera=1 + (pid % 36))
        img, mask, parts = render(ident, env, src, (128, 64), return_parts=True)
        upper = img[parts == UPPER].reshape(-1, 3).astype(float)
        lower = img[parts == LOWER].reshape(-1, 3).astype(float)
        assert len(upper) > 50 and len(lower) > 30
        up_ok += nearest_colour(upper.mean(0)) == ident.upper
        low_ok += nearest_colour(lower.mean(0)) == ident.lower
        n += 1
    assert up_ok == n and low_ok >= n - 1, (up_ok, low_ok, n)


def test_viewpoint_changes_the_picture():
    """Front shows the face (skin + eyes), back shows the back of the head (hair)."""
    src = get_domain("source")
    ident = dataclasses.replace(sample_domain_identity(src, 1, 0), hat=False, hair="short")
    env = _clear_env("source", 1, 0, camera=1, viewpoint_deg=0.0, stride=0.0)
    _, _, front = render(ident, env, src, return_parts=True)
    _, _, back = render(ident, dataclasses.replace(env, viewpoint_deg=180.0), src,
                        return_parts=True)
    _, _, side = render(ident, dataclasses.replace(env, viewpoint_deg=90.0), src,
                        return_parts=True)
    head = slice(0, 30)
    assert (front[head] == EYES).sum() >= 2 and (back[head] == EYES).sum() == 0
    assert (back[head] == HAIR).sum() > (front[head] == HAIR).sum()
    fg = lambda p: (p > 0) & (p < SHADOW)  # noqa: E731
    assert fg(side)[40:60].sum() < fg(front)[40:60].sum()  # narrower torso seen from the side


def test_mask_marks_the_person_pixels():
    """Recolouring the person changes the pixels inside the mask, hardly anything outside."""
    for dname in ("source", "night"):
        d = get_domain(dname)
        ident = sample_domain_identity(d, 2, 0)
        env = dataclasses.replace(sample_environment(image_rng(0, d, 2, 0), d),
                                  occluder="none")
        img, mask = render(ident, env, d)
        inv = dataclasses.replace(
            ident, upper_rgb=tuple(255 - c for c in ident.upper_rgb),
            lower_rgb=tuple(255 - c for c in ident.lower_rgb),
            texture_rgb=tuple(255 - c for c in ident.texture_rgb),
            skin_rgb=tuple(255 - c for c in ident.skin_rgb),
            hair_rgb=tuple(255 - c for c in ident.hair_rgb))
        img2, mask2 = render(inv, env, d)
        assert (mask == mask2).all() and mask.any()
        diff = np.abs(img.astype(int) - img2.astype(int)).sum(2)
        inside, outside = diff[mask > 0].mean(), diff[mask == 0].mean()
        assert inside > 40 and outside < inside / 6, (dname, inside, outside)


def test_occluders_are_not_foreground():
    d = get_domain("source")
    ident = sample_domain_identity(d, 3, 0)
    env = _clear_env("source", 3, 0, camera=1, dx=0.0)
    _, m0, _ = render(ident, env, d, return_parts=True)
    _, m1, parts = render(ident, dataclasses.replace(env, occluder="pole", occ_x=0.5,
                                                     occ_size=1.0), d, return_parts=True)
    occ = np.isin(parts, [OCC1, OCC2, OCC3])
    assert occ.sum() > 100 and (m0[occ] > 0).sum() > 100
    assert (m1[occ] == 0).all() and m1.sum() < m0.sum()


def test_low_res_camera_mask_aligned():
    d = get_domain("night")  # low-res cameras: rendered small and upscaled
    ident = sample_domain_identity(d, 0, 0)
    env = dataclasses.replace(sample_environment(image_rng(0, d, 0, 0), d), occluder="none")
    assert d.camera(env.camera).res < 1
    img, mask = render(ident, env, d, (128, 64))
    assert img.shape == (128, 64, 3) and mask.shape == (128, 64)
    assert 0.05 < (mask > 0).mean() < 0.6
