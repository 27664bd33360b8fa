"""Write a SynthPerson domain to disk (FineGPR file layout), cached and atomic.

Layout of ``domain_dir(root, name) = {root}/SynthPerson/{name}/``, FineGPR's release layout (one
folder per identity) with our annotation files beside it::

    images/{pid:04d}/{pid:04d}_c{cc}_w{ww}_l{ll}_p{pp}.jpg   RGB, JPEG quality 90
    masks/{pid:04d}/{same stem}.png               uint8 0/255 pedestrian mask (occluders = 0)
    attributes.json   {"version": 1, "domain", "seed", "identities": {"0000": Identity.to_dict()}}
    images.json       {"version": 1, "images": {file name: {"pid", **Environment.to_dict()}}}
    captions.txt      "ImageName:<file>, the caption is: <caption>" (one line per image)
    splits.json       {"train": [...], "query": [...], "gallery": [...]} (file names); query and
                      gallery are the same list, every test image (all-vs-all protocol)
    meta.json         generation parameters; written last

Identities: a domain trains on ``round(num_ids * train_fraction)`` identities drawn from
``0..num_ids-1`` (the same draw whatever the test size) and tests on ``test_ids`` others (default:
the rest of ``0..num_ids-1``; more are taken from ``num_ids`` upwards), so enlarging the test set
neither changes the training identities nor the bytes of any identity already rendered.
``first_pid`` shifts every identity number (a validation set of held-out source identities).

The domain is generated in a hidden sibling temp directory and renamed into place, so a killed run
never leaves a half-written domain that looks complete. A second call with the same parameters
returns at once (``meta.json`` matches); other parameters, or a domain written in the flat layout
of earlier versions (``images/<name>``), regenerate the domain.

Determinism: identity ``pid`` draws from ``identity_rng(seed, domain, pid)``, image ``k`` of it from
``image_rng(seed, domain, pid, k)``; same arguments give byte-identical files. Domains salt every
stream, so two domains never share people.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
import zlib
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image, ImageDraw

from ...utils.io import atomic_write_json, atomic_write_text
from ..captions import format_caption_line, make_caption
from ..finegpr_names import format_image_name
from .attributes import Identity, sample_identity
from .domains import DOMAINS, Domain, get_domain
from .environment import Environment, sample_environment
from .render import render

GENERATOR_VERSION = 1      # bump when the renderer changes: cached domains then regenerate
FORMAT_VERSION = 1
PROTOCOL = "all-vs-all"    # splits.json's test protocol (in meta's params: older domains regenerate)
LAYOUT = "per-identity"    # images/<pid>/, masks/<pid>/ (in meta's params: flat domains regenerate)
DEFAULT_NUM_IDS = 100
DEFAULT_IMAGES_PER_ID = 8
JPEG_QUALITY = 90


# ------------------------------------------------------------------------------------------
# names, seeds
# ------------------------------------------------------------------------------------------
def domain_dir(root: str, name: str) -> str:
    """``{root}/SynthPerson/{name}``: where a domain lives."""
    return os.path.join(root, "SynthPerson", name)


def _as_domain(domain: Union[str, Domain]) -> Domain:
    return domain if isinstance(domain, Domain) else get_domain(domain)


def _salt(domain: Domain) -> Tuple[int, int]:
    return int(domain.salt), zlib.crc32(domain.name.encode("utf-8"))


def identity_rng(seed: int, domain: Union[str, Domain], pid: int) -> np.random.Generator:
    d = _as_domain(domain)
    return np.random.default_rng([int(seed), *_salt(d), int(pid), 1])


def image_rng(seed: int, domain: Union[str, Domain], pid: int, k: int,
              stream: int = 2) -> np.random.Generator:
    d = _as_domain(domain)
    return np.random.default_rng([int(seed), *_salt(d), int(pid), int(k), int(stream)])


def identity_folder(name: str) -> str:
    """The identity folder of an image: its name's ``{pid:04d}`` prefix, as in FineGPR's release."""
    return name.split("_", 1)[0]


def image_file(path: str, name: str) -> str:
    """Where domain ``path`` keeps image ``name``: ``images/{pid:04d}/{name}``."""
    return os.path.join(path, "images", identity_folder(name), name)


def mask_file(path: str, name: str) -> str:
    """The foreground mask of image ``name`` in domain ``path``: ``masks/{pid:04d}/{stem}.png``."""
    return os.path.join(path, "masks", identity_folder(name), os.path.splitext(name)[0] + ".png")


def image_name(pid: int, env: Environment) -> str:
    """FineGPR file name ``{pid:04d}_c{cc}_w{ww}_l{ll}_p{pp}.jpg``."""
    return format_image_name(pid, env.camera, env.weather, env.illumination, env.scene)


def sample_domain_identity(domain: Union[str, Domain], pid: int, seed: int = 0) -> Identity:
    d = _as_domain(domain)
    return sample_identity(identity_rng(seed, d, pid), pid, d.identity_shift)


def plan_images(domain: Union[str, Domain], pid: int, images_per_id: int,
                seed: int = 0) -> List[Tuple[str, Environment]]:
    """The (file name, environment) of every image of one identity.

    A repeated (pid, c, w, l, p) combination is re-drawn so that names stay unique; when all
    images so far came from one camera, the last one is forced onto another camera (so every
    identity can serve as a query with a cross-camera gallery match).
    """
    d = _as_domain(domain)
    out: List[Tuple[str, Environment]] = []
    used = set()
    cams = [c.cid for c in d.cameras]
    for k in range(images_per_id):
        rng = image_rng(seed, d, pid, k)
        force = None
        if (k == images_per_id - 1 and k > 0 and len(cams) > 1
                and len({e.camera for _, e in out}) == 1):
            others = [c for c in cams if c != out[0][1].camera]
            force = others[int(rng.integers(len(others)))]
        for _ in range(500):
            env = sample_environment(rng, d, bg_seed=seed, camera=force)
            name = image_name(pid, env)
            if name not in used:
                break
        else:
            raise RuntimeError(f"domain {d.name}: cannot draw {images_per_id} distinct "
                               f"(camera, weather, illumination, scene) combinations for one "
                               f"identity; lower images_per_id")
        used.add(name)
        out.append((name, env))
    return out


def caption_for(ident: Identity, env: Environment, seed: int, domain: Union[str, Domain],
                k: int) -> str:
    return make_caption(ident.caption_attributes(), env.caption_env(),
                        image_rng(seed, domain, ident.pid, k, 3))


# ------------------------------------------------------------------------------------------
# writing
# ------------------------------------------------------------------------------------------
def save_image(img: np.ndarray, path: str) -> None:
    Image.fromarray(img, "RGB").save(path, format="JPEG", quality=JPEG_QUALITY)


def save_mask(mask: np.ndarray, path: str) -> None:
    Image.fromarray(mask, "L").save(path, format="PNG", compress_level=1)


def _render_identities(args) -> List[dict]:
    """Render and write all images of some identities; returns one record per image."""
    out_dir, domain_name, pids, images_per_id, seed, size, domain = args
    d = domain if domain is not None else get_domain(domain_name)
    records = []
    for pid in pids:
        ident = sample_domain_identity(d, pid, seed)
        for k, (name, env) in enumerate(plan_images(d, pid, images_per_id, seed)):
            img, mask = render(ident, env, d, size)
            for path in (image_file(out_dir, name), mask_file(out_dir, name)):
                os.makedirs(os.path.dirname(path), exist_ok=True)
            save_image(img, image_file(out_dir, name))
            save_mask(mask, mask_file(out_dir, name))
            records.append({"name": name, "pid": pid, "env": env.to_dict(),
                            "caption": caption_for(ident, env, seed, d, k)})
    return records


def identity_split(num_ids: int, train_fraction: float, seed: int, domain: Union[str, Domain],
                   test_ids: Optional[int] = None, first_pid: int = 0) -> Tuple[List[int], List[int]]:
    """(training pids, test pids), sorted. Training: the first ``round(num_ids * train_fraction)``
    of a seeded permutation of ``num_ids`` (unchanged by ``test_ids``); test: the ``test_ids``
    lowest other numbers (default: the rest of ``num_ids``). Every pid is offset by ``first_pid``."""
    d = _as_domain(domain)
    rng = np.random.default_rng([int(seed), *_salt(d), 7])
    perm = rng.permutation(num_ids)
    n_train = int(round(num_ids * float(train_fraction)))
    train = sorted(int(p) for p in perm[:n_train])
    n_test = num_ids - n_train if test_ids is None else int(test_ids)
    taken, test, pid = set(train), [], 0
    while len(test) < n_test:
        if pid not in taken:
            test.append(pid)
        pid += 1
    return [p + first_pid for p in train], [p + first_pid for p in test]


def make_splits(records: Sequence[dict], train_ids: Iterable[int]) -> Dict[str, List[str]]:
    """Identity-disjoint train/test. Test protocol all-vs-all: query = gallery = every test
    image; the evaluation drops the query's own identity under the query's camera (FastReID's
    rule), which removes the query itself, and skips queries left without a match (an identity
    seen by one camera only is then a distractor). Every image of an identity is a query, so
    an identity weighs in proportion to its images, and each query's AP is over all its
    cross-camera matches: more, and less noisy, queries than 1-2 per identity."""
    train_ids = set(int(p) for p in train_ids)
    train = sorted(r["name"] for r in records if r["pid"] in train_ids)
    test = sorted(r["name"] for r in records if r["pid"] not in train_ids)
    return {"train": train, "query": list(test), "gallery": list(test)}


def _write_json(path: str, obj) -> None:
    """One JSON style for every file of a domain (diffable, stable across runs)."""
    atomic_write_json(path, obj, indent=1, sort_keys=True)


def _read_meta(path: str) -> Optional[dict]:
    try:
        with open(os.path.join(path, "meta.json"), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _params(domain: Domain, num_ids, images_per_id, seed, size, train_fraction, test_ids,
            first_pid) -> dict:
    return {"generator_version": GENERATOR_VERSION, "domain": domain.name,
            "domain_hash": zlib.crc32(repr(domain).encode("utf-8")),
            "num_ids": int(num_ids), "images_per_id": int(images_per_id), "seed": int(seed),
            "size": [int(size[0]), int(size[1])], "train_fraction": float(train_fraction),
            "test_ids": None if test_ids is None else int(test_ids), "first_pid": int(first_pid),
            "protocol": PROTOCOL, "layout": LAYOUT}


def _clean_stale(parent: str, name: str) -> None:
    """Remove temp/old directories of ``name`` left by killed runs (owner process gone)."""
    try:
        entries = os.listdir(parent)
    except OSError:
        return
    for e in entries:
        m = re.match(rf"^\.{re.escape(name)}\.(tmp|old)-(\d+)-", e)
        if not m:
            continue
        pid = int(m.group(2))
        alive = True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            alive = False
        except PermissionError:
            alive = True
        if not alive:
            shutil.rmtree(os.path.join(parent, e), ignore_errors=True)


def generate_domain(root: str, domain_name: Union[str, Domain], num_ids: int,
                    images_per_id: int, seed: int = 0, size: Tuple[int, int] = (128, 64),
                    split: Optional[float] = None, workers: int = 1,
                    verbose: bool = False, test_ids: Optional[int] = None, first_pid: int = 0,
                    folder: Optional[str] = None) -> str:
    """Generate (or reuse) one domain under ``domain_dir(root, folder or name)``; return that path.

    ``split``: fraction of ``num_ids`` used for training (default: the domain's
    ``train_fraction``: 1.0 for ``source``, 0.5 for the targets). ``test_ids``: test identities
    (default: the untrained rest of ``num_ids``), see ``identity_split``. ``first_pid``: offset of
    every identity number; ``folder``: another folder name for the domain's distribution (the
    source validation set). ``workers`` > 1 renders with that many processes (same bytes).
    """
    domain = _as_domain(domain_name)
    if num_ids < 1 or images_per_id < 1:
        raise ValueError("num_ids and images_per_id must be >= 1")
    if test_ids is not None and int(test_ids) < 0:
        raise ValueError(f"test_ids must be >= 0, got {test_ids}")
    if first_pid < 0:
        raise ValueError(f"first_pid must be >= 0, got {first_pid}")
    folder = folder or domain.name
    train_fraction = domain.train_fraction if split is None else float(split)
    if not 0.0 <= train_fraction <= 1.0:
        raise ValueError(f"split (train fraction) must be in [0, 1], got {split}")
    size = (int(size[0]), int(size[1]))
    params = _params(domain, num_ids, images_per_id, seed, size, train_fraction, test_ids,
                     first_pid)
    final = domain_dir(root, folder)
    meta = _read_meta(final)
    if meta is not None and meta.get("params") == params:
        return final
    parent = os.path.dirname(final)
    os.makedirs(parent, exist_ok=True)
    _clean_stale(parent, folder)
    t0 = time.time()
    tmp = tempfile.mkdtemp(prefix=f".{folder}.tmp-{os.getpid()}-", dir=parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; the domain is an ordinary folder
        os.makedirs(os.path.join(tmp, "images"))
        os.makedirs(os.path.join(tmp, "masks"))
        custom = None if DOMAINS.get(domain.name) is domain else domain
        train_ids, test_pids = identity_split(num_ids, train_fraction, seed, domain, test_ids,
                                              first_pid)
        pids = sorted(train_ids + test_pids)
        if workers and workers > 1 and len(pids) > 1:
            import multiprocessing as mp
            ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp
            chunks = [pids[i::workers * 4] for i in range(workers * 4)]
            with ctx.Pool(workers) as pool:
                parts = pool.map(_render_identities,
                                 [(tmp, domain.name, c, images_per_id, seed, size, custom)
                                  for c in chunks if c])
            records = [r for part in parts for r in part]
        else:
            records = _render_identities((tmp, domain.name, pids, images_per_id, seed, size,
                                          custom))
        records.sort(key=lambda r: r["name"])

        identities = {f"{pid:04d}": sample_domain_identity(domain, pid, seed).to_dict()
                      for pid in pids}
        _write_json(os.path.join(tmp, "attributes.json"),
                    {"version": FORMAT_VERSION, "domain": domain.name, "seed": int(seed),
                     "identities": identities})
        _write_json(os.path.join(tmp, "images.json"),
                    {"version": FORMAT_VERSION,
                     "images": {r["name"]: {"pid": r["pid"], **r["env"]} for r in records}})
        atomic_write_text(os.path.join(tmp, "captions.txt"),
                          "".join(format_caption_line(r["name"], r["caption"]) + "\n"
                                  for r in records))
        splits = make_splits(records, train_ids)
        _write_json(os.path.join(tmp, "splits.json"), splits)
        _write_json(os.path.join(tmp, "meta.json"),
                    {"params": params, "num_images": len(records),
                     "num_train": len(splits["train"]), "num_query": len(splits["query"]),
                     "num_gallery": len(splits["gallery"]), "num_train_ids": len(train_ids),
                     "num_test_ids": len(test_pids),
                     "description": domain.description})
        # swap into place
        if os.path.exists(final):
            meta = _read_meta(final)
            if meta is not None and meta.get("params") == params:  # another process won
                shutil.rmtree(tmp, ignore_errors=True)
                return final
            old = tempfile.mkdtemp(prefix=f".{folder}.old-{os.getpid()}-", dir=parent)
            os.rmdir(old)
            os.rename(final, old)
            os.rename(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            try:
                os.rename(tmp, final)
            except OSError:
                meta = _read_meta(final)
                if meta is not None and meta.get("params") == params:
                    shutil.rmtree(tmp, ignore_errors=True)
                    return final
                raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if verbose:
        dt = time.time() - t0
        print(f"SynthPerson/{folder}: {len(records)} images of {len(pids)} ids in {dt:.1f}s "
              f"({len(records) / max(dt, 1e-9):.0f} img/s) -> {final}")
    return final


def ensure_domain(root: str, name: str, **kw) -> str:
    """Generate the domain if absent. Without keyword arguments an existing, complete domain is
    reused whatever its parameters (one in the flat layout is rendered again with them); with
    them, ``generate_domain`` semantics (regenerate when they differ). Defaults:
    ``DEFAULT_NUM_IDS`` ids x ``DEFAULT_IMAGES_PER_ID`` images."""
    path = domain_dir(root, kw.get("folder") or name)
    meta = None if kw else _read_meta(path)
    if meta is not None:
        recorded = meta.get("params", {})
        if recorded.get("layout") == LAYOUT or recorded.get("domain", name) not in DOMAINS:
            return path  # current, or drawn from a custom Domain this call cannot rebuild
        # the reader takes flat folders too, but the demo must run on the release's layout
        kw = {"num_ids": recorded.get("num_ids", DEFAULT_NUM_IDS),
              "images_per_id": recorded.get("images_per_id", DEFAULT_IMAGES_PER_ID),
              "seed": recorded.get("seed", 0), "size": tuple(recorded.get("size", (128, 64))),
              "split": recorded.get("train_fraction"), "test_ids": recorded.get("test_ids"),
              "first_pid": recorded.get("first_pid", 0), "folder": name}
        name = recorded.get("domain", name)  # source_val holds the source domain
    kw.setdefault("num_ids", DEFAULT_NUM_IDS)
    kw.setdefault("images_per_id", DEFAULT_IMAGES_PER_ID)
    return generate_domain(root, name, **kw)


def read_domain(path: str) -> dict:
    """Load a generated domain: meta, identities (pid -> Identity), images (name -> record with
    pid and environment; ``image_file`` gives the file), captions (name -> caption) and splits."""
    from ..captions import read_caption_lines

    meta = _read_meta(path)
    if meta is None:
        raise FileNotFoundError(f"{path} is not a complete SynthPerson domain (no meta.json)")
    with open(os.path.join(path, "attributes.json"), encoding="utf-8") as f:
        attrs = json.load(f)
    with open(os.path.join(path, "images.json"), encoding="utf-8") as f:
        images = json.load(f)["images"]
    with open(os.path.join(path, "splits.json"), encoding="utf-8") as f:
        splits = json.load(f)
    captions = {name: cap for _, name, cap in
                read_caption_lines(os.path.join(path, "captions.txt"))}
    identities = {int(k): Identity.from_dict(v) for k, v in attrs["identities"].items()}
    return {"meta": meta, "identities": identities, "images": images, "captions": captions,
            "splits": splits}


# ------------------------------------------------------------------------------------------
# contact sheet
# ------------------------------------------------------------------------------------------
def make_contact_sheet(out_path: str, domains: Iterable[str] = ("source", "campus", "winter",
                                                                "night"),
                       num_ids: int = 4, images_per_domain: int = 3, seed: int = 0,
                       size: Tuple[int, int] = (128, 64), scale: int = 2) -> str:
    """PNG grid: rows = identities (drawn from ``source``), columns = the same person rendered in
    each domain's environments (``images_per_domain`` each), upscaled ``scale`` x (nearest)."""
    domains = [_as_domain(d) for d in domains]
    H, W = size
    gap, head = 6, 14
    ncol = len(domains) * images_per_domain
    sheet_w = ncol * W + (len(domains) - 1) * gap
    sheet = Image.new("RGB", (sheet_w, head + num_ids * H), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    src = get_domain("source")
    for j, d in enumerate(domains):
        x0 = j * (images_per_domain * W + gap)
        draw.text((x0 + 3, 2), d.name, fill=(0, 0, 0))
    for i in range(num_ids):
        ident = sample_domain_identity(src, i, seed)
        for j, d in enumerate(domains):
            x0 = j * (images_per_domain * W + gap)
            for k in range(images_per_domain):
                env = sample_environment(image_rng(seed, d, 10_000 + i, k), d, bg_seed=seed)
                img, _ = render(ident, env, d, size)
                sheet.paste(Image.fromarray(img), (x0 + k * W, head + i * H))
    if scale != 1:
        sheet = sheet.resize((sheet.width * scale, sheet.height * scale), Image.NEAREST)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    sheet.save(out_path, optimize=True)
    return out_path
