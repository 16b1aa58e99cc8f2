"""Pure-Python reference of tsdb.query.functions.rollup_kernels: one window, one function, plain lists.

Written straight from Prometheus's promql/functions.go semantics (extrapolatedRate, linearRegression,
Kahan/Neumaier sums, incremental mean/variance, quantile) with no numpy in the arithmetic.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from tests.reference.kahan import kahan_inc

MIN_SAMPLES = {"rate": 2, "increase": 2, "delta": 2, "irate": 2, "idelta": 2, "deriv": 2, "predict_linear": 2,
               "double_exponential_smoothing": 2}


def _rate(ts: list[int], v: list[float], t: int, rng: int, counter: bool, is_rate: bool) -> float:
    result = v[-1] - v[0]
    if counter:
        for a, b in itertools.pairwise(v):
            if b < a:
                result += a
    to_start = (ts[0] - (t - rng)) / 1000
    to_end = (t - ts[-1]) / 1000
    sampled = (ts[-1] - ts[0]) / 1000
    avg = sampled / (len(ts) - 1)
    if to_start >= avg * 1.1:
        to_start = avg / 2
    if counter and result > 0 and v[0] >= 0:
        to_zero = sampled * (v[0] / result)
        to_start = min(to_start, to_zero)
    if to_end >= avg * 1.1:
        to_end = avg / 2
    factor = (sampled + to_start + to_end) / sampled
    if is_rate:
        factor /= rng / 1000
    return result * factor


def _regression(ts: list[int], v: list[float], at: int) -> tuple[float, float]:
    n = sx = cx = sy = cy = sxy = cxy = sx2 = cx2 = 0.0
    const = all(x == v[0] for x in v)
    for t, y in zip(ts, v, strict=True):
        n += 1
        x = (t - at) / 1e3
        sx, cx = kahan_inc(x, sx, cx)
        sy, cy = kahan_inc(y, sy, cy)
        sxy, cxy = kahan_inc(x * y, sxy, cxy)
        sx2, cx2 = kahan_inc(x * x, sx2, cx2)
    if const:
        return (math.nan, math.nan) if math.isinf(v[0]) else (0.0, v[0])
    sx, sy, sxy, sx2 = sx + cx, sy + cy, sxy + cxy, sx2 + cx2
    slope = (sxy - sx * sy / n) / (sx2 - sx * sx / n)
    return slope, sy / n - slope * sx / n


def _sorted_go(v: Sequence[float]) -> list[float]:
    nans = [x for x in v if math.isnan(x)]
    return nans + sorted(x for x in v if not math.isnan(x))


def _quantile(q: float, s: list[float]) -> float:
    if not s or math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    rank = q * (len(s) - 1)
    lo = max(0, math.floor(rank))
    hi = min(len(s) - 1, lo + 1)
    w = rank - math.floor(rank)
    return s[lo] * (1 - w) + s[hi] * w


def window(name: str, ts: list[int], v: list[float], t: int, rng: int, p1: float = 0.0, p2: float = 0.0,
           out_t: int | None = None) -> float | None:
    """The value of ``name`` over the window samples (``None`` when the window gives no output)."""
    if len(ts) < MIN_SAMPLES.get(name, 1):
        return None
    if name in ("rate", "increase", "delta"):
        return _rate(ts, v, t, rng, name != "delta", name == "rate")
    if name in ("irate", "idelta"):
        last, prev = v[-1], v[-2]
        result = last if name == "irate" and last < prev else last - prev
        return result / ((ts[-1] - ts[-2]) / 1000) if name == "irate" else result
    if name == "deriv":
        return _regression(ts, v, ts[0])[0]
    if name == "predict_linear":
        slope, intercept = _regression(ts, v, t if out_t is None else out_t)
        return slope * p1 + intercept
    if name == "resets":
        return float(sum(1 for a, b in itertools.pairwise(v) if b < a))
    if name == "changes":
        return float(sum(1 for a, b in itertools.pairwise(v) if b != a and not (math.isnan(a) and math.isnan(b))))
    if name == "sum_over_time":
        s = c = 0.0
        for x in v:
            s, c = kahan_inc(x, s, c)
        return s if math.isinf(s) else s + c
    if name == "avg_over_time":
        s, c, mean, kc, incremental = v[0], 0.0, 0.0, 0.0, False
        for i, x in enumerate(v[1:]):
            count = i + 2.0
            if not incremental:
                ns, nc = kahan_inc(x, s, c)
                if not math.isinf(ns):
                    s, c = ns, nc
                    continue
                incremental = True
                mean, kc = s / (count - 1), c / (count - 1)
            q = (count - 1) / count
            mean, kc = kahan_inc(x / count, q * mean, q * kc)
        return mean + kc if incremental else s / len(v) + c / len(v)
    if name in ("min_over_time", "max_over_time", "ts_of_min_over_time", "ts_of_max_over_time"):
        best, best_t = v[0], ts[0]
        for x, tt in zip(v, ts, strict=True):
            if name == "min_over_time":
                better = x < best
            elif name == "max_over_time":
                better = x > best
            elif name == "ts_of_min_over_time":
                better = x <= best
            else:
                better = x >= best
            if better or math.isnan(best):
                best, best_t = x, tt
        return best if name in ("min_over_time", "max_over_time") else best_t / 1000
    if name == "count_over_time":
        return float(len(v))
    if name == "last_over_time":
        return v[-1]
    if name == "first_over_time":
        return v[0]
    if name == "ts_of_first_over_time":
        return ts[0] / 1000
    if name == "ts_of_last_over_time":
        return ts[-1] / 1000
    if name == "present_over_time":
        return 1.0
    if name in ("stddev_over_time", "stdvar_over_time"):
        count = mean = cm = aux = ca = 0.0
        for x in v:
            count += 1
            delta = x - (mean + cm)
            mean, cm = kahan_inc(delta / count, mean, cm)
            aux, ca = kahan_inc(delta * (x - (mean + cm)), aux, ca)
        var = (aux + ca) / count
        return math.sqrt(var) if name == "stddev_over_time" else var
    if name == "quantile_over_time":
        return _quantile(p1, _sorted_go(v))
    if name == "mad_over_time":
        if any(math.isnan(x) for x in v):
            return math.nan
        s = _sorted_go(v)
        median = _quantile(0.5, s)
        return _quantile(0.5, _sorted_go([abs(x - median) for x in s]))
    if name == "double_exponential_smoothing":
        s0, s1, b = 0.0, v[0], v[1] - v[0]
        for i in range(1, len(v)):
            x = p1 * v[i]
            if i > 1:
                b = p2 * (s1 - s0) + (1 - p2) * b
            s0, s1 = s1, x + (1 - p1) * (s1 + b)
        return s1
    raise ValueError(f"unknown function {name}")


def rollup(name: str, series: Sequence[tuple[Sequence[int], Sequence[float]]], eval_ts: Sequence[int], rng: int,
           p1: Sequence[float] | None = None, p2: Sequence[float] | None = None,
           ) -> list[list[float | None]]:
    """``[series][step]`` values (``None`` = absent) for left-open windows ``(t - rng, t]``."""
    out: list[list[float | None]] = []
    for ts, v in series:
        row: list[float | None] = []
        for k, t in enumerate(eval_ts):
            idx = [i for i, x in enumerate(ts) if t - rng < x <= t]
            row.append(window(name, [int(ts[i]) for i in idx], [float(v[i]) for i in idx], int(t), rng,
                              p1[k] if p1 is not None else 0.0, p2[k] if p2 is not None else 0.0)
                       if idx else None)
        out.append(row)
    return out


def extended(name: str, ts: list[int], v: list[float], t: int, rng: int, mode: str) -> float | None:
    """``anchored``/``smoothed`` rate/increase/delta/resets/changes over the extended window's samples."""
    start, end = t - rng, t
    if name in ("resets", "changes"):
        inside = [i for i, x in enumerate(ts) if x > start]
        if not inside:
            return None
        first = max(inside[0] - 1, 0)
        return window(name, ts[first:], v[first:], t, rng)
    smoothed = mode == "smoothed"
    counter = name != "delta"
    after = [i for i, x in enumerate(ts[:-1]) if x > start]
    first = max((after[0] if after else len(ts) - 1) - 1, 0)
    last = len(ts) - 1
    if smoothed:
        at_end = [i for i, x in enumerate(ts[:-1]) if x >= end]
        last = at_end[0] if at_end else len(ts) - 1
    if ts[last] <= start or (smoothed and ts[first] > end):
        return None

    def interp(i: int, at: int) -> float:
        y1, y2 = v[i], v[i + 1]
        if counter and y2 < y1:
            y1 = 0.0
        return y1 + (y2 - y1) * (at - ts[i]) / (ts[i + 1] - ts[i])

    left = interp(first, start) if smoothed and ts[first] < start else v[first]
    right = interp(last - 1, end) if smoothed and last > 0 and ts[last] > end else v[last]
    result = right - left
    if counter:
        fi = first + 1 if ts[first] <= start else first
        li = last - 1 if ts[last] >= end else last
        prev = left
        for x in v[fi:li + 1]:
            if x < prev:
                result += prev
            prev = x
        if right < prev:
            result += prev
    return result / (rng / 1000) if name == "rate" else result


def rollup_extended(name: str, series: Sequence[tuple[Sequence[int], Sequence[float]]], eval_ts: Sequence[int],
                    rng: int, mode: str, lookback: int) -> list[list[float | None]]:
    """Like :func:`rollup` for the ``anchored``/``smoothed`` modifiers."""
    out: list[list[float | None]] = []
    for ts, v in series:
        row: list[float | None] = []
        for t in eval_ts:
            hi = t + (lookback if mode == "smoothed" else 0)
            idx = [i for i, x in enumerate(ts) if t - rng - lookback < x <= hi]
            row.append(extended(name, [int(ts[i]) for i in idx], [float(v[i]) for i in idx], int(t), rng, mode)
                       if idx else None)
        out.append(row)
    return out
