"""Exact Re-ID ranking metrics without the query x gallery matrix: FastReID's ``evaluate_rank``
(CMC, mAP, mINP with same-identity-same-camera gallery items removed, queries without a valid
match skipped) computed a chunk of queries at a time, in torch, on the features' device.

FastReID sorts every full row. Only the ranks of the true matches matter: the rank of a match is
the number of kept gallery items ahead of it, i.e. closer, or as close and earlier in the gallery
(FastReID's ``np.argsort`` keeps gallery order among equal distances where it is stable). Per query
chunk: distances by one matrix product; per query, the matches' distances sorted, the items no
farther than the farthest match (few, for any useful model) bucketed among them by
``searchsorted``; bucket counts -> the number of other items closer than each match. Exact ties
between a match and another item are counted by gallery index (rare; only on rows that have them).
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


def _gallery_by_identity(g_pids, device):
    """{pid: ascending gallery indices of that identity}."""
    order = np.argsort(g_pids, kind="stable")
    pids, starts = np.unique(g_pids[order], return_index=True)
    groups = np.split(order, starts[1:])
    return {pid: torch.as_tensor(np.sort(group), device=device) for pid, group in zip(pids, groups)}


def _match_ranks(d, match_idx, same_idx):
    """0-based ranks, among kept gallery items, of one query's matches (ascending).

    ``d``: the query's distances to the whole gallery; ``match_idx``: its matches; ``same_idx``:
    every gallery item of its identity (matches and removed same-camera ones). Only items no
    farther than the farthest match can precede one, so only those are bucketed."""
    t, order = torch.sort(d[match_idx], stable=True)  # gallery order among equal distances
    idx, n = match_idx[order], len(match_idx)
    candidates = torch.nonzero(d <= t[-1]).flatten()
    dc = d[candidates]
    # bucket = #matches with t <= d: an item is closer than match k iff its bucket <= k
    bucket = torch.searchsorted(t, dc, right=True)
    closer = torch.bincount(bucket, minlength=n + 1)[:n].cumsum(0)
    ds = d[same_idx]  # the identity's own items are not "others": take them out again
    same_bucket = torch.searchsorted(t, ds, right=True)
    closer -= torch.bincount(same_bucket, minlength=n + 1)[:n].cumsum(0)
    ranks = closer + torch.arange(n, device=d.device)  # + the k matches before match k
    # an item exactly as far as a match precedes it when earlier in the gallery
    tied = ((bucket > 0) & (dc == t[(bucket - 1).clamp(min=0)])).sum()
    tied_same = ((same_bucket > 0) & (ds == t[(same_bucket - 1).clamp(min=0)])).sum()
    if tied > tied_same:
        others = ~torch.isin(candidates, same_idx)
        equal = (dc[None, :] == t[:, None]) & others[None, :]
        ranks += (equal & (candidates[None, :] < idx[:, None])).sum(1)
    return ranks


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
    q_pids, g_pids = np.asarray(q_pids), np.asarray(g_pids)
    q_cams, g_cams = np.asarray(q_camids), torch.as_tensor(np.asarray(g_camids), device=device)
    by_identity = _gallery_by_identity(g_pids, device)
    max_rank = min(max_rank, gallery.shape[0])
    first_hits, all_ap, all_inp = [], [], []
    for start in range(0, query.shape[0], chunk_size):
        end = min(start + chunk_size, query.shape[0])
        dist = dist_fn(start, end) if dist_fn is not None else \
            _distances(query[start:end], gallery, metric, gallery_sq)
        for row in range(end - start):
            same_idx = by_identity.get(q_pids[start + row])
            if same_idx is None:
                continue
            match_idx = same_idx[g_cams[same_idx] != int(q_cams[start + row])]
            if len(match_idx) == 0:  # no valid match: FastReID skips the query
                continue
            ranks = _match_ranks(dist[row], match_idx, same_idx).double()
            hits = torch.arange(1, len(ranks) + 1, device=device, dtype=torch.float64)
            all_ap.append((hits / (ranks + 1)).mean())
            all_inp.append(len(ranks) / (ranks[-1] + 1))
            first_hits.append(ranks[0])
    if not all_ap:
        raise AssertionError("Error: all query identities do not appear in gallery")
    first = torch.stack(first_hits)
    cmc = (torch.arange(max_rank, device=device)[None, :] >= first[:, None]).double().mean(0)
    return (cmc.float().cpu().numpy(), torch.stack(all_ap).tolist(),
            torch.stack(all_inp).tolist())
