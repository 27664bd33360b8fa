"""Figures of a trained checkpoint: ranking lists, attention rollout, modality distance, curves.

Everything here works on a model loaded from a config + a ``.pth`` (``load_model``) and a
registered data set (``load_dataset``); ``tools/visualize.py`` is the command line over it.

* ``rank``: cosine ranking of query images against gallery images (FastReID protocol: gallery
  images of the query's identity seen by the query's camera are left out).
* ``attention_rollout``: Abnar & Zuidema's rollout of the [cls] token through the ViT blocks
  (heads averaged, identity added for the residual, rows normalised, multiplied through layers),
  computed from each block's own qkv weights — no change to the model.
* ``modality_features`` / ``pca_2d`` / ``mean_cosine_distance``: image vs text embeddings of the
  same identities (DMF Fig. 3).
* ``read_metrics``: FastReID's ``metrics.json`` (one JSON object per line).
"""
import json
import logging
import os

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError, UserError

logger = logging.getLogger("fastreid.multimodal")
DPI = 100
SAME, DIFFERENT = "green", "red"
INIT = "init"  # "weights" of the untrained model


# -- loading ---------------------------------------------------------------------------------------
def load_model(config, weights, opts=()):
    """(cfg, model in eval mode) from a config file, a checkpoint and KEY VALUE overrides.
    ``weights`` = "init": the untrained model (initialised with the config's SEED)."""
    from fastreid.utils.checkpoint import Checkpointer

    from ..engine import MultimodalTrainer, load_config
    from ..engine.trainer import num_classes_in_checkpoint
    if weights == INIT:
        cfg = load_config(config, list(opts) + ["MODEL.BACKBONE.PRETRAIN", "False"])
        if cfg.SEED >= 0:
            torch.manual_seed(cfg.SEED)
        model = MultimodalTrainer.build_model(cfg)
        return cfg, model.eval()
    if not weights or not os.path.isfile(weights):
        raise ConfigError(f"--weights: checkpoint file '{weights}' does not exist (expected a "
                          ".pth written by a fastreid-multimodal run, e.g. OUTPUT_DIR/model_final.pth)")
    opts = list(opts) + ["MODEL.WEIGHTS", weights, "MODEL.BACKBONE.PRETRAIN", "False"]
    cfg = load_config(config, opts)
    cfg.defrost()
    classes = num_classes_in_checkpoint(weights)
    if classes:  # the checkpoint's classifier size, so it loads without a shape warning
        cfg.MODEL.HEADS.NUM_CLASSES = classes
    cfg.freeze()
    model = MultimodalTrainer.build_model(cfg)
    Checkpointer(model).load(weights)
    model.eval()
    return cfg, model


def load_dataset(cfg, name):
    """A registered data set, built the way the trainer builds it (clear error for a bad name)."""
    from fastreid.data.datasets import DATASET_REGISTRY

    from ..data.layouts import datasets_root
    try:
        cls = DATASET_REGISTRY.get(name)
    except KeyError:
        known = sorted(DATASET_REGISTRY._obj_map)
        raise ConfigError(f"--dataset: unknown data set '{name}'; registered: "
                          f"{', '.join(known)}") from None
    return cls(root=datasets_root(), dataset_cfg=cfg)


def _unwrap(model):
    return model.module if hasattr(model, "module") else model


# -- features --------------------------------------------------------------------------------------
def load_images(cfg, paths):
    """(N, 3, H, W) float tensor of image files, with the test transforms (0-255, unnormalised)."""
    from fastreid.data.data_utils import read_image
    from fastreid.data.transforms import build_transforms
    transform = build_transforms(cfg, is_train=False)
    return torch.stack([transform(read_image(p)) for p in paths])


@torch.no_grad()
def extract_features(cfg, model, paths, batch_size=None):
    """Re-ID image features (what the evaluator uses: ``model(images)`` in eval mode), (N, D)."""
    model = _unwrap(model)
    batch_size = batch_size or max(1, cfg.TEST.IMS_PER_BATCH)
    feats = [model(load_images(cfg, paths[i:i + batch_size])).cpu()
             for i in range(0, len(paths), batch_size)]
    return torch.cat(feats) if feats else torch.zeros(0, 0)


