"""Exact Re-ID ranking metrics without the query x gallery matrix: FastReID's ``evaluate_rank``
(CMC, mAP, mINP with same-identity-same-camera gallery items removed, queries without a valid
match skipped) computed a chunk of queries at a time, in torch, on the features' device.

FastReID sorts every full row. Only the ranks of the true matches matter: the rank of a match is
the number of kept gallery items ahead of it, i.e. closer, or as close and earlier in the gallery
(the order of FastReID's argsort among equal distances). Per query chunk, with no per-query Python:

* distances by one matrix product;
* the matches' distances, sorted per row (padded with +inf) -> ``t`` (chunk, most matches);
* on CPU, one pass of the compiled kernel (``_match_ranks.pyx``, rows split over threads): every
  item no farther than the row's farthest match is placed among the matches by binary search;
  elsewhere (GPU, or the kernel not built) the same in torch: ``searchsorted(t, dist)`` per item,
  a bincount per row minus the identity's own items, cumulated;
* exact ties between a match and another item (rare) are resolved by gallery index.
"""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F

try:
    from ._match_ranks import match_ranks as _compiled_match_ranks
except ImportError:  # not built (no compiler at install): the torch path gives the same ranks
    _compiled_match_ranks = None

METRICS = ("cosine", "euclidean")


def _distances(query, gallery, metric, gallery_sq=None, out=None):
    """FastReID's build_dist for one chunk of already prepared queries, with its very operations
    (cosine: 1 - q.g of normalised features; euclidean: |q|^2 + |g|^2, then addmm_ with alpha -2),
    so that they round as build_dist's do and exact ties stay ties (bitwise equal here at 768-d;
    a BLAS may still pick other kernels for other shapes); into ``out`` when given (one buffer
    for every chunk: no fresh chunk-sized allocation each time)."""
    if metric == "cosine":
        return torch.mm(query, gallery.t(), out=out).neg_().add_(1)  # 1 - x == -x + 1 exactly
    # (|q|^2 + |g|^2) - 2 q.g computed apart rounds differently from the fused addmm in ~40% of
    # the entries
    sums = torch.add(query.pow(2).sum(1, keepdim=True), gallery_sq[None, :], out=out)
    return sums.addmm_(query, gallery.t(), alpha=-2)


