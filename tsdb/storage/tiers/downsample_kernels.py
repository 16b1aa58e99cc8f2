"""numba kernel of downsampling: per series and per aligned window, the aggregates a tier keeps.

Input: the raw samples of many series concatenated (``ts`` int64 ms ascending per series, ``values``
float64), ``offsets[n+1]`` delimiting series ``i`` as ``offsets[i]:offsets[i+1]``, and the window length
``resolution`` (ms). Windows are ``[k * resolution, (k + 1) * resolution)``. Stale markers (compared by bits)
are skipped: they end a series in raw data but carry no value to aggregate.

Per window with at least one sample the kernel writes one row: the window start, count, sum, min, max,
the first and last sample's timestamp and value, and ``counter_inc``: the counter increase from the
window's first to its last sample, reset-aware as Prometheus's ``increase`` counts it (a drop means the
counter restarted from zero). ``tests/reference/downsample.py`` is the pure-Python reference.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tsdb._numba import njit

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

STALE_BITS = 0x7FF0000000000002

# columns of the float output
SUM = 0
MIN = 1
MAX = 2
FIRST_VALUE = 3
LAST_VALUE = 4
COUNTER_INC = 5
NFLOAT = 6
# columns of the int output
START = 0
COUNT = 1
FIRST_TS = 2
LAST_TS = 3
NINT = 4


@njit
def downsample(ts: I64, values: F64, offsets: I64, resolution: int, out_int: I64, out_float: F64,
               out_offsets: I64) -> int:
    """Aggregate every series into windows of ``resolution`` ms; returns the number of rows written.

    ``out_int[rows, NINT]`` / ``out_float[rows, NFLOAT]`` need one row per non-stale sample at most;
    ``out_offsets[n+1]`` receives the rows of series ``i`` as ``out_offsets[i]:out_offsets[i+1]``.
    """
    bits = values.view(np.int64)
    row = -1
    n = offsets.shape[0] - 1
    for i in range(n):
        out_offsets[i] = row + 1
        window = np.int64(0)
        open_window = False
        for j in range(offsets[i], offsets[i + 1]):
            if bits[j] == STALE_BITS:
                continue
            t = ts[j]
            v = values[j]
            w = (t // resolution) * resolution
            if not open_window or w != window:
                row += 1
                window = w
                open_window = True
                out_int[row, START] = w
                out_int[row, COUNT] = 1
                out_int[row, FIRST_TS] = t
                out_int[row, LAST_TS] = t
                out_float[row, SUM] = v
                out_float[row, MIN] = v
                out_float[row, MAX] = v
                out_float[row, FIRST_VALUE] = v
                out_float[row, LAST_VALUE] = v
                out_float[row, COUNTER_INC] = 0.0
                continue
            prev = out_float[row, LAST_VALUE]
            out_int[row, COUNT] += 1
            out_int[row, LAST_TS] = t
            out_float[row, SUM] += v
            # NaN loses to any number, as min_over_time/max_over_time treat it
            if v < out_float[row, MIN] or np.isnan(out_float[row, MIN]):
                out_float[row, MIN] = v
            if v > out_float[row, MAX] or np.isnan(out_float[row, MAX]):
                out_float[row, MAX] = v
            out_float[row, COUNTER_INC] += v - prev if v >= prev else v
            out_float[row, LAST_VALUE] = v
    out_offsets[n] = row + 1
    return row + 1


@njit
def counter_values(first_value: F64, last_value: F64, counter_inc: F64, offsets: I64, out: F64) -> None:
    """Reset-adjusted counter at each window's last sample, per series: a running total that starts at
    the series' first raw value and adds each window's increase and the increase between windows (a
    drop between one window's last value and the next one's first means a restart from zero)."""
    for i in range(offsets.shape[0] - 1):
        total = 0.0
        for r in range(offsets[i], offsets[i + 1]):
            if r == offsets[i]:
                total = first_value[r]
            else:
                prev = last_value[r - 1]
                cur = first_value[r]
                total += cur - prev if cur >= prev else cur
            total += counter_inc[r]
            out[r] = total
