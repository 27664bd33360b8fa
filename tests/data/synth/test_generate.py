"""SynthPerson generator: FineGPR's release layout on disk (one folder per identity),
determinism, attribute-caption agreement, masks, splits, cache and atomic writing."""
import io
import json
import os
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from fastreid_multimodal.data.captions import parse_caption_line
from fastreid_multimodal.data.masking import mask_path
from fastreid_multimodal.data.synth import (DOMAINS, Environment, domain_dir, ensure_domain,
                                            generate_domain, image_file, mask_file,
                                            parse_image_name, read_domain, render, save_image,
                                            save_mask)

NAME_RE = re.compile(r"^\d{4}_c\d{2}_w0[1-7]_l0[1-7]_p0[1-9]\.jpg$")


def _files(path):
    out = {}
    for dp, _, fns in os.walk(path):
        for fn in fns:
            full = os.path.join(dp, fn)
            with open(full, "rb") as f:
                out[os.path.relpath(full, path)] = f.read()
    return out


def _images(path):
    """The domain's image names, from its per-identity folders, sorted."""
    folder = os.path.join(path, "images")
    return sorted(n for pid in os.listdir(folder) for n in os.listdir(os.path.join(folder, pid)))


def _flatten(path):
    """Turn a domain into one written by the flat-layout generator (images/<name>, masks/<name>,
    no layout in meta.json): the files it wrote, byte for byte."""
    for kind in ("images", "masks"):
        folder = os.path.join(path, kind)
        for pid in os.listdir(folder):
            for name in os.listdir(os.path.join(folder, pid)):
                os.rename(os.path.join(folder, pid, name), os.path.join(folder, name))
            os.rmdir(os.path.join(folder, pid))
    meta = json.load(open(os.path.join(path, "meta.json")))
    del meta["params"]["layout"]
    json.dump(meta, open(os.path.join(path, "meta.json"), "w"), indent=1, sort_keys=True)


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
    images = _images(path)
    assert len(images) == 8 * 6 and len(set(images)) == len(images)
    assert all(NAME_RE.match(n) for n in images), images[:3]
    cams = {c.cid for c in DOMAINS["campus"].cameras}
    for n in images:
        p = parse_image_name(n)
        assert p["camera"] in cams and 0 <= p["pid"] < 8
    with Image.open(image_file(path, images[0])) as im:
        assert im.size == (64, 128) and im.mode == "RGB"
    meta = json.load(open(os.path.join(path, "meta.json")))
    assert meta["params"]["num_ids"] == 8 and meta["num_images"] == 48
    attrs = json.load(open(os.path.join(path, "attributes.json")))
    assert attrs["version"] == 1 and attrs["domain"] == "campus" and attrs["seed"] == 3
    assert sorted(attrs["identities"]) == [f"{i:04d}" for i in range(8)]


def test_one_folder_per_identity_named_by_its_pid_holding_only_its_images(campus):
    """FineGPR's release layout, images/<pid>/<pid>_cXX_wXX_lXX_pXX.jpg, and masks/ mirroring it."""
    _, path = campus
    dom = read_domain(path)
    for kind, suffix in (("images", ".jpg"), ("masks", ".png")):
        folder = os.path.join(path, kind)
        assert sorted(os.listdir(folder)) == [f"{pid:04d}" for pid in range(8)]
        for pid in os.listdir(folder):
            names = os.listdir(os.path.join(folder, pid))
            assert len(names) == 6 and all(n.endswith(suffix) for n in names)
            assert {parse_image_name(n[:-4] + ".jpg")["pid"] for n in names} == {int(pid)}
    assert _images(path) == sorted(dom["images"]) == sorted(dom["captions"])
    for name, record in dom["images"].items():
        assert image_file(path, name) == os.path.join(path, "images", f"{record['pid']:04d}", name)
        assert mask_path(image_file(path, name)) == mask_file(path, name)


def test_a_domain_in_the_flat_layout_is_rendered_again_per_identity(tmp_path, campus):
    """A domain written flat by an earlier version is stale: generate_domain (the data sets' call)
    and ensure_domain without arguments render it again, to the same files."""
    _, expected = campus
    calls = (lambda root: generate_domain(root, "campus", num_ids=8, images_per_id=6, seed=3),
             lambda root: ensure_domain(root, "campus"))
    for k, call in enumerate(calls):
        root = str(tmp_path / str(k))
        os.makedirs(os.path.join(root, "SynthPerson"))
        path = shutil.copytree(expected, domain_dir(root, "campus"))
        _flatten(path)
        assert any(n.endswith(".jpg") for n in os.listdir(os.path.join(path, "images")))
        assert call(root) == path
        assert _files(path) == _files(expected)
        meta = json.load(open(os.path.join(path, "meta.json")))
        assert meta["params"]["layout"] == "per-identity"
        assert sorted(os.listdir(os.path.dirname(path))) == ["campus"]  # the old one removed


