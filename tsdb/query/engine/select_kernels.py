"""numba kernel of instant-vector selection: the sample each series has at each step, for all series at once.

Inputs: the samples of every series concatenated (``ts`` int64 ms ascending per series, ``bits`` the
float64 values viewed as int64 so the stale marker is compared by bits), ``offsets[n+1]`` delimiting
series ``i`` as ``offsets[i]:offsets[i+1]``, the reference time per step ``t[steps]`` (any order) and the
lookback delta. ``tests/reference/select.py`` is the pure-Python reference.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tsdb._numba import njit

STALE_BITS = 0x7FF0000000000002


@njit
def instant_lookup(ts: npt.NDArray[np.int64], bits: npt.NDArray[np.int64], offsets: npt.NDArray[np.int64],
                   t: npt.NDArray[np.int64], lookback: int, out_bits: npt.NDArray[np.int64],
                   out_present: npt.NDArray[np.bool_], out_ts: npt.NDArray[np.int64]) -> None:
    """Per series ``i`` and step ``j``: the last sample at or before ``t[j]``.

    Writes its value bits and timestamp to ``out_*[i, j]`` (the series' first sample when none is at or
    before ``t[j]``) and ``out_present[i, j]`` = such a sample exists, is newer than ``t[j] - lookback``
    and is not a stale marker. Series without samples are left untouched.
    """
    n = offsets.shape[0] - 1
    k = t.shape[0]
    for i in range(n):
        first = offsets[i]
        end = offsets[i + 1]
        if first == end:
            continue
        for j in range(k):
            tj = t[j]
            lo = first
            hi = end
            while lo < hi:
                mid = (lo + hi) >> 1
                if ts[mid] <= tj:
                    lo = mid + 1
                else:
                    hi = mid
            idx = lo - 1
            valid = idx >= first
            if not valid:
                idx = first
            found = ts[idx]
            b = bits[idx]
            out_bits[i, j] = b
            out_ts[i, j] = found
            out_present[i, j] = valid and found > tj - lookback and b != STALE_BITS
