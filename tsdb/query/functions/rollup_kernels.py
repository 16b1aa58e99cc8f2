"""Sliding-window numba kernels for PromQL range functions (rate, *_over_time, ...).

One call evaluates one function for ALL series and ALL steps. Inputs: the samples of every series
concatenated (``ts`` int64 ms ascending per series, ``values`` float64, stale markers already removed),
``offsets[n+1]`` delimiting series ``i`` as ``offsets[i]:offsets[i+1]``, ``eval_ts[steps]`` (the window
end per step, ascending), ``range_ms`` and per-step parameters ``p1``/``p2``. A window is LEFT-OPEN:
``(t - range_ms, t]``. Outputs ``out[n, steps]`` and ``present[n, steps]`` are written in place.

The arithmetic follows Prometheus's promql/functions.go (extrapolated rate, Kahan/Neumaier summation,
incremental mean and variance, the quantile rule of ``quantile()``), so results match to the bit in the
common cases. ``tests/reference/rollup.py`` is the pure-Python reference.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from tsdb._numba import njit
from tsdb.query.kahan_kernels import kahan_inc

RATE = 0
INCREASE = 1
DELTA = 2
IRATE = 3
IDELTA = 4
DERIV = 5
PREDICT_LINEAR = 6
RESETS = 7
CHANGES = 8
SUM = 9
AVG = 10
MIN = 11
MAX = 12
COUNT = 13
LAST = 14
FIRST = 15
PRESENT = 16
STDDEV = 17
STDVAR = 18
QUANTILE = 19
MAD = 20
TS_OF_MIN = 21
TS_OF_MAX = 22
TS_OF_FIRST = 23
TS_OF_LAST = 24
DOUBLE_EXP = 25

FUNCTION_IDS: dict[str, int] = {
    "rate": RATE, "increase": INCREASE, "delta": DELTA, "irate": IRATE, "idelta": IDELTA, "deriv": DERIV,
    "predict_linear": PREDICT_LINEAR, "resets": RESETS, "changes": CHANGES, "sum_over_time": SUM,
    "avg_over_time": AVG, "min_over_time": MIN, "max_over_time": MAX, "count_over_time": COUNT,
    "last_over_time": LAST, "first_over_time": FIRST, "present_over_time": PRESENT,
    "stddev_over_time": STDDEV, "stdvar_over_time": STDVAR, "quantile_over_time": QUANTILE,
    "mad_over_time": MAD, "ts_of_min_over_time": TS_OF_MIN, "ts_of_max_over_time": TS_OF_MAX,
    "ts_of_first_over_time": TS_OF_FIRST, "ts_of_last_over_time": TS_OF_LAST,
    "double_exponential_smoothing": DOUBLE_EXP,
}
"""PromQL function name -> kernel function id."""

MODE_PLAIN = 0
MODE_ANCHORED = 1
MODE_SMOOTHED = 2
"""Range-selector modifiers: none, ``anchored`` (the last sample at or before the window start, found
within the lookback, anchors the left edge; no extrapolation) and ``smoothed`` (both edges are
linearly interpolated, using samples up to one lookback outside the window)."""

MIN_SAMPLES = {RATE: 2, INCREASE: 2, DELTA: 2, IRATE: 2, IDELTA: 2, DERIV: 2, PREDICT_LINEAR: 2, DOUBLE_EXP: 2}
"""Functions that need more than one sample in the window to produce a value."""


@njit
def extrapolated_rate(ts: npt.NDArray[np.int64], v: npt.NDArray[np.float64], lo: int, hi: int,
                      t: int, range_ms: int, is_counter: bool, is_rate: bool) -> float:
    """Prometheus's extrapolatedRate over samples ``lo:hi`` (at least two) for the window ending at ``t``."""
    result = v[hi - 1] - v[lo]
    if is_counter:
        prev = v[lo]
        for j in range(lo + 1, hi):
            if v[j] < prev:
                result += prev
            prev = v[j]
    range_start = t - range_ms
    duration_to_start = (ts[lo] - range_start) / 1000.0
    duration_to_end = (t - ts[hi - 1]) / 1000.0
    sampled = (ts[hi - 1] - ts[lo]) / 1000.0
    average = sampled / (hi - lo - 1)
    threshold = average * 1.1
    if duration_to_start >= threshold:
        duration_to_start = average / 2.0
    if is_counter and result > 0 and v[lo] >= 0:
        duration_to_zero = sampled * (v[lo] / result)
        if duration_to_zero < duration_to_start:
            duration_to_start = duration_to_zero
    if duration_to_end >= threshold:
        duration_to_end = average / 2.0
    factor = (sampled + duration_to_start + duration_to_end) / sampled
    if is_rate:
        factor /= range_ms / 1000.0
    return result * factor