def test_source_val_in_the_flat_layout_is_rendered_again_with_its_own_parameters(tmp_path):
    root = str(tmp_path)
    path = generate_domain(root, "source", num_ids=2, images_per_id=2, seed=1, split=0.0,
                           first_pid=100_000, folder="source_val")
    before = _files(path)
    _flatten(path)
    assert ensure_domain(root, "source_val") == path
    assert _files(path) == before


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
        with open(image_file(path, name), "rb") as f:
            assert f.read() == buf.getvalue(), name
        with open(mask_file(path, name), "rb") as f:
            assert f.read() == mbuf.getvalue(), name


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
    assert sorted(sp["train"] + sp["query"]) == sorted(dom["images"])
    assert sp["query"] == sp["gallery"]  # all-vs-all: every test image is a query
    for q in sp["query"]:  # each has a match in another camera (the evaluation drops its own)
        assert any(pid(g) == pid(q) and cam(g) != cam(q) for g in sp["gallery"]), q


def test_source_is_all_train(source):
    _, path = source
    sp = json.load(open(os.path.join(path, "splits.json")))
    assert len(sp["train"]) == 30 and sp["query"] == [] and sp["gallery"] == []


# ---------------------------------------------------------------------------- masks
def test_masks(campus):
    _, path = campus
    for fn in _images(path):
        m = np.asarray(Image.open(mask_file(path, fn)))
        with Image.open(image_file(path, fn)) as im:
            assert m.shape == (im.size[1], im.size[0])
        assert set(np.unique(m)) <= {0, 255}
        frac = (m > 0).mean()
        assert 0.03 < frac < 0.6, (fn, frac)
        assert not m[:, 0].all() and not m[:, -1].all()


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
    img = image_file(path, _images(path)[0])
    t_meta, t_img = os.stat(meta).st_mtime_ns, os.stat(img).st_mtime_ns
    assert generate_domain(root, "winter", num_ids=3, images_per_id=3, seed=1) == path
    assert ensure_domain(root, "winter") == path
    assert os.stat(meta).st_mtime_ns == t_meta and os.stat(img).st_mtime_ns == t_img
    monkeypatch.setattr(gen, "_render_identities", real)
    generate_domain(root, "winter", num_ids=3, images_per_id=4, seed=1)
    assert len(_images(path)) == 12
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
    assert len(_images(path)) == 4
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


def test_test_split_is_all_vs_all(campus):
    _, path = campus
    sp = json.load(open(os.path.join(path, "splits.json")))
    assert sp["query"] == sp["gallery"] and sp["query"]  # every test image, both roles
    train = {parse_image_name(n)["pid"] for n in sp["train"]}
    test = {parse_image_name(n)["pid"] for n in sp["query"]}
    assert not train & test and len(train) == len(test) == 4
    assert len(sp["train"]) + len(sp["query"]) == 8 * 6


def test_more_test_ids_keep_the_training_set_and_the_bytes(tmp_path):
    small = generate_domain(str(tmp_path / "a"), "campus", num_ids=6, images_per_id=3, seed=3)
    big = generate_domain(str(tmp_path / "b"), "campus", num_ids=6, images_per_id=3, seed=3,
                          test_ids=7)
    s_small, s_big = (json.load(open(os.path.join(p, "splits.json"))) for p in (small, big))
    assert s_small["train"] == s_big["train"]  # stage II's training data unchanged
    test_ids = {parse_image_name(n)["pid"] for n in s_big["query"]}
    assert len(test_ids) == 7 and max(test_ids) >= 6  # rendered beyond num_ids
    a, b = _files(small), _files(big)
    shared = [k for k in a if k.startswith(("images/", "masks/"))]
    assert shared and all(k in b and a[k] == b[k] for k in shared)  # same identities, same bytes
    meta = json.load(open(os.path.join(big, "meta.json")))
    assert meta["params"]["test_ids"] == 7 and meta["num_test_ids"] == 7
    assert meta["params"]["protocol"] == "all-vs-all"


def test_changing_test_ids_renders_again(tmp_path):
    root = str(tmp_path)
    generate_domain(root, "night", num_ids=2, images_per_id=2, seed=1, test_ids=1)
    path = generate_domain(root, "night", num_ids=2, images_per_id=2, seed=1, test_ids=3)
    assert json.load(open(os.path.join(path, "meta.json")))["num_test_ids"] == 3
    assert len(_images(path)) == (1 + 3) * 2
