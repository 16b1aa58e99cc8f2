"""numba kernel merging the samples of many series that several sources returned in pieces.

Input: every source's samples concatenated (``ts``, ``values``) and the pieces (``starts``, ``ends``)
listed by group (one group per distinct series), within a group by increasing source priority; ``bounds``
delimits each group's pieces. Output per group: its samples sorted by time, and where several pieces hold
the same timestamp the piece of highest priority wins. The common case, pieces that do not overlap in
time, is a plain copy in time order.

Reference: ``tests/reference/merge.py``.
"""

from __future__ import annotations

import numpy as np

from tsdb._numba import njit


@njit
def merge_pieces(ts: np.ndarray, values: np.ndarray, starts: np.ndarray, ends: np.ndarray, bounds: np.ndarray,
                 out_ts: np.ndarray, out_values: np.ndarray, out_offsets: np.ndarray) -> None:
    """Write group g's merged samples to ``out_*[out_offsets[g]:out_offsets[g + 1]]`` (``out_offsets[0]`` = 0).

    ``out_ts``/``out_values`` must hold the sum of all piece lengths.
    """
    pos = 0
    out_offsets[0] = 0
    for g in range(bounds.shape[0] - 1):
        lo = bounds[g]
        hi = bounds[g + 1]
        # the group's non-empty pieces, ordered by first timestamp (stable: priority order kept on ties)
        order = np.empty(hi - lo, dtype=np.int64)
        n = 0
        for p in range(lo, hi):
            if ends[p] > starts[p]:
                k = n
                while k > 0 and ts[starts[order[k - 1]]] > ts[starts[p]]:
                    order[k] = order[k - 1]
                    k -= 1
                order[k] = p
                n += 1
        disjoint = True
        for k in range(1, n):
            if ts[ends[order[k - 1]] - 1] >= ts[starts[order[k]]]:
                disjoint = False
                break
        if disjoint:
            for k in range(n):
                p = order[k]
                size = ends[p] - starts[p]
                out_ts[pos:pos + size] = ts[starts[p]:ends[p]]
                out_values[pos:pos + size] = values[starts[p]:ends[p]]
                pos += size
        else:
            total = 0
            for p in range(lo, hi):
                total += ends[p] - starts[p]
            idx = np.empty(total, dtype=np.int64)
            m = 0
            for p in range(lo, hi):  # priority order
                for i in range(starts[p], ends[p]):
                    idx[m] = i
                    m += 1
            by_time = np.argsort(ts[idx], kind="mergesort")  # stable: lower priority first within a ts
            for k in range(total):
                i = idx[by_time[k]]
                if k + 1 < total and ts[idx[by_time[k + 1]]] == ts[i]:
                    continue  # a later (higher priority) piece has this timestamp
                out_ts[pos] = ts[i]
                out_values[pos] = values[i]
                pos += 1
        out_offsets[g + 1] = pos
