"""numba kernels of the anomaly-detection functions: one call for all series and steps.

Inputs as the rollup kernels: the samples of every series concatenated (``ts`` ascending per series,
``values``; stale markers removed by the caller), ``offsets[n+1]``, the window end per step ``eval_ts``
and ``range_ms`` (windows ``(t - range, t]``). NaN values are skipped. Outputs ``out[n, steps]`` and
``present[n, steps]`` are written in place. ``tests/reference/anomaly.py`` is the pure-Python reference.

Functions (``fn``): ZSCORE (last sample against the window's mean and standard deviation), ROBUST
(against the median and 1.4826 x MAD), EWMA (the exponentially weighted level, ``alpha`` = p1),
EWMA_SCORE (last sample against the EWMA level and mean deviation of the samples before it),
SEASONAL_BASELINE / SEASONAL_BAND / SEASONAL_SCORE (the median and the robust spread of the samples
within min(period / 48, 15 min) of the same phase in earlier periods, ``period`` = p1 ms, ``k`` = p2),
HOLT_WINTERS (additive seasonal Holt-Winters forecast ``horizon`` = p2 ms ahead, season ``period`` =
p1 ms, on the window's samples taken as evenly spaced). Scores are 0 when the spread is 0 and the value
equals the centre.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from tsdb._numba import njit

ZSCORE = 0
ROBUST = 1
EWMA = 2
SEASONAL_BASELINE = 3
SEASONAL_BAND = 4
SEASONAL_SCORE = 5
HOLT_WINTERS = 6
EWMA_SCORE = 7

MAD_SCALE = 1.4826


@njit
def _median(buf: npt.NDArray[np.float64], n: int) -> float:
    s = np.sort(buf[:n])
    if n % 2:
        return float(s[n // 2])
    return 0.5 * (s[n // 2 - 1] + s[n // 2])


@njit
def _score(x: float, centre: float, spread: float) -> float:
    if spread > 0:
        return (x - centre) / spread
    if x == centre:
        return 0.0
    return math.inf if x > centre else -math.inf


@njit
def _robust(buf: npt.NDArray[np.float64], n: int, work: npt.NDArray[np.float64]) -> tuple[float, float]:
    """(median, 1.4826 x MAD) of buf[:n]."""
    med = _median(buf, n)
    for i in range(n):
        work[i] = abs(buf[i] - med)
    return med, MAD_SCALE * _median(work, n)


@njit
def _seasonal(ts: npt.NDArray[np.int64], v: npt.NDArray[np.float64], lo: int, hi: int, t: int, period: int,
              tolerance: int, buf: npt.NDArray[np.float64]) -> int:
    """Collect into buf the samples within ``tolerance`` of t - k * period for k >= 1 (the same phase in
    earlier periods and its neighbourhood) that lie in the window ``[lo, hi)``; returns how many."""
    n = 0
    k = 1
    while t - k * period + tolerance >= ts[lo]:
        target = t - k * period
        a, b = lo, hi
        while a < b:  # first sample >= target - tolerance
            mid = (a + b) >> 1
            if ts[mid] < target - tolerance:
                a = mid + 1
            else:
                b = mid
        j = a
        while j < hi and ts[j] <= target + tolerance:
            if not math.isnan(v[j]) and n < buf.shape[0]:
                buf[n] = v[j]
                n += 1
            j += 1
        k += 1
    return n


@njit
def _holt_winters(v: npt.NDArray[np.float64], m: int, h: int, alpha: float, beta: float, gamma: float) -> float:
    n = v.shape[0]
    if m < 2 or n < 2 * m:
        return math.nan
    level = 0.0
    for i in range(m):
        level += v[i]
    level /= m
    second = 0.0
    for i in range(m, 2 * m):
        second += v[i]
    trend = (second / m - level) / m
    season = np.empty(m)
    for i in range(m):
        season[i] = v[i] - level
    for i in range(m, n):
        s = season[i % m]
        prev_level = level
        level = alpha * (v[i] - s) + (1 - alpha) * (level + trend)
        trend = beta * (level - prev_level) + (1 - beta) * trend
        season[i % m] = gamma * (v[i] - level) + (1 - gamma) * s
    return level + h * trend + season[(n - 1 + h) % m]


@njit
def anomaly(fn: int, ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64], offsets: npt.NDArray[np.int64],
            eval_ts: npt.NDArray[np.int64], range_ms: int, p1: npt.NDArray[np.float64],
            p2: npt.NDArray[np.float64], out: npt.NDArray[np.float64], present: npt.NDArray[np.bool_]) -> None:
    """Evaluate function ``fn`` for every series and step (see module docstring)."""
    num_series = offsets.shape[0] - 1
    max_len = 1
    for s in range(num_series):
        max_len = max(max_len, offsets[s + 1] - offsets[s])
    buf = np.empty(max_len)
    work = np.empty(max_len)
    for s in range(num_series):
        series_ts = ts[offsets[s]:offsets[s + 1]]
        series_v = values[offsets[s]:offsets[s + 1]]
        for k in range(eval_ts.shape[0]):
            t = eval_ts[k]
            lo = np.searchsorted(series_ts, t - range_ms, side="right")
            hi = np.searchsorted(series_ts, t, side="right")
            n = 0
            last = math.nan
            for i in range(lo, hi):
                if not math.isnan(series_v[i]):
                    buf[n] = series_v[i]
                    n += 1
                    last = series_v[i]
            if n == 0:
                continue
            if fn == ZSCORE:
                mean = 0.0
                for i in range(n):
                    mean += buf[i]
                mean /= n
                var = 0.0
                for i in range(n):
                    var += (buf[i] - mean) ** 2
                out[s, k] = _score(last, mean, math.sqrt(var / n))
            elif fn == EWMA_SCORE:  # level and mean deviation of the samples before the last one
                if n < 3:
                    continue
                alpha = p1[k]
                level = buf[0]
                dev = 0.0
                for i in range(1, n - 1):
                    err = buf[i] - level
                    dev = alpha * abs(err) + (1 - alpha) * dev
                    level = level + alpha * err
                out[s, k] = abs(_score(last, level, 1.25 * dev))
            elif fn == ROBUST:
                med, spread = _robust(buf, n, work)
                out[s, k] = _score(last, med, spread)
            elif fn == EWMA:
                alpha = p1[k]
                level = buf[0]
                for i in range(1, n):
                    level = alpha * buf[i] + (1 - alpha) * level
                out[s, k] = level
            elif fn == HOLT_WINTERS:
                if n < 4:
                    continue
                span = series_ts[hi - 1] - series_ts[lo]
                step = span / (hi - lo - 1) if hi - lo > 1 else 0.0
                if step <= 0:
                    continue
                m = int(p1[k] / step + 0.5)  # rounded (positive)
                horizon = int(p2[k] / step + 0.5)
                value = _holt_winters(buf[:n].copy(), m, horizon, 0.3, 0.05, 0.3)
                if math.isnan(value):
                    continue
                out[s, k] = value
            else:  # seasonal
                period = int(p1[k])
                tolerance = max(1, min(period // 48, 900_000))
                count = _seasonal(series_ts, series_v, lo, hi, t, period, tolerance, buf)
                if count == 0:
                    continue
                med, spread = _robust(buf, count, work)
                if fn == SEASONAL_BASELINE:
                    out[s, k] = med
                elif fn == SEASONAL_BAND:
                    out[s, k] = p2[k] * spread
                else:
                    out[s, k] = abs(_score(last, med, spread))
            present[s, k] = True
