"""SynthPerson renderer / generator: determinism, attribute-image-caption agreement, masks, splits,
cache and atomic writing."""
import dataclasses
import io
import json
import os
import re

import numpy as np
import pytest
from PIL import Image

from fastreid_multimodal.data.captions import parse_caption_line
from fastreid_multimodal.data.synth import (DOMAINS, Environment, Identity, domain_dir,
                                            ensure_domain, generate_domain, get_domain,
                                            image_rng, nearest_colour, parse_image_name,
                                            read_domain, render, sample_domain_identity,
                                            sample_environment, save_image, save_mask)
from fastreid_multimodal.data.synth.labels import (EYES, HAIR, LOWER, OCC1, OCC2, OCC3, SHADOW,
                                                   UPPER)

NAME_RE = re.compile(r"^\d{4}_c\d{2}_w0[1-7]_l0[1-7]_p0[1-9]\.jpg$")


def _files(path):
    out = {}
    for dp, _, fns in os.walk(path):
        for fn in fns:
            full = os.path.join(dp, fn)
            with open(full, "rb") as f:
                out[os.path.relpath(full, path)] = f.read()
    return out


@pytest.fixture(scope="module")
def campus(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("synth"))
    return root, generate_domain(root, "campus", num_ids=8, images_per_id=6, seed=3)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("synth_src"))
    return root, generate_domain(root, "source", num_ids=6, images_per_id=5, seed=0)


# ---------------------------------------------------------------------------- layout/determinism
def test_layout(campus):
    root, path = campus
    assert path == domain_dir(root, "campus") == os.path.join(root, "SynthPerson", "campus")
    for f in ("attributes.json", "images.json", "captions.txt", "splits.json", "meta.json"):
        assert os.path.isfile(os.path.join(path, f)), f
    images = sorted(os.listdir(os.path.join(path, "images")))
    masks = sorted(os.listdir(os.path.join(path, "masks")))
    assert len(images) == 8 * 6 and len(set(images)) == len(images)
    assert [m[:-4] for m in masks] == [i[:-4] for i in images]
    assert all(NAME_RE.match(n) for n in images), images[:3]
    cams = {c.cid for c in DOMAINS["campus"].cameras}
    for n in images:
        p = parse_image_name(n)
        assert p["camera"] in cams and 0 <= p["pid"] < 8
    with Image.open(os.path.join(path, "images", images[0])) as im:
        assert im.size == (64, 128) and im.mode == "RGB"
    meta = json.load(open(os.path.join(path, "meta.json")))
    assert meta["params"]["num_ids"] == 8 and meta["num_images"] == 48
    attrs = json.load(open(os.path.join(path, "attributes.json")))
    assert attrs["version"] == 1 and attrs["domain"] == "campus" and attrs["seed"] == 3
    assert sorted(attrs["identities"]) == [f"{i:04d}" for i in range(8)]


def test_deterministic_and_seed_dependent(campus, tmp_path):
    _, path = campus
    again = generate_domain(str(tmp_path / "a"), "campus", num_ids=8, images_per_id=6, seed=3)
    a, b = _files(path), _files(again)
    assert a.keys() == b.keys()
    assert all(a[k] == b[k] for k in a), [k for k in a if a[k] != b[k]][:5]
    other = _files(generate_domain(str(tmp_path / "b"), "campus", num_ids=8, images_per_id=6,
                                   seed=4))
    assert other["attributes.json"] != a["attributes.json"]
    assert set(k for k in other if k.startswith("images/")) != \
        set(k for k in a if k.startswith("images/"))


def test_domains_have_different_people():
    src = [sample_domain_identity("source", i, 0) for i in range(20)]
    tgt = [sample_domain_identity("winter", i, 0) for i in range(20)]
    assert all(a.height != b.height for a, b in zip(src, tgt))
    # the winter identity shift is visible in the attribute statistics
    win = [sample_domain_identity("winter", i, 0) for i in range(300)]
    cam = [sample_domain_identity("campus", i, 0) for i in range(300)]
    assert np.mean([w.boots for w in win]) > np.mean([c.boots for c in cam]) + 0.3
    assert np.mean([w.short_sleeve for w in win]) < np.mean([c.short_sleeve for c in cam]) - 0.3


def test_identities_are_diverse():
    ids = [sample_domain_identity("source", i, 0) for i in range(300)]
    pairs = [(i.upper, i.lower) for i in ids]
    # colours alone do not identify people: the commonest colour pair is shared by many ids
    assert max(pairs.count(p) for p in set(pairs)) >= 8
    # but the full visible+hidden appearance is unique
    keys = {(i.upper, i.lower, i.gender, i.hair, i.texture, i.bag_type, i.hat, i.skin,
             round(i.height, 2), round(i.build, 2)) for i in ids}
    assert len(keys) == 300
    assert all(not i.dress or i.gender == "female" for i in ids)
    rt = Identity.from_dict(json.loads(json.dumps(ids[0].to_dict())))
    assert rt == ids[0]