def _identity_pairs(q_pids, q_cams, g_pids, g_cams):
    """Every (query, gallery item of the query's identity), sorted by query then gallery index:
    (query index, gallery index, is a valid match i.e. another camera), as numpy arrays."""
    order = np.argsort(g_pids, kind="stable")
    sorted_pids = g_pids[order]
    lo = np.searchsorted(sorted_pids, q_pids, "left")
    counts = np.searchsorted(sorted_pids, q_pids, "right") - lo
    query = np.repeat(np.arange(len(q_pids)), counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    gallery = order[np.repeat(lo, counts) + within]
    return query, gallery, g_cams[gallery] != q_cams[query]


def _positions_in_row(rows):
    """0-based position of every entry among the entries of its row (``rows`` ascending)."""
    if len(rows) == 0:
        return rows
    starts = torch.ones_like(rows, dtype=torch.bool)
    starts[1:] = rows[1:] != rows[:-1]
    index = torch.arange(len(rows), device=rows.device)
    first = torch.cummax(torch.where(starts, index, torch.zeros_like(index)), 0).values
    return index - first


def _sorted_matches(dist, rows, cols, is_match):
    """(t, idx, counts): each row's match distances ascending, padded with +inf, their gallery
    indices (ascending among equal distances), the number of matches per row."""
    device, (num_rows, num_gallery) = dist.device, dist.shape
    m_rows, m_cols = rows[is_match], cols[is_match]
    counts = torch.bincount(m_rows, minlength=num_rows)
    width = max(int(counts.max()), 1) if len(m_rows) else 1
    pos = _positions_in_row(m_rows)
    t = torch.full((num_rows, width), float("inf"), dtype=dist.dtype, device=device)
    t[m_rows, pos] = dist[m_rows, m_cols]
    idx = torch.full((num_rows, width), num_gallery, dtype=torch.long, device=device)
    idx[m_rows, pos] = m_cols
    t, order = torch.sort(t, dim=1, stable=True)  # by distance, then gallery index (idx ascending)
    return t, idx.gather(1, order), counts


def _compiled_chunk_ranks(dist, t, idx, counts, g_pids, q_pids):
    """The kernel over the chunk's rows, split in torch.get_num_threads() parts (it drops the GIL)."""
    ranks = np.zeros(t.shape, dtype=np.int64)
    args = (np.ascontiguousarray(dist.numpy(), dtype=np.float32), t.contiguous().numpy(),
            idx.contiguous().numpy(), counts.numpy(), g_pids, q_pids, ranks)
    parts = min(torch.get_num_threads(), len(counts))
    bounds = np.linspace(0, len(counts), parts + 1).astype(int)
    if parts <= 1:
        _compiled_match_ranks(*args, 0, len(counts))
    else:
        with ThreadPoolExecutor(parts) as pool:
            list(pool.map(lambda b: _compiled_match_ranks(*args, *b), zip(bounds[:-1], bounds[1:])))
    return torch.from_numpy(ranks), counts


def _chunk_ranks(dist, rows, cols, is_match, g_pids=None, q_pids=None):
    """0-based ranks among kept items of every query's matches, for one chunk.

    ``dist`` (B, G); ``rows``/``cols``: every (query row, gallery item) of the same identity, rows
    ascending, cols ascending within a row; ``is_match``: those in another camera. Returns
    (ranks (B, M) with M the most matches of a row, counts (B,)): row r's ranks in ranks[r, :counts[r]]."""
    device, (num_rows, num_gallery) = dist.device, dist.shape
    t, idx, counts = _sorted_matches(dist, rows, cols, is_match)
    if g_pids is not None and dist.device.type == "cpu" and dist.dtype == torch.float32:
        return _compiled_chunk_ranks(dist, t, idx, counts, g_pids, q_pids)
    width = t.shape[1]
    # bucket: how many matches are at most as far as the item; the item is strictly closer than
    # match k iff bucket <= k
    bucket = torch.searchsorted(t, dist, right=True)
    offsets = torch.arange(num_rows, device=device)[:, None] * (width + 1)
    per_bucket = torch.bincount((bucket + offsets).flatten(), minlength=num_rows * (width + 1))
    per_bucket = per_bucket.view(num_rows, width + 1)
    own = bucket[rows, cols]  # the identity's own items (matches, removed ones) are not "others"
    per_bucket.index_put_((rows, own), torch.full_like(own, -1), accumulate=True)
    ranks = per_bucket[:, :width].cumsum(1) + torch.arange(width, device=device)[None, :]
    # exact ties: an item exactly as far as match k precedes it when earlier in the gallery
    below = torch.searchsorted(t, dist, right=False)
    tie_rows, tie_cols = torch.nonzero(below != bucket, as_tuple=True)
    if len(tie_rows):
        keep = ~torch.isin(tie_rows * num_gallery + tie_cols, rows * num_gallery + cols)
        tie_rows, tie_cols = tie_rows[keep], tie_cols[keep]
        first, last = below[tie_rows, tie_cols], bucket[tie_rows, tie_cols]
        for shift in range(int((last - first).max()) if len(first) else 0):
            k = first + shift
            valid = k < last
            r, c, k = tie_rows[valid], tie_cols[valid], k[valid]
            ranks.index_put_((r, k), (c < idx[r, k]).long(), accumulate=True)
    return ranks, counts


@torch.no_grad()
def chunked_evaluate_rank(query, gallery, q_pids, g_pids, q_camids, g_camids, metric="cosine",
                          max_rank=50, chunk_size=256, dist_fn=None):
    """(cmc[max_rank], all_AP list, all_INP list) exactly as fastreid.evaluation.rank.evaluate_rank
    on build_dist(query, gallery, metric). ``dist_fn(start, end)`` may give a chunk's distances
    instead (e.g. after re-ranking)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    device = query.device
    query, gallery = query.float(), gallery.float()
    if metric == "cosine":
        query, gallery = F.normalize(query, dim=1), F.normalize(gallery, dim=1)
    gallery_sq = gallery.pow(2).sum(1) if metric == "euclidean" else None
    pair_q, pair_g, pair_match = _identity_pairs(np.asarray(q_pids), np.asarray(q_camids),
                                                 np.asarray(g_pids), np.asarray(g_camids))
    pair_q, pair_g, pair_match = (torch.as_tensor(a, device=device)
                                  for a in (pair_q, pair_g, pair_match))
    compiled = _compiled_match_ranks is not None and device.type == "cpu"
    g_pids_np = np.ascontiguousarray(g_pids, dtype=np.int64) if compiled else None
    q_pids_np = np.ascontiguousarray(q_pids, dtype=np.int64) if compiled else None
    max_rank = min(max_rank, gallery.shape[0])
    first_hits, all_ap, all_inp, buffer = [], [], [], None
    for start in range(0, query.shape[0], chunk_size):
        end = min(start + chunk_size, query.shape[0])
        if dist_fn is not None:
            dist = dist_fn(start, end)
        else:
            if buffer is None:
                buffer = query.new_empty(min(chunk_size, query.shape[0]), gallery.shape[0])
            dist = _distances(query[start:end], gallery, metric, gallery_sq, buffer[:end - start])
        lo, hi = (int(torch.searchsorted(pair_q, torch.tensor(v, device=device))) for v in (start, end))
        ranks, counts = _chunk_ranks(dist, pair_q[lo:hi] - start, pair_g[lo:hi], pair_match[lo:hi],
                                     g_pids_np, q_pids_np[start:end] if compiled else None)
        valid = counts > 0  # a query without a valid match is skipped, as FastReID does
        ranks, counts = ranks[valid].double(), counts[valid]
        if not len(counts):
            continue
        hits = torch.arange(1, ranks.shape[1] + 1, device=device, dtype=torch.float64)
        filled = hits[None, :] <= counts[:, None]
        all_ap.append(torch.where(filled, hits / (ranks + 1), 0).sum(1) / counts)
        all_inp.append(counts / (ranks.gather(1, (counts - 1)[:, None]).squeeze(1) + 1))
        first_hits.append(ranks[:, 0])
    if not all_ap:
        raise AssertionError("Error: all query identities do not appear in gallery")
    first = torch.cat(first_hits)
    cmc = (torch.arange(max_rank, device=device)[None, :] >= first[:, None]).double().mean(0)
    return (cmc.float().cpu().numpy(), torch.cat(all_ap).tolist(), torch.cat(all_inp).tolist())


@torch.no_grad()
def chunked_topk(query, gallery, k, metric="cosine", chunk_size=256):
    """(distances, indices), each (Nq, k), nearest first, by the evaluation's distances, a chunk
    of queries at a time (text->image search uses this: one engine for ranking and search)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    query, gallery = query.float(), gallery.float()
    if metric == "cosine":
        query, gallery = F.normalize(query, dim=1), F.normalize(gallery, dim=1)
    gallery_sq = gallery.pow(2).sum(1) if metric == "euclidean" else None
    k = min(k, gallery.shape[0])
    distances, indices = [], []
    for start in range(0, query.shape[0], chunk_size):
        dist = _distances(query[start:start + chunk_size], gallery, metric, gallery_sq)
        d, i = torch.topk(dist, k, dim=1, largest=False, sorted=True)
        distances.append(d)
        indices.append(i)
    return torch.cat(distances), torch.cat(indices)

