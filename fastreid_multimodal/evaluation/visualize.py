"""The numbers behind tools/visualize.py's figures (``plots`` draws them): a query's ranking list,
how far apart a model puts the images and the captions of one identity, and the training curves.

* ``rank``: cosine ranking of query images against gallery images (FastReID protocol: gallery
  images of the query's identity seen by the query's camera are left out).
* ``modality_samples`` / ``pca_2d`` / ``mean_cosine_distance``: image vs text embeddings of the
  same identities (DMF Fig. 3).
* ``read_metrics``: FastReID's ``metrics.json`` (one JSON object per line).
"""
import json
import os
import re

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError, UserError


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
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(pid))]


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