# ---------------------------------------------------------------------------- identity consistency
def test_rerender_from_stored_records_gives_same_bytes(campus):
    _, path = campus
    dom = read_domain(path)
    for name in sorted(dom["images"])[::7]:
        rec = dom["images"][name]
        env = Environment.from_dict(rec)
        parsed = parse_image_name(name)
        assert parsed == {"pid": rec["pid"], "camera": env.camera, "weather": env.weather,
                          "illumination": env.illumination, "scene": env.scene}
        ident = dom["identities"][rec["pid"]]
        img, mask = render(ident, env, "campus", (128, 64))
        buf, mbuf = io.BytesIO(), io.BytesIO()
        save_image(img, buf)
        save_mask(mask, mbuf)
        with open(os.path.join(path, "images", name), "rb") as f:
            assert f.read() == buf.getvalue(), name
        with open(os.path.join(path, "masks", name[:-4] + ".png"), "rb") as f:
            assert f.read() == mbuf.getvalue(), name


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


def test_viewpoint_follows_source_camera():
    src = get_domain("source")
    for k in range(60):
        env = sample_environment(np.random.default_rng(k), src)
        base = (env.camera - 1) * 10.0
        diff = (env.viewpoint_deg - base + 180) % 360 - 180
        assert abs(diff) <= 5.0 + 1e-6


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


# ---------------------------------------------------------------------------- captions
def test_captions_agree_with_attributes(campus):
    _, path = campus
    dom = read_domain(path)
    lines = open(os.path.join(path, "captions.txt"), encoding="utf-8").read().splitlines()
    assert len(lines) == len(dom["images"])
    for line in lines:
        name, cap = parse_caption_line(line)
        rec = dom["images"][name]
        ident = dom["identities"][rec["pid"]]
        words = set(re.findall(r"[a-z]+", cap))
        assert ident.upper in words and ident.lower in words, cap
        assert f"{ident.hair} hair" in cap and f"{ident.skin} skin" in cap
        assert (words & {"female", "woman", "girl", "lady"}) if ident.gender == "female" \
            else (words & {"male", "man", "boy"}) and not (words & {"female", "woman", "girl"})
        assert f"{ident.shoes} {'boots' if ident.boots else 'shoes'}" in cap
        assert ("glasses" in words) == ident.glasses
        assert bool(words & {"hat", "cap"}) == ident.hat
        assert ("dress" in words) == ident.dress
        assert bool(words & {"backpack", "bag"}) == ident.bag
        assert f"{'short' if ident.short_sleeve else 'long'} sleeves" in cap
        assert re.search(rf"\b{ident.top_length} (\w+ )?top\b", cap), cap
        env = Environment.from_dict(rec)
        view_words = {"back": {"back", "behind"}}.get(env.viewpoint, {env.viewpoint})
        assert words & view_words, cap


# ---------------------------------------------------------------------------- splits
def test_split_integrity(campus):
    _, path = campus
    dom = read_domain(path)
    sp = dom["splits"]
    pid = lambda n: parse_image_name(n)["pid"]  # noqa: E731
    cam = lambda n: parse_image_name(n)["camera"]  # noqa: E731
    train_ids = {pid(n) for n in sp["train"]}
    test_ids = {pid(n) for n in sp["query"] + sp["gallery"]}
    assert train_ids and test_ids and not train_ids & test_ids
    assert len(train_ids) == 4 and len(test_ids) == 4  # half/half for a target domain
    assert sorted(sp["train"] + sp["query"] + sp["gallery"]) == sorted(dom["images"])
    assert not set(sp["query"]) & set(sp["gallery"])
    qids = {pid(n) for n in sp["query"]}
    assert qids
    for q in qids:
        qs = [n for n in sp["query"] if pid(n) == q]
        assert 1 <= len(qs) <= 2 and len({cam(n) for n in qs}) == 1
        assert any(pid(g) == q and cam(g) != cam(qs[0]) for g in sp["gallery"]), q


def test_source_is_all_train(source):
    _, path = source
    sp = json.load(open(os.path.join(path, "splits.json")))
    assert len(sp["train"]) == 30 and sp["query"] == [] and sp["gallery"] == []


# ---------------------------------------------------------------------------- masks
def test_masks(campus):
    _, path = campus
    for fn in sorted(os.listdir(os.path.join(path, "masks"))):
        m = np.asarray(Image.open(os.path.join(path, "masks", fn)))
        with Image.open(os.path.join(path, "images", fn[:-4] + ".jpg")) as im:
            assert m.shape == (im.size[1], im.size[0])
        assert set(np.unique(m)) <= {0, 255}
        frac = (m > 0).mean()
        assert 0.03 < frac < 0.6, (fn, frac)
        assert not m[:, 0].all() and not m[:, -1].all()


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


