"""Reference Neumaier-compensated summation (Prometheus kahansum.Inc), shared by the kernel references."""

from __future__ import annotations

import math


def kahan_inc(inc: float, total: float, c: float) -> tuple[float, float]:
    """``total + inc`` with compensation: returns (new total, new compensation)."""
    t = total + inc
    if math.isinf(t):
        c = 0.0
    elif abs(total) >= abs(inc):
        c += (total - t) + inc
    else:
        c += (inc - t) + total
    return t, c
