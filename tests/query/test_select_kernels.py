"""The instant-selection kernel against its pure-Python reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reference import select as ref
from tsdb.query.engine.select_kernels import STALE_BITS, instant_lookup

_bits = st.sampled_from([0, 1, -5, STALE_BITS, 0x7FF8000000000001, 4607182418800017408])
_series = st.lists(st.lists(st.tuples(st.integers(-100, 100), _bits), max_size=8).map(
    lambda xs: sorted({t: b for t, b in xs}.items())), max_size=5)


@pytest.mark.kernel
@given(_series, st.lists(st.integers(-120, 120), max_size=6), st.integers(1, 50))
def test_instant_lookup_matches_reference(series: list[list[tuple[int, int]]], t: list[int], lookback: int) -> None:
    n, k = len(series), len(t)
    ts = np.array([s[0] for x in series for s in x], dtype=np.int64)
    bits = np.array([s[1] for x in series for s in x], dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum([len(x) for x in series]))).astype(np.int64)
    out_bits = np.full((n, k), 99, np.int64)
    out_present = np.zeros((n, k), bool)
    out_ts = np.full((n, k), 99, np.int64)
    instant_lookup(ts, bits, offsets, np.array(t, dtype=np.int64), lookback, out_bits, out_present, out_ts)
    for i, row in enumerate(ref.instant_lookup(series, t, lookback)):
        for j, cell in enumerate(row):
            if cell is None:
                assert (out_bits[i, j], out_ts[i, j], out_present[i, j]) == (99, 99, False)
            else:
                assert (int(out_bits[i, j]), int(out_ts[i, j]), bool(out_present[i, j])) == cell
