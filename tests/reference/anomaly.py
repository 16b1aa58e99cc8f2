"""Pure-Python reference of tsdb/query/functions/anomaly_kernels.py (same definitions, plain lists)."""

from __future__ import annotations

import bisect
import math
import statistics

MAD_SCALE = 1.4826


def _score(x: float, centre: float, spread: float) -> float:
    if spread > 0:
        return (x - centre) / spread
    if x == centre:
        return 0.0
    return math.inf if x > centre else -math.inf


def _robust(values: list[float]) -> tuple[float, float]:
    med = statistics.median(values)
    return med, MAD_SCALE * statistics.median([abs(v - med) for v in values])


def _holt_winters(v: list[float], m: int, h: int, alpha: float = 0.3, beta: float = 0.05,
                  gamma: float = 0.3) -> float | None:
    n = len(v)
    if m < 2 or n < 2 * m:
        return None
    level = sum(v[:m]) / m
    trend = (sum(v[m:2 * m]) / m - level) / m
    season = [v[i] - level for i in range(m)]
    for i in range(m, n):
        s = season[i % m]
        prev = level
        level = alpha * (v[i] - s) + (1 - alpha) * (level + trend)
        trend = beta * (level - prev) + (1 - beta) * trend
        season[i % m] = gamma * (v[i] - level) + (1 - gamma) * s
    return level + h * trend + season[(n - 1 + h) % m]


def evaluate(fn: str, ts: list[int], values: list[float], t: int, range_ms: int, p1: float = 0.0,
             p2: float = 0.0) -> float | None:
    """The function's value at window end ``t`` (None when absent)."""
    lo = bisect.bisect_right(ts, t - range_ms)
    hi = bisect.bisect_right(ts, t)
    window = [v for v in values[lo:hi] if not math.isnan(v)]
    if not window:
        return None
    last = window[-1]
    if fn == "zscore":
        mean = sum(window) / len(window)
        return _score(last, mean, math.sqrt(sum((x - mean) ** 2 for x in window) / len(window)))
    if fn == "robust":
        med, spread = _robust(window)
        return _score(last, med, spread)
    if fn == "ewma":
        level = window[0]
        for x in window[1:]:
            level = p1 * x + (1 - p1) * level
        return level
    if fn == "ewma_score":
        if len(window) < 3:
            return None
        level, dev = window[0], 0.0
        for x in window[1:-1]:
            err = x - level
            dev = p1 * abs(err) + (1 - p1) * dev
            level = level + p1 * err
        return abs(_score(last, level, 1.25 * dev))
    if fn == "holt_winters":
        if hi - lo < 4:
            return None
        step = (ts[hi - 1] - ts[lo]) / (hi - lo - 1)
        if step <= 0:
            return None
        return _holt_winters(window, int(p1 / step + 0.5), int(p2 / step + 0.5))
    # seasonal: samples within the tolerance of the same phase in earlier periods
    period = int(p1)
    tolerance = max(1, min(period // 48, 900_000))
    same_phase = []
    k = 1
    while t - k * period + tolerance >= ts[lo]:
        target = t - k * period
        same_phase += [values[j] for j in range(lo, hi)
                       if abs(ts[j] - target) <= tolerance and not math.isnan(values[j])]
        k += 1
    if not same_phase:
        return None
    med, spread = _robust(same_phase)
    if fn == "seasonal_baseline":
        return med
    if fn == "seasonal_band":
        return p2 * spread
    return abs(_score(last, med, spread))
