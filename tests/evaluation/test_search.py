"""tools/search.py and fastreid_multimodal.evaluation.search: text->image search on the
evaluation's chunked engine.

The ranking itself is tested at the feature level (an untrained tiny model gives no meaningful
text->image order); the command line is run end to end on a tiny untrained DMF checkpoint."""
import numpy as np
import pytest
from PIL import Image

from fastreid_multimodal.engine import inference
from fastreid_multimodal.evaluation import plots
from fastreid_multimodal.evaluation import search as srch

from tiny_checkpoint import CONFIG, TINY, load_tool, tiny_run  # noqa: F401


def test_exact_match_first_and_scores_descending():
    rng = np.random.default_rng(0)
    gallery = rng.normal(size=(50, 16)).astype(np.float32) * rng.uniform(0.5, 3, (50, 1))
    query = gallery[17] * 4 + rng.normal(scale=0.01, size=16)  # the scale must not matter
    scores, ids = srch.search(gallery, query, topk=5)
    assert ids.shape == (1, 5) and ids[0, 0] == 17
    assert scores[0, 0] == pytest.approx(1, abs=1e-3)
    assert np.all(np.diff(scores[0]) <= 1e-7)
    cos = gallery @ query / np.linalg.norm(gallery, axis=1) / np.linalg.norm(query)
    assert list(ids[0]) == list(np.argsort(-cos)[:5])  # cosine, not raw inner product


def test_topk_is_capped_by_the_gallery():
    scores, ids = srch.search(np.eye(3), np.ones(3), topk=10)
    assert ids.shape == (1, 3)


def test_gallery_folder_is_searched_recursively(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/1.jpg", "a/b/2.png", "3.JPG", "notes.txt"):
        path = tmp_path / name
        if name.endswith("txt"):
            path.write_text("x")
        else:
            Image.new("RGB", (8, 16)).save(path, format="PNG" if name.endswith("png") else "JPEG")
    paths = inference.gallery_paths(None, str(tmp_path))
    assert sorted(p.split(str(tmp_path))[1] for p in paths) == ["/3.JPG", "/a/1.jpg", "/a/b/2.png"]


def test_search_cli(tiny_run, tmp_path, capsys):
    weights, _ = tiny_run
    out = tmp_path / "strip.png"
    results = load_tool("search").main([
        "--config-file", CONFIG, "--weights", weights, "--gallery", "SynthPersonCampus",
        "--query", "a woman in a red coat with a backpack", "--topk", "4", "--out", str(out), *TINY])
    assert len(results) == 4
    scores = [s for _, s in results]
    assert scores == sorted(scores, reverse=True)
    printed = capsys.readouterr().out
    assert all(path in printed for path, _ in results)
    with Image.open(out) as img:
        assert img.size == (round(plots.search_figsize(4)[0] * 100), round(plots.search_figsize(4)[1] * 100))


def test_search_cli_errors(tiny_run, tmp_path, capsys):
    weights, _ = tiny_run
    with pytest.raises(SystemExit) as exit_:
        load_tool("search").main(["--config-file", CONFIG, "--weights", weights, "--gallery",
                                  str(tmp_path / "missing" / "dir"), "--query", "a man", *TINY])
    assert exit_.value.code == 2 and "is not a folder" in capsys.readouterr().err
