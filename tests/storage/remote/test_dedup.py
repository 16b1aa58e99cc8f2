"""Replica deduplication: the penalty kernel against its reference, and whole answers deduplicated."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reference.dedup import ref_dedup_pair
from tsdb.labels import Labels
from tsdb.storage.interfaces import FlatSeries
from tsdb.storage.remote.dedup import dedup_flat, dedup_labels, dedup_samples
from tsdb.storage.remote.dedup_kernels import dedup_pair

times = st.lists(st.integers(0, 200_000), max_size=40, unique=True).map(sorted)


def _run(a: list[int], b: list[int]) -> list[tuple[int, float]]:
    ta, tb = np.asarray(a, np.int64), np.asarray(b, np.int64)
    va, vb = ta.astype(np.float64), -tb.astype(np.float64) - 1  # the value tells which replica it came from
    out_ts = np.empty(len(a) + len(b), np.int64)
    out_values = np.empty(len(a) + len(b), np.float64)
    n = dedup_pair(ta, va, tb, vb, out_ts, out_values)
    return list(zip(out_ts[:n].tolist(), out_values[:n].tolist(), strict=True))


@pytest.mark.kernel
@given(times, times)
def test_dedup_pair_matches_reference(a: list[int], b: list[int]) -> None:
    expected = ref_dedup_pair([(t, float(t)) for t in a], [(t, -float(t) - 1) for t in b])
    got = _run(a, b)
    assert got == expected
    assert all(x[0] < y[0] for x, y in itertools.pairwise(got))  # ascending, unique


@pytest.mark.kernel
@given(times)
def test_identical_replicas_give_one(a: list[int]) -> None:
    assert [t for t, _ in _run(a, a)] == a


def test_gap_filled_from_other_replica_without_doubling() -> None:
    full = list(range(0, 600_000, 15_000))
    a = [t for t in full if not 150_000 <= t < 300_000]  # a misses two and a half minutes
    b = [t + 3_000 for t in full]  # b scrapes 3 s later, never missing
    got = _run(a, b)
    times_got = [t for t, _ in got]
    assert all(y - x >= 12_000 for x, y in itertools.pairwise(times_got))  # no doubled rate
    # a gap is left for the other replica only after twice the scrape interval (the penalty)
    assert all(y - x <= 2 * 15_000 + 3_000 for x, y in itertools.pairwise(times_got))
    assert got[0] == (0, 0.0)  # a preferred at the start
    assert any(v < 0 for t, v in got if 150_000 <= t < 300_000)  # b fills a's gap


def test_dedup_flat_merges_replicas_and_sorts() -> None:
    ts = np.array([0, 30_000, 60_000, 0, 90_000, 200_000, 10, 20], np.int64)
    values = np.arange(8, dtype=np.float64)
    labels = [Labels({"__name__": "up", "replica": "a"}), Labels({"__name__": "up", "replica": "b"}),
              Labels({"__name__": "a_metric"})]
    flat = FlatSeries(labels, ts, values, np.array([0, 3, 6, 8], np.int64))
    out = dedup_flat(flat, ["replica"])
    assert out.labels == [Labels({"__name__": "a_metric"}), Labels({"__name__": "up"})]
    # b's sample at 90 s lies within the penalty (twice the last interval) after a's last one: skipped
    assert out.ts.tolist() == [10, 20, 0, 30_000, 60_000, 200_000]
    assert out.values.tolist() == [6, 7, 0, 1, 2, 5]
    assert dedup_flat(flat, []) is flat
    assert dedup_flat(flat, ["zone"]) is flat
    assert dedup_labels(labels, ["replica"]) == out.labels
    assert dedup_labels(labels, []) == sorted(labels)


def test_dedup_samples_folds_three_replicas() -> None:
    parts = [(np.array([0, 15_000], np.int64), np.array([1.0, 2.0])),
             (np.array([60_000], np.int64), np.array([3.0])),
             (np.array([120_000, 200_000], np.int64), np.array([5.0, 4.0]))]
    ts, values = dedup_samples(parts)
    # 120 s lies within the penalty (twice the last 45 s interval) after 60 s: skipped
    assert ts.tolist() == [0, 15_000, 60_000, 200_000]
    assert values.tolist() == [1.0, 2.0, 3.0, 4.0]
    empty = FlatSeries([Labels({"a": "1", "replica": "x"})], np.zeros(0, np.int64), np.zeros(0), np.zeros(2, np.int64))
    assert dedup_flat(empty, ["replica"]).labels == []
