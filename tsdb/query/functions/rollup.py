"""Range functions over range vectors: packs series for the numba kernels and unpacks the result.

A range vector over a step grid is given as per-series sample arrays (stale markers already dropped);
:func:`rollup` concatenates them, runs the kernel over batches of series (checking the query's deadline
between batches) and returns ``float64[series, steps]`` plus the presence mask.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tsdb.query.functions import rollup_kernels as k
from tsdb.storage.interfaces import check_deadline

RANGE_FUNCTIONS = frozenset(k.FUNCTION_IDS)
"""Names of the functions computed by :func:`rollup`."""

MODES = {"": k.MODE_PLAIN, "anchored": k.MODE_ANCHORED, "smoothed": k.MODE_SMOOTHED}
ANCHORED_FUNCTIONS = ("changes", "delta", "increase", "rate", "resets")
SMOOTHED_FUNCTIONS = ("delta", "increase", "rate")
"""The functions Prometheus allows with the ``anchored`` / ``smoothed`` modifiers."""

WORK_PER_BATCH = 20_000_000
"""Samples visited per kernel call (steps x samples per window, summed over series): well under a second of
work, so the query's deadline is checked often."""


def series_batches(ts: npt.NDArray[np.int64], offsets: npt.NDArray[np.int64], steps: int, range_ms: int,
                   work: int = WORK_PER_BATCH) -> list[tuple[int, int]]:
    """``[lo, hi)`` series ranges covering all series, each visiting about ``work`` samples: per series its
    samples plus ``steps`` windows of (samples x range / span) each; at least one series per range."""
    n = len(offsets) - 1
    if n <= 0:
        return []
    counts = np.diff(offsets)
    span = np.ones(n)
    if len(ts):
        first = np.minimum(offsets[:-1], len(ts) - 1)
        last = np.clip(offsets[1:] - 1, first, len(ts) - 1)
        span = (ts[last] - ts[first]).astype(np.float64) + 1
    per_window = counts * np.minimum(1.0, (range_ms + 1) / np.maximum(span, 1.0))
    cumulative = np.cumsum(counts + (per_window + 1) * max(steps, 1))
    if float(cumulative[-1]) <= work:
        return [(0, n)]
    out: list[tuple[int, int]] = []
    lo = 0
    while lo < n:  # bounded: every pass moves lo forward by at least one series
        base = float(cumulative[lo - 1]) if lo else 0.0
        hi = min(max(int(np.searchsorted(cumulative, base + work, side="right")), lo + 1), n)
        out.append((lo, hi))
        lo = hi
    return out


class PackedList(list[npt.NDArray[np.int64]]):
    """Per-series timestamp arrays that are views of one concatenation, kept in ``packed``
    (ts, values, offsets[n+1]) so :func:`pack` need not copy them again."""

    packed: tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.int64]]


def packed_views(ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64], offsets: npt.NDArray[np.int64]
                 ) -> tuple[PackedList, list[npt.NDArray[np.float64]]]:
    """Per-series views of concatenated samples, remembering the concatenation for :func:`pack`."""
    bounds = offsets.tolist()
    ts_list = PackedList(ts[bounds[i]:bounds[i + 1]] for i in range(len(bounds) - 1))
    ts_list.packed = (ts, values, offsets)
    return ts_list, [values[bounds[i]:bounds[i + 1]] for i in range(len(bounds) - 1)]


def pack(ts_list: Sequence[npt.NDArray[np.int64]], values_list: Sequence[npt.NDArray[np.float64]]
         ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Concatenate per-series samples: (ts, values, offsets[n+1])."""
    if isinstance(ts_list, PackedList):
        return ts_list.packed
    lengths = np.array([len(t) for t in ts_list], dtype=np.int64)
    offsets = np.zeros(len(ts_list) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if len(ts_list):
        ts = np.concatenate([np.asarray(t, dtype=np.int64) for t in ts_list])
        values = np.concatenate([np.asarray(v, dtype=np.float64) for v in values_list])
    else:
        ts = np.empty(0, dtype=np.int64)
        values = np.empty(0, dtype=np.float64)
    return ts, values, offsets


def rollup(name: str, ts_list: Sequence[npt.NDArray[np.int64]], values_list: Sequence[npt.NDArray[np.float64]],
           eval_ts: npt.NDArray[np.int64], range_ms: int, out_ts: npt.NDArray[np.int64] | None = None,
           p1: npt.NDArray[np.float64] | None = None, p2: npt.NDArray[np.float64] | None = None,
           mode: str = "", lookback_ms: int = 0) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Apply range function ``name`` to every series for windows ``(t - range_ms, t]``, t in ``eval_ts``.

    ``out_ts`` are the output step times (predict_linear's intercept; defaults to ``eval_ts``), ``p1``/``p2``
    per-step scalar parameters (quantile, predict_linear seconds, smoothing/trend factors). ``mode`` is
    "", "anchored" or "smoothed" (then the window reaches ``lookback_ms`` further, see the kernels).
    Returns ``(values[series, steps], present[series, steps])``.
    """
    fn = k.FUNCTION_IDS[name]
    steps = len(eval_ts)
    ts, values, offsets = pack(ts_list, values_list)
    eval_arr = np.ascontiguousarray(eval_ts, dtype=np.int64)
    out_arr = eval_arr if out_ts is None else np.ascontiguousarray(out_ts, dtype=np.int64)
    zeros = np.zeros(steps, dtype=np.float64)
    p1_arr = zeros if p1 is None else np.ascontiguousarray(p1, dtype=np.float64)
    p2_arr = zeros if p2 is None else np.ascontiguousarray(p2, dtype=np.float64)
    out = np.zeros((len(ts_list), steps), dtype=np.float64)
    present = np.zeros((len(ts_list), steps), dtype=np.bool_)
    for lo, hi in series_batches(ts, offsets, steps, int(range_ms) + (int(lookback_ms) if mode else 0)):
        check_deadline()
        k.rollup(fn, ts, values, offsets[lo:hi + 1], eval_arr, out_arr, int(range_ms), p1_arr, p2_arr,
                 k.MIN_SAMPLES.get(fn, 1), MODES[mode], int(lookback_ms), out[lo:hi], present[lo:hi])
    return out, present
