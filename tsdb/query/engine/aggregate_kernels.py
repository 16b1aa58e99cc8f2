"""numba kernels for PromQL aggregations over the whole step grid.

Every kernel takes the input vector as ``values: float64[series, steps]`` and ``present: bool[series,
steps]`` plus the output group of each series, and processes the series IN INPUT ORDER for every step,
exactly as Prometheus's ``promql/engine.go`` (``aggregation``/``aggregationK``) does for one step. The
order matters: Kahan-compensated sums, the incremental mean and the topk/bottomk heaps give bit-exact
results (and tie-breaking) only when samples are fed in the same order. Outputs are new arrays owned by
the caller. ``tests/reference/aggregate.py`` is the per-step pure-Python reference.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from tsdb._numba import njit
from tsdb.query.kahan_kernels import kahan_inc

SUM = 0
AVG = 1
COUNT = 2
GROUP = 3
MIN = 4
MAX = 5
STDDEV = 6
STDVAR = 7

BASIC_OPS: dict[str, int] = {
    "sum": SUM, "avg": AVG, "count": COUNT, "group": GROUP, "min": MIN, "max": MAX,
    "stddev": STDDEV, "stdvar": STDVAR,
}
"""Aggregation name -> op code of :func:`aggregate_basic`."""


@njit
def aggregate_basic(op: int, gidx: npt.NDArray[np.int64], values: npt.NDArray[np.float64],
                    present: npt.NDArray[np.bool_], n_groups: int
                    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """sum/avg/count/group/min/max/stddev/stdvar of every group at every step.

    ``gidx[s]`` is the output group of series ``s``. Returns ``out[n_groups, steps]`` and
    ``seen[n_groups, steps]`` (a group with no present input at a step has no output there).
    """
    n_series, n_steps = values.shape
    val = np.zeros((n_groups, n_steps))
    mean = np.zeros((n_groups, n_steps))
    comp = np.zeros((n_groups, n_steps))
    cnt = np.zeros((n_groups, n_steps))
    seen = np.zeros((n_groups, n_steps), dtype=np.bool_)
    incremental = np.zeros((n_groups, n_steps), dtype=np.bool_)
    for s in range(n_series):
        g = gidx[s]
        for t in range(n_steps):
            if not present[s, t]:
                continue
            f = values[s, t]
            if not seen[g, t]:
                seen[g, t] = True
                val[g, t] = f
                mean[g, t] = f
                comp[g, t] = 0.0
                cnt[g, t] = 1.0
                if op == STDDEV or op == STDVAR:  # noqa: SIM109 (numba-friendly)
                    val[g, t] = np.nan if (math.isnan(f) or math.isinf(f)) else 0.0
                elif op == GROUP:
                    val[g, t] = 1.0
                continue
            if op == SUM:
                val[g, t], comp[g, t] = kahan_inc(f, val[g, t], comp[g, t])
            elif op == AVG:
                cnt[g, t] += 1.0
                n = cnt[g, t]
                if not incremental[g, t]:
                    new_v, new_c = kahan_inc(f, val[g, t], comp[g, t])
                    if not math.isinf(new_v):
                        val[g, t] = new_v
                        comp[g, t] = new_c
                        continue
                    # The direct sum would overflow: switch to the incremental mean from here on.
                    incremental[g, t] = True
                    mean[g, t] = val[g, t] / (n - 1.0)
                    comp[g, t] = comp[g, t] / (n - 1.0)
                q = (n - 1.0) / n
                mean[g, t], comp[g, t] = kahan_inc(f / n, q * mean[g, t], q * comp[g, t])
            elif op == COUNT:
                cnt[g, t] += 1.0
            elif op == MAX:
                if val[g, t] < f or math.isnan(val[g, t]):
                    val[g, t] = f
            elif op == MIN:
                if val[g, t] > f or math.isnan(val[g, t]):
                    val[g, t] = f
            elif op == STDDEV or op == STDVAR:  # noqa: SIM109 (numba-friendly)
                cnt[g, t] += 1.0
                delta = f - mean[g, t]
                mean[g, t] += delta / cnt[g, t]
                val[g, t] += delta * (f - mean[g, t])
    out = np.full((n_groups, n_steps), np.nan)
    for g in range(n_groups):
        for t in range(n_steps):
            if not seen[g, t]:
                continue
            if op == SUM:
                out[g, t] = val[g, t] + comp[g, t]
            elif op == AVG:
                if incremental[g, t]:
                    out[g, t] = mean[g, t] + comp[g, t]
                else:
                    out[g, t] = val[g, t] / cnt[g, t] + comp[g, t] / cnt[g, t]
            elif op == COUNT:
                out[g, t] = cnt[g, t]
            elif op == STDVAR:
                out[g, t] = val[g, t] / cnt[g, t]
            elif op == STDDEV:
                out[g, t] = math.sqrt(val[g, t] / cnt[g, t])
            else:
                out[g, t] = val[g, t]
    return out, seen


@njit
def aggregate_quantile(order: npt.NDArray[np.int64], starts: npt.NDArray[np.int64],
                       values: npt.NDArray[np.float64], present: npt.NDArray[np.bool_],
                       q: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """φ-quantile ``q[t]`` of every group at every step (Prometheus's ``quantile()`` rule).

    ``order`` lists the series grouped by output group (group ``g`` is ``order[starts[g]:starts[g+1]]``).
    NaN samples sort before every number (as Prometheus's comparator puts them); φ < 0 gives -Inf,
    φ > 1 gives +Inf, φ NaN gives NaN. Returns ``out[groups, steps]`` and ``seen[groups, steps]``.
    """
    n_groups = len(starts) - 1
    n_steps = values.shape[1]
    out = np.full((n_groups, n_steps), np.nan)
    seen = np.zeros((n_groups, n_steps), dtype=np.bool_)
    buf = np.empty(len(order))
    for g in range(n_groups):
        lo = starts[g]
        hi = starts[g + 1]
        for t in range(n_steps):
            n_nan = 0
            n = 0
            for i in range(lo, hi):
                s = order[i]
                if present[s, t]:
                    f = values[s, t]
                    if math.isnan(f):
                        n_nan += 1
                    else:
                        buf[n] = f
                        n += 1
            total = n + n_nan
            if total == 0:
                continue
            seen[g, t] = True
            phi = q[t]
            if math.isnan(phi):
                continue
            if phi < 0:
                out[g, t] = -np.inf
                continue
            if phi > 1:
                out[g, t] = np.inf
                continue
            sorted_vals = np.empty(total)
            sorted_vals[:n_nan] = np.nan
            sorted_vals[n_nan:] = np.sort(buf[:n])
            rank = phi * (total - 1)
            lower = max(0.0, math.floor(rank))
            upper = min(total - 1.0, lower + 1.0)
            weight = rank - math.floor(rank)
            out[g, t] = sorted_vals[int(lower)] * (1 - weight) + sorted_vals[int(upper)] * weight
    return out, seen


@njit
def _heap_less(hv: npt.NDArray[np.float64], t: int, a: int, b: int, bottom: bool) -> bool:
    """Prometheus's vectorByValueHeap (topk) / vectorByReverseValueHeap (bottomk) ``Less`` on slots a, b."""
    va = hv[t, a]
    if math.isnan(va):
        return True
    if bottom:
        return va > hv[t, b]
    return va < hv[t, b]


@njit
def _heap_swap(heap: npt.NDArray[np.int64], hv: npt.NDArray[np.float64], t: int, i: int, j: int) -> None:
    heap[t, i], heap[t, j] = heap[t, j], heap[t, i]
    hv[t, i], hv[t, j] = hv[t, j], hv[t, i]


@njit
def _heap_up(heap: npt.NDArray[np.int64], hv: npt.NDArray[np.float64], t: int, j: int, bottom: bool) -> None:
    """Go's container/heap ``up`` on the heap of step ``t``."""
    while True:
        i = (j - 1) // 2 if j > 0 else 0
        if i == j or not _heap_less(hv, t, j, i, bottom):
            break
        _heap_swap(heap, hv, t, i, j)
        j = i


@njit
def _heap_down(heap: npt.NDArray[np.int64], hv: npt.NDArray[np.float64], t: int, i0: int, n: int,
               bottom: bool) -> bool:
    """Go's container/heap ``down`` on the heap of step ``t``; True if the element moved."""
    i = i0
    while True:
        j1 = 2 * i + 1
        if j1 >= n:
            break
        j = j1
        j2 = j1 + 1
        if j2 < n and _heap_less(hv, t, j2, j1, bottom):
            j = j2
        if not _heap_less(hv, t, j, i, bottom):
            break
        _heap_swap(heap, hv, t, i, j)
        i = j
    return i > i0


@njit
def aggregate_topk(order: npt.NDArray[np.int64], starts: npt.NDArray[np.int64],
                   values: npt.NDArray[np.float64], present: npt.NDArray[np.bool_],
                   k: npt.NDArray[np.int64], bottom: bool) -> npt.NDArray[np.int64]:
    """topk (``bottom=False``) or bottomk of every group at every step.

    Replays Go's ``container/heap`` operations of Prometheus's ``aggregationK`` so ties and NaNs pick the
    same series. ``k[t]`` is the (already truncated and capped) k per step; ``k[t] < 1`` selects nothing.
    Returns ``rank[series, steps]``: -1 where not selected, else the position of the series in the group's
    output order at that step (descending for topk, ascending for bottomk, NaNs last). One heap per
    step (series ids and their values) is kept while the group's series are streamed row by row.
    """
    n_groups = len(starts) - 1
    n_series, n_steps = values.shape
    rank = np.full((n_series, n_steps), -1, dtype=np.int64)
    kmax = 0
    for t in range(n_steps):
        kmax = max(kmax, k[t])
    biggest = 0
    for g in range(n_groups):
        biggest = max(biggest, starts[g + 1] - starts[g])
    cap = max(1, min(kmax, biggest))
    heap = np.empty((n_steps, cap), dtype=np.int64)
    hv = np.empty((n_steps, cap))
    sizes = np.zeros(n_steps, dtype=np.int64)
    for g in range(n_groups):
        sizes[:] = 0
        for i in range(starts[g], starts[g + 1]):
            s = order[i]
            for t in range(n_steps):
                kt = k[t]
                if kt < 1 or not present[s, t]:
                    continue
                size = sizes[t]
                f = values[s, t]
                if size < kt:
                    heap[t, size] = s
                    hv[t, size] = f
                    sizes[t] = size + 1
                    _heap_up(heap, hv, t, size, bottom)
                    continue
                top = hv[t, 0]
                if bottom:
                    better = top > f or (math.isnan(top) and not math.isnan(f))
                else:
                    better = top < f or (math.isnan(top) and not math.isnan(f))
                if better:
                    heap[t, 0] = s
                    hv[t, 0] = f
                    if kt > 1 and not _heap_down(heap, hv, t, 0, size, bottom):
                        _heap_up(heap, hv, t, 0, bottom)
        for t in range(n_steps):
            _rank_heap(heap, hv, sizes[t], t, bottom, rank)
    return rank


@njit
def _rank_heap(heap: npt.NDArray[np.int64], hv: npt.NDArray[np.float64], size: int, t: int, bottom: bool,
               rank: npt.NDArray[np.int64]) -> None:
    """Write the output positions of the finished heap of step ``t``: Go's sort.Sort(sort.Reverse(heap))."""
    if size == 0:
        return
    if size <= 12:
        # Go's pdqsort is an insertion sort up to 12 elements (so ties keep their heap order).
        for i in range(1, size):
            j = i
            while j > 0 and _heap_less(hv, t, j - 1, j, bottom):
                _heap_swap(heap, hv, t, j, j - 1)
                j -= 1
        for i in range(size):
            rank[heap[t, i], t] = i
        return
    # Larger heaps: the same order (best first, NaNs last), ties in heap order.
    key = np.empty(size)
    n_nan = 0
    for i in range(size):
        if math.isnan(hv[t, i]):
            n_nan += 1
        key[i] = hv[t, i] if bottom else -hv[t, i]
    pos = np.argsort(key, kind="mergesort")
    r = 0
    for i in range(size - n_nan):
        rank[heap[t, pos[i]], t] = r
        r += 1
    for i in range(size):
        if math.isnan(hv[t, i]):
            rank[heap[t, i], t] = r
            r += 1


@njit
def aggregate_limitk(order: npt.NDArray[np.int64], starts: npt.NDArray[np.int64], present: npt.NDArray[np.bool_],
                     k: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """limitk: per group and step the first ``k[t]`` present series in input order.

    Returns ``rank[series, steps]`` (-1: not selected, else the position among the selected).
    """
    n_groups = len(starts) - 1
    n_series, n_steps = present.shape
    rank = np.full((n_series, n_steps), -1, dtype=np.int64)
    taken = np.zeros(n_steps, dtype=np.int64)
    for g in range(n_groups):
        taken[:] = 0
        for i in range(starts[g], starts[g + 1]):
            s = order[i]
            for t in range(n_steps):
                if present[s, t] and taken[t] < k[t]:
                    rank[s, t] = taken[t]
                    taken[t] += 1
    return rank


@njit
def count_by_key(keys: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_], n_keys: int) -> npt.NDArray[np.int32]:
    """``[n_keys, steps]``: per key and step, how many rows ``r`` with ``keys[r] == key`` have ``mask[r, t]``.

    Used for signature/label-set counts of vector matching and set operators.
    """
    n_rows, n_steps = mask.shape
    out = np.zeros((n_keys, n_steps), dtype=np.int32)
    for r in range(n_rows):
        k = keys[r]
        for t in range(n_steps):
            if mask[r, t]:
                out[k, t] += 1
    return out


@njit
def last_row_by_key(keys: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_], n_keys: int) -> npt.NDArray[np.int64]:
    """``[n_keys, steps]``: per key and step, the last row with that key and ``mask`` set (-1: none)."""
    n_rows, n_steps = mask.shape
    out = np.full((n_keys, n_steps), -1, dtype=np.int64)
    for r in range(n_rows):
        k = keys[r]
        for t in range(n_steps):
            if mask[r, t]:
                out[k, t] = r
    return out


@njit
def match_partners(sig: npt.NDArray[np.int64], present: npt.NDArray[np.bool_], idx_one: npt.NDArray[np.int64]
                   ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """For every "many"-side row: its first partner row on the "one" side, whether it has that same
    partner at every matched step, and ``matched[row, t]`` (present and a partner exists).

    ``idx_one[sig, t]`` is the "one"-side row of a signature at a step (-1: none). ``first`` is -1 for rows
    that never match.
    """
    n_rows, n_steps = present.shape
    first = np.full(n_rows, -1, dtype=np.int64)
    uniform = np.ones(n_rows, dtype=np.bool_)
    matched = np.zeros((n_rows, n_steps), dtype=np.bool_)
    for r in range(n_rows):
        s = sig[r]
        f = -1
        for t in range(n_steps):
            if present[r, t]:
                p = idx_one[s, t]
                if p >= 0:
                    matched[r, t] = True
                    if f < 0:
                        f = p
                    elif p != f:
                        uniform[r] = False
        first[r] = f
    return first, uniform, matched
