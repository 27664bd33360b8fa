"""Exact Re-ID ranking metrics without the query x gallery matrix: FastReID's ``evaluate_rank``
(CMC, mAP, mINP with same-identity-same-camera gallery items removed, queries without a valid
match skipped) computed a chunk of queries at a time, in torch, on the features' device.

FastReID sorts every full row. Only the ranks of the true matches matter: the rank of a match is
the number of kept gallery items ahead of it, i.e. closer, or as close and earlier in the gallery
(FastReID's ``np.argsort`` keeps gallery order among equal distances where it is stable). Per query
chunk: distances by one matrix product; the matches' distances sorted; every kept item's bucket
among them by ``searchsorted``; bucket counts -> the number of non-matches closer than each match.
Exact ties between a match and a non-match are counted by gallery index (rare; done only on rows
that have them).
"""
import numpy as np
import torch
import torch.nn.functional as F

METRICS = ("cosine", "euclidean")


def _distances(query, gallery, metric, gallery_sq=None):
    """FastReID's build_dist formulas (cosine: 1 - q.g of normalised features; euclidean:
    |q|^2 + |g|^2 - 2 q.g) for one chunk of already prepared queries."""
    if metric == "cosine":
        return 1 - query @ gallery.t()
    return (query.pow(2).sum(1, keepdim=True) + gallery_sq[None, :]) - 2 * (query @ gallery.t())


def _sorted_matches(dist, match, num_match, width):
    """Per row, the matches' distances ascending (equal ones in gallery order), padded with +inf,
    and their gallery indices: (rows, width) each. Sorts only the matches, not the rows."""
    rows_of, cols = torch.nonzero(match, as_tuple=True)  # row-major: gallery order within a row
    values = dist[rows_of, cols]
    by_value = torch.sort(values, stable=True).indices
    order = by_value[torch.sort(rows_of[by_value], stable=True).indices]
    rows_of, cols, values = rows_of[order], cols[order], values[order]
    first = torch.cumsum(num_match, 0) - num_match
    slot = torch.arange(len(order), device=dist.device) - first[rows_of]
    thresholds = torch.full((dist.shape[0], width), float("inf"), dtype=dist.dtype, device=dist.device)
    index = torch.full((dist.shape[0], width), -1, dtype=torch.long, device=dist.device)
    thresholds[rows_of, slot] = values
    index[rows_of, slot] = cols
    return thresholds, index


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
    q_pids, g_pids = (torch.as_tensor(np.asarray(a), device=device) for a in (q_pids, g_pids))
    q_cams, g_cams = (torch.as_tensor(np.asarray(a), device=device) for a in (q_camids, g_camids))
    num_g = gallery.shape[0]
    max_rank = min(max_rank, num_g)
    positions = torch.arange(num_g, device=device)
    cmc_sum = torch.zeros(max_rank, dtype=torch.float64, device=device)
    all_ap, all_inp = [], []
    for start in range(0, query.shape[0], chunk_size):
        end = min(start + chunk_size, query.shape[0])
        dist = dist_fn(start, end) if dist_fn is not None else \
            _distances(query[start:end], gallery, metric, gallery_sq)
        same_id = q_pids[start:end, None] == g_pids[None, :]
        junk = same_id & (q_cams[start:end, None] == g_cams[None, :])
        match = same_id & ~junk
        num_match = match.sum(1)
        valid = num_match > 0
        if not valid.any():
            continue
        dist, match, junk, num_match = dist[valid], match[valid], junk[valid], num_match[valid]
        rows, width = dist.shape[0], int(num_match.max())
        thresholds, match_index = _sorted_matches(dist, match, num_match, width)
        # non-matches that count: not removed, not a match
        other = ~(match | junk)
        # bucket of each item = #thresholds <= d: a non-match is closer than match k iff bucket <= k
        bucket = torch.searchsorted(thresholds, dist.contiguous(), right=True)
        bucket = bucket.masked_fill(~other, width)
        counts = torch.zeros(rows, width + 1, dtype=torch.int64, device=device)
        counts.scatter_add_(1, bucket, torch.ones_like(bucket))
        # rank of match k (0-based, among kept items): closer non-matches + the k matches before it
        ranks = counts.cumsum(1)[:, :width] + torch.arange(width, device=device)[None, :]
        # a non-match exactly as far as a match comes first when earlier in the gallery
        below = torch.gather(thresholds, 1, (bucket - 1).clamp(min=0))
        tied = other & (bucket > 0) & (dist == below)
        for r in torch.nonzero(tied.any(1)).flatten().tolist():
            same = (dist[r][None, :] == thresholds[r][:, None]) & other[r][None, :]
            ranks[r] += (same & (positions[None, :] < match_index[r][:, None])).sum(1)
        ranks = ranks.double()
        hits = torch.arange(1, width + 1, device=device, dtype=torch.float64)[None, :]
        in_row = hits <= num_match[:, None]
        precision = torch.where(in_row, hits / (ranks + 1), torch.zeros_like(ranks))
        all_ap.extend((precision.sum(1) / num_match).tolist())
        last = torch.gather(ranks, 1, (num_match - 1)[:, None]).squeeze(1)
        all_inp.extend((num_match / (last + 1)).tolist())
        first = ranks[:, 0]
        cmc_sum += (torch.arange(max_rank, device=device)[None, :] >= first[:, None]).sum(0)
    if not all_ap:
        raise AssertionError("Error: all query identities do not appear in gallery")
    cmc = (cmc_sum / len(all_ap)).float().cpu().numpy()
    return cmc, all_ap, all_inp
