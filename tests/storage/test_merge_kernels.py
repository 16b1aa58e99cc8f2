"""The piece-merging kernel against its dict reference, and merge_flat against MergeQuerier semantics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reference.merge import ref_merge_pieces
from tsdb.labels import Labels
from tsdb.storage.interfaces import FlatSeries
from tsdb.storage.merge import merge_flat
from tsdb.storage.merge_kernels import merge_pieces

pytestmark = pytest.mark.kernel

piece = st.dictionaries(st.integers(0, 40), st.integers(-5, 5).map(float), max_size=8)
groups = st.lists(st.lists(piece, max_size=4), min_size=1, max_size=5)


@given(groups)
def test_merge_pieces_matches_reference(data: list[list[dict[int, float]]]) -> None:
    ts: list[int] = []
    values: list[float] = []
    starts: list[int] = []
    ends: list[int] = []
    bounds = [0]
    for pieces in data:
        for p in pieces:
            starts.append(len(ts))
            for t in sorted(p):
                ts.append(t)
                values.append(p[t])
            ends.append(len(ts))
        bounds.append(len(starts))
    out_ts = np.empty(len(ts), dtype=np.int64)
    out_values = np.empty(len(ts), dtype=np.float64)
    out_offsets = np.empty(len(data) + 1, dtype=np.int64)
    as64 = lambda xs: np.asarray(xs, dtype=np.int64)  # noqa: E731
    merge_pieces(as64(ts), np.asarray(values, dtype=np.float64), as64(starts), as64(ends), as64(bounds),
                 out_ts, out_values, out_offsets)
    expected = ref_merge_pieces(ts, values, starts, ends, bounds)
    got = [list(zip(out_ts[out_offsets[g]:out_offsets[g + 1]].tolist(),
                    out_values[out_offsets[g]:out_offsets[g + 1]].tolist(), strict=True)) for g in range(len(data))]
    assert got == expected


def _flat(series: dict[str, dict[int, float]]) -> FlatSeries:
    labels = [Labels({"__name__": name}) for name in series]
    ts = [t for s in series.values() for t in sorted(s)]
    values = [s[t] for s in series.values() for t in sorted(s)]
    offsets = np.cumsum([0] + [len(s) for s in series.values()])
    return FlatSeries(labels, np.asarray(ts, dtype=np.int64), np.asarray(values, dtype=np.float64),
                      offsets.astype(np.int64))


sources = st.lists(st.dictionaries(st.sampled_from("abcd"), piece, max_size=4), max_size=4)


@given(sources)
def test_merge_flat_later_source_wins_and_empty_series_drop(parts: list[dict[str, dict[int, float]]]) -> None:
    expected: dict[str, dict[int, float]] = {}
    for part in parts:
        for name, samples in part.items():
            expected.setdefault(name, {}).update(samples)
    flat = merge_flat([_flat(p) for p in parts])
    names = [lb.metric_name for lb in flat.labels]
    assert names == sorted(n for n, s in expected.items() if s)
    b = flat.offsets.tolist()
    for i, name in enumerate(names):
        assert flat.ts[b[i]:b[i + 1]].tolist() == sorted(expected[name])
        assert flat.values[b[i]:b[i + 1]].tolist() == [expected[name][t] for t in sorted(expected[name])]
    assert b[-1] == flat.ts.shape[0] == flat.values.shape[0]
