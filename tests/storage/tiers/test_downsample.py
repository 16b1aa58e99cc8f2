"""Downsampling kernels against their references; the aggregate forms the engine reads."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reference import downsample as ref
from tsdb.errors import InvalidArgumentError
from tsdb.labels import Labels
from tsdb.storage.interfaces import STALE_NAN, FlatSeries
from tsdb.storage.tiers import downsample_kernels as k
from tsdb.storage.tiers.downsample import Aggregates, aggregate_series, concat_aggregates, downsample_flat

_value = st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(float("nan")), st.just(float(STALE_NAN)))
_series = st.lists(st.lists(st.tuples(st.integers(0, 2000), _value), max_size=12).map(
    lambda xs: sorted({t: v for t, v in xs}.items())), max_size=4)


def _flat(series: list[list[tuple[int, float]]]) -> FlatSeries:
    labels = [Labels({"__name__": "m", "i": str(i)}) for i in range(len(series))]
    offsets = np.concatenate(([0], np.cumsum([len(s) for s in series]))).astype(np.int64)
    ts = np.array([t for s in series for t, _ in s], dtype=np.int64)
    values = np.array([v for s in series for _, v in s], dtype=np.float64)
    return FlatSeries(labels, ts, values, offsets)


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b or abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


@pytest.mark.kernel
@given(_series, st.sampled_from([1, 7, 100, 300]))
def test_downsample_matches_reference(series: list[list[tuple[int, float]]], resolution: int) -> None:
    agg = downsample_flat(_flat(series), resolution)
    expected = [rows for rows in ref.downsample(series, resolution) if rows]
    assert len(agg.labels) == len(expected)
    for i, rows in enumerate(expected):
        lo, hi = int(agg.offsets[i]), int(agg.offsets[i + 1])
        assert hi - lo == len(rows)
        for j, row in enumerate(rows):
            for name, want in row.items():
                got = float(getattr(agg, name)[lo + j])
                assert _same(got, float(want)), (name, got, want)
        counters = np.empty(hi - lo)
        k.counter_values(agg.first_value[lo:hi], agg.last_value[lo:hi], agg.counter_inc[lo:hi],
                         np.array([0, hi - lo], np.int64), counters)
        for got, want in zip(counters.tolist(), ref.counter_values(rows), strict=True):
            assert _same(got, want)


def test_counter_form_keeps_resets_and_both_window_ends() -> None:
    # one window of 3 samples with a reset inside, then a window after a reset between windows
    flat = FlatSeries([Labels({"__name__": "c"})], np.array([0, 10, 20, 100, 110], np.int64),
                      np.array([5.0, 8.0, 2.0, 1.0, 4.0]), np.array([0, 5], np.int64))
    agg = downsample_flat(flat, 100)
    counter = aggregate_series(agg, "counter")
    # window 1: 5 -> 8 (+3) -> 2 (reset: +2) = 10 at t=20; window 2 starts after a reset: +1 -> 11, +3 -> 14
    assert counter.ts.tolist() == [0, 20, 100, 110]
    assert counter.values.tolist() == [5.0, 10.0, 11.0, 14.0]
    assert aggregate_series(agg, "avg").values.tolist() == [5.0, 2.5]
    assert aggregate_series(agg, "count").values.tolist() == [3.0, 2.0]
    assert aggregate_series(agg, "min").values.tolist() == [2.0, 1.0]
    with pytest.raises(InvalidArgumentError, match="unknown tier aggregate"):
        aggregate_series(agg, "median")
    with pytest.raises(InvalidArgumentError, match="positive"):
        downsample_flat(flat, 0)


def test_concat_and_empty() -> None:
    a = downsample_flat(_flat([[(0, 1.0), (5, 2.0)]]), 10)
    b = downsample_flat(FlatSeries([Labels({"__name__": "z"})], np.array([3], np.int64), np.array([7.0]),
                                   np.array([0, 1], np.int64)), 10)
    both = concat_aggregates([a, Aggregates.empty(), b])
    assert [lb.metric_name for lb in both.labels] == ["m", "z"]
    assert both.offsets.tolist() == [0, 1, 2]
    assert concat_aggregates([]).num_rows == 0
    only_stale = downsample_flat(_flat([[(0, float(STALE_NAN))]]), 10)
    assert only_stale.labels == [] and only_stale.num_rows == 0
