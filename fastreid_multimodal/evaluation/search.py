"""Text->image search: cosine similarity between the model's text features (DMF: the shared
encoder's text [cls] + BNNeck; MMET: ``text_features``) and the gallery's image features, by the
evaluation's own chunked engine (``chunked_ranking.chunked_topk``). The gallery is a folder of images (searched recursively) or a registered
data set (its query + gallery images)."""
import os

import numpy as np
import torch

from ..errors import ConfigError, UserError
from .chunked_ranking import chunked_topk

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def gallery_paths(cfg, gallery):
    """Image paths of a folder (recursive *.jpg/*.png) or of a data set's query + gallery."""
    if os.path.isdir(gallery):
        paths = sorted(os.path.join(d, f) for d, _, files in os.walk(gallery) for f in files
                       if f.lower().endswith(IMAGE_SUFFIXES))
        if not paths:
            raise UserError(f"--gallery: no *.jpg/*.png images under '{gallery}'")
        return paths
    if os.path.sep in gallery or os.path.exists(gallery):
        raise ConfigError(f"--gallery: '{gallery}' is not a folder (give a folder of images or a "
                          "registered data set name)")
    from .visualize import load_dataset
    data = load_dataset(cfg, gallery)
    paths = [p for p, _, _ in list(data.query) + list(data.gallery)]
    if not paths:
        raise UserError(f"--gallery: data set {gallery} has no query/gallery images")
    return paths


def search(gallery_feats, query_feats, topk):
    """(cosine scores, indices), each (Nq, k), best first (k is capped at the gallery size)."""
    gallery = torch.as_tensor(np.asarray(gallery_feats, dtype=np.float32))
    query = torch.as_tensor(np.asarray(query_feats, dtype=np.float32))
    distances, ids = chunked_topk(query.reshape(-1, gallery.shape[1]), gallery, topk, "cosine")
    return (1 - distances).numpy(), ids.numpy()


def search_text(cfg, model, paths, sentence, topk=5, image_feats=None):
    """[(path, cosine)] of the top-k gallery images for one sentence, best first."""
    from .visualize import extract_features, text_features
    if not sentence.strip():
        raise UserError("--query: empty sentence")
    if image_feats is None:
        image_feats = extract_features(cfg, model, paths)
    image_feats = image_feats.numpy() if hasattr(image_feats, "numpy") else image_feats
    query = text_features(cfg, model, [sentence])
    scores, ids = search(image_feats, query.numpy(), topk)
    return [(paths[i], float(s)) for i, s in zip(ids[0], scores[0])]


def plot_results(out, sentence, results, image_size=(128, 64)):
    """A strip: the top-k images with rank and score, the sentence as the title."""
    import textwrap

    from .visualize import DPI, _pyplot, _show, display_image, save_png
    plt = _pyplot()
    k = len(results)
    fig, axes = plt.subplots(1, k, figsize=search_figsize(k), dpi=DPI, squeeze=False)
    for ax, (rank, (path, score)) in zip(axes[0], enumerate(results, 1)):
        _show(ax, display_image(path, image_size), title=f"#{rank} {score:.2f}\n"
              f"{textwrap.shorten(os.path.basename(path), 22)}", fontsize=7)
    fig.suptitle(textwrap.fill(f'"{sentence}"', 100), fontsize=8)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.72, wspace=0.1)
    save_png(fig, out)
    plt.close(fig)


def search_figsize(k):
    return (max(1.5 * k, 4.0), 3.2)