@torch.no_grad()
def text_features(cfg, model, captions, batch_size=None):
    """Text features in the image-feature space: MMET's ``text_features``; for DMF the shared
    encoder's text [cls] through the same BNNeck head as the images, (N, D)."""
    from ..data.text import text_tokenizer, tokenize
    model = _unwrap(model)
    tokenizer = text_tokenizer(cfg)
    batch_size = batch_size or max(1, cfg.TEST.IMS_PER_BATCH)
    feats = []
    for i in range(0, len(captions), batch_size):
        tokens = tokenize(tokenizer, captions[i:i + batch_size], cfg.MODEL.TEXT.MAX_LENGTH)
        if hasattr(model, "text_features"):
            feats.append(model.text_features(tokens.input_ids, tokens.attention_mask).cpu())
        elif hasattr(model.backbone, "forward_text"):
            cls = model.backbone.forward_text(tokens.input_ids.to(model.device),
                                              tokens.attention_mask.to(model.device))
            feats.append(model.heads(cls[..., None, None]).cpu())
        else:
            raise UserError(f"{type(model).__name__} with backbone {type(model.backbone).__name__} "
                            "has no text path (expected DMF or MMET)")
    return torch.cat(feats)


@torch.no_grad()
def modality_features(cfg, model, paths, captions):
    """Backbone [cls] features of images and of captions (DMF: forward_image / forward_text;
    MMET: the image and text encoders' CLS), before any head: (Ni, D), (Nt, D)."""
    from ..data.text import text_tokenizer, tokenize
    model = _unwrap(model)
    backbone = model.backbone
    images = model.preprocess_image(load_images(cfg, paths))
    tokens = tokenize(text_tokenizer(cfg), list(captions),
                      cfg.MODEL.TEXT.MAX_LENGTH)
    ids, mask = tokens.input_ids.to(model.device), tokens.attention_mask.to(model.device)
    if hasattr(backbone, "forward_text"):
        return backbone.forward_image(images).cpu(), backbone.forward_text(ids, mask).cpu()
    if hasattr(backbone, "encode_text"):
        return backbone.encode_image(images)[:, 0].cpu(), backbone.encode_text(ids, mask)[:, 0].cpu()
    raise UserError(f"backbone {type(backbone).__name__} has no text path (expected DMF or MMET)")


# -- ranking ---------------------------------------------------------------------------------------
def rank(query_feats, gallery_feats, query_pids=None, query_cams=None, gallery_pids=None,
         gallery_cams=None, topk=10):
    """Indices (Nq, k) and cosine similarities (Nq, k) of each query's top-k gallery entries,
    best first. With pids and cams, a gallery entry of the query's identity AND camera is
    skipped (FastReID's protocol)."""
    q = F.normalize(torch.as_tensor(query_feats).float(), dim=1)
    g = F.normalize(torch.as_tensor(gallery_feats).float(), dim=1)
    sim = q @ g.t()
    if query_pids is not None and query_cams is not None:
        same_pid = torch.tensor([[qp == gp for gp in gallery_pids] for qp in query_pids])
        same_cam = torch.tensor([[qc == gc for gc in gallery_cams] for qc in query_cams])
        sim = sim.masked_fill(same_pid & same_cam, float("-inf"))
    k = min(topk, g.shape[0])
    scores, index = sim.topk(k, dim=1)
    return index.numpy(), scores.numpy()


def border_colors(query_pid, gallery_pids):
    """Green for a gallery entry of the query's identity, red otherwise (DMF Fig. 4)."""
    return [SAME if pid == query_pid else DIFFERENT for pid in gallery_pids]