@njit
def linear_regression(ts: npt.NDArray[np.int64], v: npt.NDArray[np.float64], lo: int, hi: int,
                      intercept_time: int) -> tuple[float, float]:
    """Least-squares (slope, intercept at ``intercept_time``) as Prometheus's linearRegression."""
    n = 0.0
    sum_x = 0.0
    c_x = 0.0
    sum_y = 0.0
    c_y = 0.0
    sum_xy = 0.0
    c_xy = 0.0
    sum_x2 = 0.0
    c_x2 = 0.0
    init_y = v[lo]
    const_y = True
    for j in range(lo, hi):
        if const_y and j > lo and v[j] != init_y:
            const_y = False
        n += 1.0
        x = (ts[j] - intercept_time) / 1e3
        sum_x, c_x = kahan_inc(x, sum_x, c_x)
        sum_y, c_y = kahan_inc(v[j], sum_y, c_y)
        sum_xy, c_xy = kahan_inc(x * v[j], sum_xy, c_xy)
        sum_x2, c_x2 = kahan_inc(x * x, sum_x2, c_x2)
    if const_y:
        if math.isinf(init_y):
            return math.nan, math.nan
        return 0.0, init_y
    sum_x += c_x
    sum_y += c_y
    sum_xy += c_xy
    sum_x2 += c_x2
    cov_xy = sum_xy - sum_x * sum_y / n
    var_x = sum_x2 - sum_x * sum_x / n
    slope = cov_xy / var_x
    intercept = sum_y / n - slope * sum_x / n
    return slope, intercept


