"""The range-function kernels against the pure-Python reference, plus known Prometheus values."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reference import rollup as ref
from tsdb.query.functions.rollup import RANGE_FUNCTIONS, pack, rollup

pytestmark = pytest.mark.kernel

values_st = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.sampled_from([0.0, 1.0, -1.0, math.inf, -math.inf, math.nan, 1e308, -1e308]),
)


@st.composite
def series_st(draw: st.DrawFn) -> tuple[list[int], list[float]]:
    gaps = draw(st.lists(st.integers(min_value=1, max_value=40_000), max_size=12))
    start = draw(st.integers(min_value=-100_000, max_value=100_000))
    ts = list(np.cumsum([start, *gaps]).tolist())[: len(gaps)]
    vals = draw(st.lists(values_st, min_size=len(ts), max_size=len(ts)))
    return ts, vals


def _same(a: float | None, b: float, present: bool) -> bool:
    if a is None:
        return not present
    if not present:
        return False
    if math.isnan(a):
        return math.isnan(b)
    return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))


@given(
    name=st.sampled_from(sorted(RANGE_FUNCTIONS)),
    series=st.lists(series_st(), min_size=0, max_size=3),
    first=st.integers(min_value=-100_000, max_value=200_000),
    step=st.integers(min_value=1, max_value=60_000),
    num_steps=st.integers(min_value=1, max_value=6),
    rng=st.integers(min_value=1, max_value=300_000),
    p1=st.floats(min_value=-0.5, max_value=1.5),
    p2=st.floats(min_value=0.01, max_value=0.99),
)
def test_kernel_matches_reference(name: str, series: list[tuple[list[int], list[float]]], first: int, step: int,
                                  num_steps: int, rng: int, p1: float, p2: float) -> None:
    if name == "double_exponential_smoothing":
        p1 = min(max(p1, 0.01), 0.99)
    eval_ts = np.arange(num_steps, dtype=np.int64) * step + first
    p1s = np.full(num_steps, p1)
    p2s = np.full(num_steps, p2)
    out, present = rollup(name, [np.array(t, np.int64) for t, _ in series],
                          [np.array(v, np.float64) for _, v in series], eval_ts, rng, p1=p1s, p2=p2s)
    expected = ref.rollup(name, series, eval_ts.tolist(), rng, p1s.tolist(), p2s.tolist())
    for i, row in enumerate(expected):
        for k, want in enumerate(row):
            assert _same(want, float(out[i, k]), bool(present[i, k])), (name, i, k, want, out[i, k])


def _one(name: str, ts: list[int], vals: list[float], t: int, rng: int, p1: float = 0.0) -> float:
    out, present = rollup(name, [np.array(ts, np.int64)], [np.array(vals)], np.array([t], np.int64), rng,
                          p1=np.array([p1]))
    assert present[0, 0]
    return float(out[0, 0])


def test_rate_extrapolation_known_values() -> None:
    # Samples every minute 0,10,...,100 at 0m..10m: rate over 5m at 10m is exactly 10/60 per second.
    ts = [i * 60_000 for i in range(11)]
    vals = [i * 10.0 for i in range(11)]
    assert _one("rate", ts, vals, 600_000, 300_000) == pytest.approx(10 / 60)
    assert _one("increase", ts, vals, 600_000, 300_000) == pytest.approx(50.0)
    assert _one("delta", ts, vals, 600_000, 300_000) == pytest.approx(50.0)


def test_counter_reset_is_corrected() -> None:
    ts = [0, 60_000, 120_000, 180_000]
    assert _one("increase", ts, [10, 20, 5, 15], 180_000, 240_000) == pytest.approx(
        ref.window("increase", ts, [10, 20, 5, 15], 180_000, 240_000))
    assert _one("resets", ts, [10, 20, 5, 15], 180_000, 240_000) == 1.0


def test_window_is_left_open() -> None:
    ts = [0, 60_000]
    assert _one("count_over_time", ts, [1.0, 2.0], 60_000, 60_000) == 1.0


def test_sum_over_time_uses_kahan() -> None:
    vals = [1e100, 1.0, -1e100]
    assert _one("sum_over_time", [1, 2, 3], vals, 3, 10) == 1.0


def test_quantile_and_mad() -> None:
    vals = [1.0, 2.0, 3.0, 4.0]
    ts = [1, 2, 3, 4]
    assert _one("quantile_over_time", ts, vals, 4, 10, p1=0.5) == 2.5
    assert _one("mad_over_time", ts, vals, 4, 10) == 1.0


def test_pack_offsets() -> None:
    ts, vals, offsets = pack([np.array([1, 2]), np.array([], np.int64), np.array([5])],
                             [np.array([1.0, 2.0]), np.array([]), np.array([3.0])])
    assert offsets.tolist() == [0, 2, 2, 3]
    assert ts.tolist() == [1, 2, 5]
    assert vals.tolist() == [1.0, 2.0, 3.0]


@given(
    name=st.sampled_from(["rate", "increase", "delta", "resets", "changes"]),
    mode=st.sampled_from(["anchored", "smoothed"]),
    series=st.lists(series_st(), min_size=0, max_size=3),
    first=st.integers(min_value=-100_000, max_value=200_000),
    step=st.integers(min_value=1, max_value=60_000),
    num_steps=st.integers(min_value=1, max_value=5),
    rng=st.integers(min_value=1, max_value=120_000),
    lookback=st.integers(min_value=1, max_value=120_000),
)
def test_extended_modes_match_reference(name: str, mode: str, series: list[tuple[list[int], list[float]]],
                                        first: int, step: int, num_steps: int, rng: int, lookback: int) -> None:
    if mode == "smoothed" and name in ("resets", "changes"):
        mode = "anchored"
    eval_ts = np.arange(num_steps, dtype=np.int64) * step + first
    out, present = rollup(name, [np.array(t, np.int64) for t, _ in series],
                          [np.array(v, np.float64) for _, v in series], eval_ts, rng, mode=mode,
                          lookback_ms=lookback)
    expected = ref.rollup_extended(name, series, eval_ts.tolist(), rng, mode, lookback)
    for i, row in enumerate(expected):
        for k, want in enumerate(row):
            assert _same(want, float(out[i, k]), bool(present[i, k])), (name, mode, i, k, want, out[i, k])


def test_anchored_increase_known_values() -> None:
    # extended_vectors.test: samples 1..5 then 9..13 every 15s; increase(metric[1m] anchored) at 80s is 7
    ts = [i * 15_000 for i in range(10)]
    vals = [1.0, 2, 3, 4, 5, 9, 10, 11, 12, 13]
    out, present = rollup("increase", [np.array(ts, np.int64)], [np.array(vals)], np.array([80_000], np.int64),
                          60_000, mode="anchored", lookback_ms=300_000)
    assert present[0, 0] and out[0, 0] == 7.0


def test_series_batches_cover_every_series_once() -> None:
    """The kernel runs over consecutive series ranges (the deadline is checked between them)."""
    from tsdb.query.functions.rollup import series_batches

    counts = np.array([0, 5, 100, 0, 7, 3000, 1, 0], dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    ts = np.concatenate([np.arange(c, dtype=np.int64) * 1000 for c in counts])
    for work in (1, 500, 10_000, 10**9):
        batches = series_batches(ts, offsets, 50, 60_000, work)
        assert batches[0][0] == 0 and batches[-1][1] == len(counts)
        assert all(a[1] == b[0] and a[0] < a[1] for a, b in itertools.pairwise(batches))
    assert series_batches(ts, offsets, 50, 60_000, 10**9) == [(0, len(counts))]
    assert len(series_batches(ts, offsets, 50, 60_000, 1)) == len(counts)
    assert series_batches(np.zeros(0, np.int64), np.zeros(1, np.int64), 5, 1000) == []