# -- attention rollout -----------------------------------------------------------------------------
def _image_tokens(backbone, images):
    if hasattr(backbone, "image_tokens"):  # DMFViT: patch embedding + projection F + cls + pos
        return backbone.image_tokens(images)
    x = backbone.patch_embed(images)  # MMET image encoder, timm ViT
    x = torch.cat([backbone.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
    return backbone.pos_drop(x + backbone.pos_embed)


def block_attention(block, x):
    """Attention probabilities (B, heads, N, N) of a timm ``Block`` on its input ``x``: the
    block's own qkv projection of norm1(x), scaled dot product, softmax."""
    attn = block.attn
    y = block.norm1(x)
    b, n, _ = y.shape
    qkv = attn.qkv(y).reshape(b, n, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
    q, k, _ = qkv.unbind(0)
    q, k = attn.q_norm(q), attn.k_norm(k)
    return ((q * attn.scale) @ k.transpose(-2, -1)).softmax(dim=-1)


@torch.no_grad()
def attention_rollout(backbone, images):
    """[cls]-to-patch attention rollout, (B, gh, gw), each map non-negative and summing to 1.

    ``images`` are normalised (the meta-arch's ``preprocess_image``). Per block: heads averaged,
    identity added (the residual), rows renormalised; the product over blocks is read at the
    [cls] row, restricted to the patches and renormalised."""
    x = _image_tokens(backbone, images)
    n = x.shape[1]
    eye = torch.eye(n, device=x.device)
    rollout = eye.expand(x.shape[0], n, n)
    for block in backbone.blocks:
        a = block_attention(block, x).mean(dim=1) + eye
        a = a / a.sum(dim=-1, keepdim=True)
        rollout = a @ rollout
        x = block(x)
    cls = rollout[:, 0, 1:].clamp_min(0)
    cls = cls / cls.sum(dim=-1, keepdim=True)
    gh, gw = backbone.patch_embed.grid_size
    return cls.reshape(-1, gh, gw).cpu()


# -- modality distance -----------------------------------------------------------------------------
def pca_2d(*arrays):
    """Project the rows of all arrays onto their first two principal components (one basis)."""
    stacked = np.concatenate([np.asarray(a, dtype=np.float64) for a in arrays])
    centred = stacked - stacked.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    out = centred @ vt[:2].T
    if out.shape[1] < 2:
        out = np.pad(out, ((0, 0), (0, 2 - out.shape[1])))
    sizes = np.cumsum([len(a) for a in arrays])[:-1]
    return np.split(out, sizes)


def mean_cosine_distance(image_feats, image_pids, text_feats, text_pids, same_identity=True,
                         centred=False):
    """Mean 1 - cos over every (image, text) pair of the same identity (or, with
    ``same_identity=False``, of different identities: the scale to compare it with).
    ``centred``: subtract the mean of all image and text features first (a direction shared by
    every feature otherwise makes all cosines close to 1)."""
    i, t = torch.as_tensor(image_feats).float(), torch.as_tensor(text_feats).float()
    if centred:
        mean = torch.cat([i, t]).mean(dim=0)
        i, t = i - mean, t - mean
    i, t = F.normalize(i, dim=1), F.normalize(t, dim=1)
    same = torch.tensor([[(a == b) == same_identity for b in text_pids] for a in image_pids])
    if not same.any():
        raise UserError("no identity has both images and captions")
    return float((1 - i @ t.t())[same].mean())


def natural_key(pid):
    """'source_10' after 'source_9'."""
    import re
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(pid))]


def short_pid(pid):
    """'synthpersonsource_12' -> '12' for legends."""
    return str(pid).rsplit("_", 1)[-1]


def modality_samples(dataset, num_ids, per_id=4):
    """(image paths, image pids, captions, text pids) of the first ``num_ids`` identities of
    the training split that have captions: up to ``per_id`` images and captions each."""
    texts = getattr(dataset, "texts", None)
    if not texts:
        raise UserError(f"{type(dataset).__name__} has no captions (.texts): the modality "
                        "distance needs a data set with text, e.g. SynthPersonSource")
    caption_by_pid = {}
    for caption, pid, _ in texts:
        caption_by_pid.setdefault(pid, []).append(caption.text)
    pids = sorted(caption_by_pid, key=natural_key)[:num_ids]
    paths, ipids, captions, tpids = [], [], [], []
    for pid in pids:
        for path in [p for p, q, _ in dataset.train if q == pid][:per_id]:
            paths.append(path)
            ipids.append(pid)
        for text in caption_by_pid[pid][:per_id]:
            captions.append(text)
            tpids.append(pid)
    return paths, ipids, captions, tpids


# -- metrics ---------------------------------------------------------------------------------------
def read_metrics(path, keys):
    """{key: (iterations, values)} for the keys present in a FastReID ``metrics.json``."""
    if not os.path.isfile(path):
        raise ConfigError(f"--metrics: '{path}' does not exist (expected OUTPUT_DIR/metrics.json "
                          "of a training run)")
    series = {k: ([], []) for k in keys}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            for key in keys:
                if key in row and "iteration" in row:
                    series[key][0].append(row["iteration"])
                    series[key][1].append(row[key])
    found = {k: v for k, v in series.items() if v[0]}
    if not found:
        raise UserError(f"{path} has none of the keys {', '.join(keys)}")
    return found


# -- plotting --------------------------------------------------------------------------------------
def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def display_image(path, size):
    """RGB uint8 array of an image file resized to ``size`` (h, w)."""
    from PIL import Image
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB").resize((size[1], size[0]), Image.BILINEAR))


def save_png(fig, out):
    """Save a figure as a 256-colour PNG (photo grids stay small); pixel size is figsize * DPI."""
    import io

    from PIL import Image
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=DPI, format="png")
    buffer.seek(0)
    with Image.open(buffer) as img:
        img.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)


def _show(ax, image, color=None, title=None, fontsize=7):
    ax.imshow(image)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(color is not None)
        if color is not None:
            spine.set_edgecolor(color)
            spine.set_linewidth(4)
    if title:
        ax.set_title(title, fontsize=fontsize)


def ranking_figsize(num_queries, topk):
    return (1.0 * (topk + 1) + 0.4, 2.2 * num_queries)


