# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""One pass over a chunk of query rows: the rank among kept gallery items of every match.

``dist`` (B, G) float32; ``t`` (B, M) each row's match distances ascending (row r has counts[r]);
``idx`` (B, M) the matches' gallery indices in that order (ascending among equal distances);
``g_pids`` (G,), ``q_pids`` (B,). Items of the query's own identity (matches, and the removed
same-camera ones) are never "others". ``ranks`` (B, M) int64, zero on entry: on return
ranks[r, k] = #others closer than match k + #others as close and earlier in the gallery + k.
Releases the GIL: callers split the rows over threads."""


def match_ranks(const float[:, ::1] dist, const float[:, ::1] t, const long long[:, ::1] idx,
                const long long[::1] counts, const long long[::1] g_pids,
                const long long[::1] q_pids, long long[:, ::1] ranks, Py_ssize_t row_start,
                Py_ssize_t row_end):
    cdef Py_ssize_t r, j, k, lo, hi, mid, n, below, num_gallery = dist.shape[1]
    cdef float d, farthest
    cdef long long pid
    with nogil:
        for r in range(row_start, row_end):
            n = counts[r]
            if n == 0:
                continue
            farthest = t[r, n - 1]
            pid = q_pids[r]
            for j in range(num_gallery):
                d = dist[r, j]
                if not d <= farthest or g_pids[j] == pid:
                    continue
                lo = 0  # upper bound: the first match farther than d
                hi = n
                while lo < hi:
                    mid = (lo + hi) >> 1
                    if t[r, mid] <= d:
                        lo = mid + 1
                    else:
                        hi = mid
                if lo < n:
                    ranks[r, lo] += 1  # closer than matches lo.. (cumulated below)
                if lo > 0 and t[r, lo - 1] == d:  # exactly as far as matches below..lo-1
                    below = lo - 1
                    while below > 0 and t[r, below - 1] == d:
                        below -= 1
                    for k in range(below, lo):
                        if j < idx[r, k]:
                            ranks[r, k] += 1
                            if k + 1 < n:
                                ranks[r, k + 1] -= 1  # a tie counts for match k alone
            # cumulate: an item closer than match k is closer than every later match
            for k in range(1, n):
                ranks[r, k] += ranks[r, k - 1]
            for k in range(n):
                ranks[r, k] += k
