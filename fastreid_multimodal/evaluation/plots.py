"""Figures as PNG files (matplotlib's Agg backend: no display needed): ranking lists, attention
overlays, image/text feature scatters, training curves, text search results. A figure's pixel
size is its ``*_figsize`` times DPI."""
import io
import os
import textwrap

import numpy as np
from PIL import Image

DPI = 100
SAME, DIFFERENT = "green", "red"


def border_colors(query_pid, gallery_pids):
    """Green for a gallery entry of the query's identity, red otherwise (DMF Fig. 4)."""
    return [SAME if pid == query_pid else DIFFERENT for pid in gallery_pids]


def short_pid(pid):
    """'synthpersonsource_12' -> '12' for legends."""
    return str(pid).rsplit("_", 1)[-1]


def pyplot():
    """matplotlib.pyplot on the Agg backend (imported on first use: it is slow to import)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def display_image(path, size):
    """RGB uint8 array of an image file resized to ``size`` (h, w)."""
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB").resize((size[1], size[0]), Image.BILINEAR))


def save_png(fig, out):
    """Save a figure as a 256-colour PNG (photo grids stay small); pixel size is figsize * DPI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=DPI, format="png")
    buffer.seek(0)
    with Image.open(buffer) as img:
        img.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)


def show_image(ax, image, color=None, title=None, fontsize=7):
    """An image on ``ax`` without ticks, framed in ``color`` when given."""
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
    plt = pyplot()
    nq, k = len(query_paths), max(len(r) for r in ranked_paths)
    fig, axes = plt.subplots(nq, k + 1, figsize=ranking_figsize(nq, k), dpi=DPI, squeeze=False)
    for row in range(nq):
        show_image(axes[row, 0], display_image(query_paths[row], image_size), color="black",
                   title=f"query\nid {query_pids[row]}")
        colors = border_colors(query_pids[row], ranked_pids[row])
        for col in range(k):
            ax = axes[row, col + 1]
            if col >= len(ranked_paths[row]):
                ax.axis("off")
                continue
            show_image(ax, display_image(ranked_paths[row][col], image_size), color=colors[col],
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
    plt = pyplot()
    labels = list(maps_by_label)
    cols = len(paths) * (1 + len(labels))
    fig, axes = plt.subplots(1, cols, figsize=attention_figsize(len(paths), len(labels)),
                             dpi=DPI, squeeze=False)
    for i, path in enumerate(paths):
        image = display_image(path, image_size)
        base = i * (1 + len(labels))
        show_image(axes[0, base], image, title="image")
        for j, label in enumerate(labels):
            heat = maps_by_label[label][i].numpy()
            heat = heat / max(heat.max(), 1e-12)
            ax = axes[0, base + 1 + j]
            show_image(ax, image, title=label)
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
    plt = pyplot()
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
    plt = pyplot()
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


def search_figsize(k):
    return (max(1.5 * k, 4.0), 3.2)


def plot_search(out, sentence, results, image_size=(128, 64)):
    """A strip: the top-k images ([(path, score)]) with rank and score, the sentence as the title."""
    plt = pyplot()
    k = len(results)
    fig, axes = plt.subplots(1, k, figsize=search_figsize(k), dpi=DPI, squeeze=False)
    for ax, (rank, (path, score)) in zip(axes[0], enumerate(results, 1)):
        show_image(ax, display_image(path, image_size), title=f"#{rank} {score:.2f}\n"
                   f"{textwrap.shorten(os.path.basename(path), 22)}", fontsize=7)
    fig.suptitle(textwrap.fill(f'"{sentence}"', 100), fontsize=8)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.72, wspace=0.1)
    save_png(fig, out)
    plt.close(fig)
