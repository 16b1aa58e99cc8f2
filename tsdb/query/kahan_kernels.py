"""Compensated summation shared by the aggregation and range-function kernels."""

from __future__ import annotations

import math

from tsdb._numba import njit


@njit
def kahan_inc(inc: float, total: float, c: float) -> tuple[float, float]:
    """Neumaier-compensated ``total + inc``: returns the new sum and compensation (Prometheus kahansum.Inc).

    An infinite sum resets the compensation, so Inf - Inf stays NaN as in Prometheus.
    """
    t = total + inc
    if math.isinf(t):
        c = 0.0
    elif abs(total) >= abs(inc):
        c += (total - t) + inc
    else:
        c += (inc - t) + total
    return t, c