def plot_ranking(out, query_paths, query_pids, ranked_paths, ranked_pids, ranked_scores,
                 image_size=(128, 64)):
    """One row per query: the query, then its top-k with green/red borders."""
    plt = _pyplot()
    nq, k = len(query_paths), max(len(r) for r in ranked_paths)
    fig, axes = plt.subplots(nq, k + 1, figsize=ranking_figsize(nq, k), dpi=DPI, squeeze=False)
    for row in range(nq):
        _show(axes[row, 0], display_image(query_paths[row], image_size), color="black",
              title=f"query\nid {query_pids[row]}")
        colors = border_colors(query_pids[row], ranked_pids[row])
        for col in range(k):
            ax = axes[row, col + 1]
            if col >= len(ranked_paths[row]):
                ax.axis("off")
                continue
            _show(ax, display_image(ranked_paths[row][col], image_size), color=colors[col],
                  title=f"#{col + 1} id {ranked_pids[row][col]}\n{ranked_scores[row][col]:.2f}")
    fig.suptitle("Top-k gallery (green: same identity, red: different)", fontsize=9)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.88 if nq == 1 else 0.93,
                        wspace=0.15, hspace=0.45)
    save_png(fig, out)
    plt.close(fig)


def attention_figsize(num_images, num_models):
    return (1.3 * num_images * (1 + num_models) + 0.4, 3.0)


def plot_attention(out, paths, maps_by_label, image_size=(128, 64)):
    """For each image: the image, then its rollout overlay for every model (label -> (B, gh, gw))."""
    plt = _pyplot()
    labels = list(maps_by_label)
    cols = len(paths) * (1 + len(labels))
    fig, axes = plt.subplots(1, cols, figsize=attention_figsize(len(paths), len(labels)),
                             dpi=DPI, squeeze=False)
    for i, path in enumerate(paths):
        image = display_image(path, image_size)
        base = i * (1 + len(labels))
        _show(axes[0, base], image, title="image")
        for j, label in enumerate(labels):
            heat = maps_by_label[label][i].numpy()
            heat = heat / max(heat.max(), 1e-12)
            ax = axes[0, base + 1 + j]
            _show(ax, image, title=label)
            ax.imshow(heat, cmap="jet", alpha=0.5, interpolation="bilinear",
                      extent=(-0.5, image.shape[1] - 0.5, image.shape[0] - 0.5, -0.5))
    fig.suptitle("Attention rollout of the [cls] token", fontsize=9)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.82, wspace=0.08)
    save_png(fig, out)
    plt.close(fig)


def modality_figsize(num_panels):
    return (4.5 * num_panels + 1.0, 4.5)


def plot_modality(out, panels, pids):
    """panels: [(title, image_xy, image_pids, text_xy, text_pids)], one scatter each."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=modality_figsize(len(panels)), dpi=DPI,
                             squeeze=False)
    cmap = plt.get_cmap("tab10" if len(pids) <= 10 else "tab20")
    color = {pid: cmap(i % cmap.N) for i, pid in enumerate(pids)}
    for ax, (title, ixy, ipids, txy, tpids) in zip(axes[0], panels):
        ax.scatter(ixy[:, 0], ixy[:, 1], c=[color[p] for p in ipids], marker="o", s=30,
                   edgecolors="k", linewidths=0.3)
        ax.scatter(txy[:, 0], txy[:, 1], c=[color[p] for p in tpids], marker="^", s=45,
                   edgecolors="k", linewidths=0.3)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [plt.Line2D([], [], marker="o", ls="", color="gray", label="image"),
               plt.Line2D([], [], marker="^", ls="", color="gray", label="text")]
    handles += [plt.Line2D([], [], marker="s", ls="", color=color[p], label=f"id {short_pid(p)}") for p in pids]
    fig.legend(handles=handles, loc="center right", fontsize=7, frameon=False)
    fig.subplots_adjust(left=0.02, right=1 - 0.9 / modality_figsize(len(panels))[0],
                        bottom=0.03, top=0.84, wspace=0.08)
    save_png(fig, out)
    plt.close(fig)


def curves_figsize(num_keys):
    return (4.0 * num_keys, 3.2)


def plot_curves(out, series, title=""):
    """One panel per metric key against the iteration (lr on a log scale)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(series), figsize=curves_figsize(len(series)), dpi=DPI,
                             squeeze=False)
    for ax, (key, (its, values)) in zip(axes[0], series.items()):
        ax.plot(its, values, lw=1.2, marker="." if len(its) < 30 else None)
        ax.set_title(key, fontsize=10)
        ax.set_xlabel("iteration", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if key == "lr" and min(values) > 0:
            ax.set_yscale("log")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save_png(fig, out)
    plt.close(fig)
