"""Pure-Python reference of tsdb/storage/tiers/downsample_kernels.py."""

from __future__ import annotations

import math
import struct

STALE_BITS = 0x7FF0000000000002


def _bits(v: float) -> int:
    return int(struct.unpack("<q", struct.pack("<d", v))[0])


def downsample(series: list[list[tuple[int, float]]], resolution: int) -> list[list[dict[str, float]]]:
    """Per series, per window (in time order): start, count, sum, min, max, first/last ts and value,
    counter_inc (reset-aware increase inside the window). Stale markers are skipped."""
    out: list[list[dict[str, float]]] = []
    for samples in series:
        rows: list[dict[str, float]] = []
        for t, v in samples:
            if _bits(v) == STALE_BITS:
                continue
            w = (t // resolution) * resolution
            if not rows or rows[-1]["start"] != w:
                rows.append({"start": w, "count": 1, "sum": v, "min": v, "max": v, "first_ts": t, "last_ts": t,
                             "first_value": v, "last_value": v, "counter_inc": 0.0})
                continue
            r = rows[-1]
            prev = r["last_value"]
            r["count"] += 1
            r["last_ts"] = t
            r["sum"] += v
            if v < r["min"] or math.isnan(r["min"]):
                r["min"] = v
            if v > r["max"] or math.isnan(r["max"]):
                r["max"] = v
            r["counter_inc"] += v - prev if v >= prev else v
            r["last_value"] = v
        out.append(rows)
    return out


def counter_values(rows: list[dict[str, float]]) -> list[float]:
    """The reset-adjusted counter at each window's last sample of one series."""
    total = 0.0
    values: list[float] = []
    for k, r in enumerate(rows):
        if k == 0:
            total = r["first_value"]
        else:
            prev, cur = rows[k - 1]["last_value"], r["first_value"]
            total += cur - prev if cur >= prev else cur
        total += r["counter_inc"]
        values.append(total)
    return values