@njit
def sorted_go(v: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Values sorted as Go's sort.Float64s: NaNs first, then ascending."""
    nan_count = 0
    for x in v:
        if math.isnan(x):
            nan_count += 1
    out = np.empty(len(v))
    rest = np.sort(v)  # numpy puts NaNs last
    for i in range(nan_count):
        out[i] = math.nan
    for i in range(len(v) - nan_count):
        out[nan_count + i] = rest[i]
    return out


@njit
def quantile_sorted(q: float, s: npt.NDArray[np.float64]) -> float:
    """Prometheus's quantile of sorted values ``s`` (q<0 -> -Inf, q>1 -> +Inf, NaN q -> NaN)."""
    n = len(s)
    if n == 0 or math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    rank = q * (n - 1)
    lower = max(0, math.floor(rank))
    upper = min(n - 1, lower + 1)
    weight = rank - math.floor(rank)
    return s[lower] * (1 - weight) + s[upper] * weight


@njit
def window_value(fn: int, ts: npt.NDArray[np.int64], v: npt.NDArray[np.float64], lo: int, hi: int,
                 t: int, range_ms: int, p1: float, p2: float, out_t: int) -> float:
    """The function ``fn`` over samples ``lo:hi`` (non-empty) of a window ending at ``t``.

    ``out_t`` is the step's output time (predict_linear's intercept time).
    """
    n = hi - lo
    if fn == RATE:
        return extrapolated_rate(ts, v, lo, hi, t, range_ms, True, True)
    if fn == INCREASE:
        return extrapolated_rate(ts, v, lo, hi, t, range_ms, True, False)
    if fn == DELTA:
        return extrapolated_rate(ts, v, lo, hi, t, range_ms, False, False)
    if fn in (IRATE, IDELTA):
        last = v[hi - 1]
        prev = v[hi - 2]
        if fn == IRATE and last < prev:
            result = last
        else:
            result = last - prev
        interval = ts[hi - 1] - ts[hi - 2]
        if fn == IRATE:
            result /= interval / 1000.0
        return result
    if fn == DERIV:
        slope, _ = linear_regression(ts, v, lo, hi, ts[lo])
        return slope
    if fn == PREDICT_LINEAR:
        slope, intercept = linear_regression(ts, v, lo, hi, out_t)
        return slope * p1 + intercept
    if fn in (RESETS, CHANGES):
        events = 0
        prev = v[lo]
        for j in range(lo + 1, hi):
            cur = v[j]
            if fn == RESETS:
                if cur < prev:
                    events += 1
            elif cur != prev and not (math.isnan(cur) and math.isnan(prev)):
                events += 1
            prev = cur
        return float(events)
    if fn == SUM:
        total = 0.0
        c = 0.0
        for j in range(lo, hi):
            total, c = kahan_inc(v[j], total, c)
        if math.isinf(total):
            return total
        return total + c
    if fn == AVG:
        total = v[lo]
        c = 0.0
        mean = 0.0
        kc = 0.0
        incremental = False
        for j in range(lo + 1, hi):
            num = j - lo + 1.0
            if not incremental:
                new_total, new_c = kahan_inc(v[j], total, c)
                if not math.isinf(new_total):
                    total = new_total
                    c = new_c
                    continue
                incremental = True
                mean = total / (num - 1)
                kc = c / (num - 1)
            q = (num - 1) / num
            mean, kc = kahan_inc(v[j] / num, q * mean, q * kc)
        if incremental:
            return mean + kc
        return total / n + c / n
    if fn in (MIN, MAX):
        best = v[lo]
        for j in range(lo + 1, hi):
            if fn == MIN:
                if v[j] < best or math.isnan(best):
                    best = v[j]
            elif v[j] > best or math.isnan(best):
                best = v[j]
        return best
    if fn in (TS_OF_MIN, TS_OF_MAX):
        best = v[lo]
        best_t = ts[lo]
        for j in range(lo + 1, hi):
            if fn == TS_OF_MIN:
                if v[j] <= best or math.isnan(best):
                    best = v[j]
                    best_t = ts[j]
            elif v[j] >= best or math.isnan(best):
                best = v[j]
                best_t = ts[j]
        return best_t / 1000.0
    if fn == COUNT:
        return float(n)
    if fn == LAST:
        return v[hi - 1]
    if fn == FIRST:
        return v[lo]
    if fn == TS_OF_FIRST:
        return ts[lo] / 1000.0
    if fn == TS_OF_LAST:
        return ts[hi - 1] / 1000.0
    if fn == PRESENT:
        return 1.0
    if fn in (STDDEV, STDVAR):
        num = 0.0
        mean = 0.0
        c_mean = 0.0
        aux = 0.0
        c_aux = 0.0
        for j in range(lo, hi):
            num += 1.0
            delta = v[j] - (mean + c_mean)
            mean, c_mean = kahan_inc(delta / num, mean, c_mean)
            aux, c_aux = kahan_inc(delta * (v[j] - (mean + c_mean)), aux, c_aux)
        variance = (aux + c_aux) / num
        if fn == STDDEV:
            return math.sqrt(variance)
        return variance
    if fn == QUANTILE:
        return quantile_sorted(p1, sorted_go(v[lo:hi]))
    if fn == MAD:
        for j in range(lo, hi):
            if math.isnan(v[j]):
                return math.nan
        s = sorted_go(v[lo:hi])
        median = quantile_sorted(0.5, s)
        dev = np.empty(n)
        for j in range(n):
            dev[j] = abs(s[j] - median)
        return quantile_sorted(0.5, sorted_go(dev))
    if fn == DOUBLE_EXP:
        s0 = 0.0
        s1 = v[lo]
        b = v[lo + 1] - v[lo]
        for i in range(1, n):
            x = p1 * v[lo + i]
            if i - 1 != 0:
                b = p2 * (s1 - s0) + (1 - p2) * b
            y = (1 - p1) * (s1 + b)
            s0 = s1
            s1 = x + y
        return s1
    return math.nan


@njit
def interpolate(t1: int, y1: float, t2: int, y2: float, t: int, is_counter: bool) -> float:
    """The value at ``t`` on the line between two samples; a counter reset restarts from 0."""
    if is_counter and y2 < y1:
        y1 = 0.0
    return y1 + (y2 - y1) * (t - t1) / (t2 - t1)


@njit
def extended_value(fn: int, ts: npt.NDArray[np.int64], v: npt.NDArray[np.float64], lo: int, hi: int, t: int,
                   range_ms: int, mode: int) -> tuple[bool, float]:
    """``anchored``/``smoothed`` rate, increase, delta, resets, changes (Prometheus's extendedRate).

    ``lo:hi`` are the samples of the extended window. Returns (has value, value).
    """
    range_start = t - range_ms
    range_end = t
    if fn in (RESETS, CHANGES):
        first = lo
        while first < hi and ts[first] <= range_start:
            first += 1
        if first >= hi:
            return False, 0.0
        if first > lo:
            first -= 1
        return True, window_value(fn, ts, v, first, hi, t, range_ms, 0.0, 0.0, t)
    smoothed = mode == MODE_SMOOTHED
    is_counter = fn != DELTA
    last = hi - 1
    j = lo
    while j < last and ts[j] <= range_start:
        j += 1
    first = max(lo, j - 1)
    if smoothed:
        k = lo
        while k < last and ts[k] < range_end:
            k += 1
        last = k
    if ts[last] <= range_start:
        return False, 0.0
    if smoothed and ts[first] > range_end:
        return False, 0.0
    left = v[first]
    if smoothed and ts[first] < range_start:
        left = interpolate(ts[first], v[first], ts[first + 1], v[first + 1], range_start, is_counter)
    right = v[last]
    if smoothed and last > lo and ts[last] > range_end:
        right = interpolate(ts[last - 1], v[last - 1], ts[last], v[last], range_end, is_counter)
    result = right - left
    if is_counter:
        fi = first + 1 if ts[first] <= range_start else first
        li = last - 1 if ts[last] >= range_end else last
        prev = left
        for i in range(fi, li + 1):  # added straight into the result, in Prometheus's order
            if v[i] < prev:
                result += prev
            prev = v[i]
        if right < prev:
            result += prev
    if fn == RATE:
        result /= range_ms / 1000.0
    return True, result


@njit
def rollup(fn: int, ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64],
           offsets: npt.NDArray[np.int64], eval_ts: npt.NDArray[np.int64], out_ts: npt.NDArray[np.int64],
           range_ms: int, p1: npt.NDArray[np.float64], p2: npt.NDArray[np.float64], min_samples: int,
           mode: int, lookback_ms: int, out: npt.NDArray[np.float64], present: npt.NDArray[np.bool_]) -> None:
    """Evaluate ``fn`` over every series and step (see module docstring); fills ``out``/``present``.

    Steps whose window holds fewer than ``min_samples`` samples are absent. With ``mode`` anchored or
    smoothed the window is extended by ``lookback_ms`` (see :func:`extended_value`).
    """
    num_series = len(offsets) - 1
    num_steps = len(eval_ts)
    for s in range(num_series):
        start = offsets[s]
        stop = offsets[s + 1]
        if stop <= start:
            continue
        series_ts = ts[start:stop]
        series_v = values[start:stop]
        for k in range(num_steps):
            t = eval_ts[k]
            if mode != MODE_PLAIN:
                lo = np.searchsorted(series_ts, t - range_ms - lookback_ms, side="right")
                hi = np.searchsorted(series_ts, t + (lookback_ms if mode == MODE_SMOOTHED else 0), side="right")
                if hi > lo:
                    ok, value = extended_value(fn, series_ts, series_v, lo, hi, t, range_ms, mode)
                    if ok:
                        out[s, k] = value
                        present[s, k] = True
                continue
            lo = np.searchsorted(series_ts, t - range_ms, side="right")
            hi = np.searchsorted(series_ts, t, side="right")
            if hi - lo < min_samples or hi <= lo:
                continue
            out[s, k] = window_value(fn, series_ts, series_v, lo, hi, t, range_ms, p1[k], p2[k], out_ts[k])
            present[s, k] = True
