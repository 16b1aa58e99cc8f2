"""numba kernel of replica deduplication: two replicas' samples of one series merged into one stream.

Thanos's penalty rule (``pkg/dedup/iter.go``): walk both replicas in time order and take the earlier
sample; the replica not taken is then only considered again from the last emitted time plus a penalty of
twice the gap between the last two emitted samples (5 s before two samples are known), so two replicas
scraping at different phases do not double the sample rate. The replica taken has no penalty, so a
replica is only left for the other after a gap longer than about two scrape intervals. When one replica
runs out, the rest of the other follows.

Reference: ``tests/reference/dedup.py``.
"""

from __future__ import annotations

import numpy as np

from tsdb._numba import njit

INITIAL_PENALTY_MS = 5000
"""Penalty before any gap is known (Thanos's ``initialPenalty``): scrape intervals are seconds long."""


@njit
def dedup_pair(ts_a: np.ndarray, values_a: np.ndarray, ts_b: np.ndarray, values_b: np.ndarray,
               out_ts: np.ndarray, out_values: np.ndarray) -> int:
    """Merge replica ``a`` (preferred on equal times) and ``b``, both ascending; writes the result to
    ``out_*`` (room for ``len(a) + len(b)`` samples) and returns its length."""
    na = ts_a.shape[0]
    nb = ts_b.shape[0]
    i = 0
    j = 0
    n = 0
    have_last = False
    last = 0
    pen_a = 0
    pen_b = 0
    while True:
        if have_last:  # seek each replica past the last emitted time plus its penalty
            while i < na and ts_a[i] < last + 1 + pen_a:
                i += 1
            while j < nb and ts_b[j] < last + 1 + pen_b:
                j += 1
        a_ok = i < na
        b_ok = j < nb
        if not a_ok and not b_ok:
            return n
        if not a_ok:
            out_ts[n] = ts_b[j]
            out_values[n] = values_b[j]
            last = ts_b[j]
            pen_b = 0
            j += 1
        elif not b_ok:
            out_ts[n] = ts_a[i]
            out_values[n] = values_a[i]
            last = ts_a[i]
            pen_a = 0
            i += 1
        elif ts_a[i] <= ts_b[j]:
            pen_b = 2 * (ts_a[i] - last) if have_last else INITIAL_PENALTY_MS
            pen_a = 0
            out_ts[n] = ts_a[i]
            out_values[n] = values_a[i]
            last = ts_a[i]
            i += 1
        else:
            pen_a = 2 * (ts_b[j] - last) if have_last else INITIAL_PENALTY_MS
            pen_b = 0
            out_ts[n] = ts_b[j]
            out_values[n] = values_b[j]
            last = ts_b[j]
            j += 1
        have_last = True
        n += 1
