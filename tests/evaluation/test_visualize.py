"""tools/visualize.py and fastreid_multimodal.evaluation.visualize on a tiny DMF checkpoint
(untrained, built in-process and saved with FastReID's Checkpointer) and a tiny SynthPerson."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from fastreid_multimodal.engine.inference import load_model
from fastreid_multimodal.evaluation import plots
from fastreid_multimodal.evaluation import visualize as vis
from fastreid_multimodal.evaluation.attention import attention_rollout, attention_weights

from tiny_checkpoint import CONFIG, TINY, load_tool, tiny_run  # noqa: F401

DPI = plots.DPI


def png_size(path):
    with Image.open(path) as img:
        img.load()
        return img.size


def expected(figsize):
    return (round(figsize[0] * DPI), round(figsize[1] * DPI))


def test_border_colors_are_green_exactly_for_the_same_identity():
    assert plots.border_colors(3, [3, 5, 3, "3", 7]) == ["green", "red", "green", "red", "red"]
    assert plots.border_colors("a_1", []) == []


def test_rank_is_descending_and_skips_same_identity_same_camera():
    q = torch.tensor([[1.0, 0.0]])
    g = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.5, 0.5]])
    index, scores = vis.rank(q, g, [1], [0], [1, 2, 3, 1], [0, 1, 1, 1], topk=3)
    assert list(index[0]) == [1, 3, 2]  # gallery 0 is the same id on the same camera
    assert np.all(np.diff(scores[0]) <= 0)


def test_rollout_is_a_probability_map_over_the_patch_grid(tiny_run):
    weights, _ = tiny_run
    cfg, model = load_model(CONFIG, weights, TINY)
    images = model.preprocess_image(torch.rand(3, 3, 64, 32) * 255)
    maps = attention_rollout(model.backbone, images)
    assert maps.shape == (3, *model.backbone.patch_embed.grid_size)
    assert (maps >= 0).all()
    assert torch.allclose(maps.flatten(1).sum(1), torch.ones(3), atol=1e-5)


def test_block_attention_matches_timm(tiny_run):
    weights, _ = tiny_run
    _, model = load_model(CONFIG, weights, TINY)
    block = model.backbone.blocks[0]
    x = torch.randn(2, 9, 32)
    seen = {}
    block.attn.fused_attn = False
    handle = block.attn.attn_drop.register_forward_hook(lambda m, i, o: seen.setdefault("a", o))
    try:
        with torch.no_grad():
            block(x)
    finally:
        handle.remove()
        block.attn.fused_attn = True
    assert torch.allclose(attention_weights(block.attn, block.norm1(x)), seen["a"], atol=1e-5)


def test_pca_and_distance():
    a, b = vis.pca_2d(np.random.rand(5, 8), np.random.rand(3, 8))
    assert a.shape == (5, 2) and b.shape == (3, 2)
    f = torch.eye(2)
    assert vis.mean_cosine_distance(f, [0, 1], f, [0, 1]) == pytest.approx(0)
    assert vis.mean_cosine_distance(f, [0, 1], f, [0, 1], same_identity=False) == pytest.approx(1)


def test_every_subcommand_writes_a_png(tiny_run, tmp_path, capsys):
    weights, _ = tiny_run
    tool = load_tool("visualize")
    common = ["--config-file", CONFIG, "--weights", weights]

    out = tmp_path / "ranking.png"
    tool.main(["ranking", *common, "--dataset", "SynthPersonCampus", "--num-queries", "2",
               "--topk", "3", "--out", str(out), *TINY])
    assert png_size(out) == expected(plots.ranking_figsize(2, 3))

    out = tmp_path / "attention.png"
    tool.main(["attention", *common, "--weights-b", weights, "--label-a", "DMF", "--label-b",
               "same", "--dataset", "SynthPersonCampus", "--num-images", "2", "--out", str(out),
               *TINY])
    assert png_size(out) == expected(plots.attention_figsize(2, 2))

    out = tmp_path / "modality.png"
    tool.main(["modality-distance", *common, "--weights-before", "init", "--dataset",
               "SynthPersonSource", "--num-ids", "3", "--out", str(out), *TINY])
    assert png_size(out) == expected(plots.modality_figsize(2))
    printed = capsys.readouterr().out
    assert printed.count("cosine distance, same identity") == 2
    assert printed.count("cosine distance (centred), same identity") == 2

    metrics = tmp_path / "metrics.json"
    metrics.write_text("\n".join(json.dumps({"iteration": i, "total_loss": 5 - i * 0.1,
                                             "loss_cls": 4 - i * 0.1, "lr": 1e-3})
                                 for i in range(10)) + "\n")
    out = tmp_path / "curves.png"
    tool.main(["curves", "--metrics", str(metrics), "--out", str(out)])
    assert png_size(out) == expected(plots.curves_figsize(3))  # loss_triplet is absent
    assert "not in" in capsys.readouterr().out


def test_clear_errors(tiny_run, tmp_path, capsys):
    weights, _ = tiny_run
    tool = load_tool("visualize")
    with pytest.raises(SystemExit) as exit_:
        tool.main(["ranking", "--config-file", CONFIG, "--weights", str(tmp_path / "no.pth"),
                   "--dataset", "SynthPersonCampus", "--out", str(tmp_path / "x.png"), *TINY])
    assert exit_.value.code == 2 and "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        tool.main(["ranking", "--config-file", CONFIG, "--weights", weights,
                   "--dataset", "NoSuchSet", "--out", str(tmp_path / "x.png"), *TINY])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "unknown data set 'NoSuchSet'" in err and "Market1501" in err