# ---------------------------------------------------------------------------- cache / atomicity
def test_cache_and_regeneration(tmp_path, monkeypatch):
    from fastreid_multimodal.data.synth import generate as gen

    root = str(tmp_path)
    path = generate_domain(root, "winter", num_ids=3, images_per_id=3, seed=1)
    real = gen._render_identities

    def must_not_render(*a, **k):
        raise AssertionError("cached domain was rendered again")
    monkeypatch.setattr(gen, "_render_identities", must_not_render)
    meta = os.path.join(path, "meta.json")
    img = os.path.join(path, "images", sorted(os.listdir(os.path.join(path, "images")))[0])
    t_meta, t_img = os.stat(meta).st_mtime_ns, os.stat(img).st_mtime_ns
    assert generate_domain(root, "winter", num_ids=3, images_per_id=3, seed=1) == path
    assert ensure_domain(root, "winter") == path
    assert os.stat(meta).st_mtime_ns == t_meta and os.stat(img).st_mtime_ns == t_img
    monkeypatch.setattr(gen, "_render_identities", real)
    generate_domain(root, "winter", num_ids=3, images_per_id=4, seed=1)
    assert len(os.listdir(os.path.join(path, "images"))) == 12
    assert json.load(open(meta))["params"]["images_per_id"] == 4
    # no temp / old directories left behind
    assert sorted(os.listdir(os.path.dirname(path))) == ["winter"]


def test_incomplete_domain_is_regenerated(tmp_path):
    root = str(tmp_path)
    parent = os.path.join(root, "SynthPerson")
    half = os.path.join(parent, "night")
    os.makedirs(os.path.join(half, "images"))  # a killed run without meta.json
    stale = os.path.join(parent, ".night.tmp-999999999-abc")  # temp dir of a dead process
    os.makedirs(stale)
    path = ensure_domain(root, "night", num_ids=2, images_per_id=2)
    assert os.path.isfile(os.path.join(path, "meta.json"))
    assert len(os.listdir(os.path.join(path, "images"))) == 4
    assert not os.path.exists(stale)


def test_failed_generation_leaves_no_domain(tmp_path, monkeypatch):
    from fastreid_multimodal.data.synth import generate as gen

    def boom(*a, **k):
        raise RuntimeError("killed")
    monkeypatch.setattr(gen, "make_splits", boom)
    with pytest.raises(RuntimeError):
        generate_domain(str(tmp_path), "campus", num_ids=2, images_per_id=2)
    parent = os.path.join(str(tmp_path), "SynthPerson")
    assert os.listdir(parent) == []


def test_workers_give_identical_files(tmp_path):
    a = generate_domain(str(tmp_path / "a"), "night", num_ids=4, images_per_id=3, seed=2)
    b = generate_domain(str(tmp_path / "b"), "night", num_ids=4, images_per_id=3, seed=2,
                        workers=2)
    assert _files(a) == _files(b)


def test_bad_arguments(tmp_path):
    with pytest.raises(KeyError, match="unknown SynthPerson domain"):
        generate_domain(str(tmp_path), "mars", num_ids=2, images_per_id=2)
    with pytest.raises(ValueError):
        generate_domain(str(tmp_path), "campus", num_ids=2, images_per_id=2, split=1.5)
    with pytest.raises(ValueError):
        parse_image_name("0001_c99_w01_l01_p01.jpg")


def test_domain_tables_are_respected():
    for name, d in DOMAINS.items():
        cams = {c.cid for c in d.cameras}
        for k in range(200):
            env = sample_environment(np.random.default_rng(k), d)
            assert env.camera in cams
            assert d.weather_probs[env.weather - 1] > 0
            assert d.illumination_probs[env.illumination - 1] > 0
            cam = d.camera(env.camera)
            assert env.scene in (cam.scenes or range(1, 10))
    assert len(DOMAINS["source"].cameras) == 36
    assert all(len(d.cameras) <= 8 for n, d in DOMAINS.items() if n != "source")
    assert set(DOMAINS) >= {"source", "campus", "winter", "night"}


def test_every_identity_seen_by_two_cameras(tmp_path):
    """Even with 2 images per id, each test id gets a query and a cross-camera gallery image."""
    path = generate_domain(str(tmp_path), "winter", num_ids=12, images_per_id=2, seed=5)
    sp = json.load(open(os.path.join(path, "splits.json")))
    names = sp["train"] + sp["query"] + sp["gallery"]
    by_pid = {}
    for n in names:
        p = parse_image_name(n)
        by_pid.setdefault(p["pid"], set()).add(p["camera"])
    assert len(by_pid) == 12 and all(len(c) == 2 for c in by_pid.values())
    qids = {parse_image_name(n)["pid"] for n in sp["query"]}
    assert len(qids) == 6
