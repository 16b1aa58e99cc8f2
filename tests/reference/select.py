"""Pure-Python reference of tsdb/query/engine/select_kernels.py."""

from __future__ import annotations

import bisect

STALE_BITS = 0x7FF0000000000002


def instant_lookup(series: list[list[tuple[int, int]]], t: list[int],
                   lookback: int) -> list[list[tuple[int, int, bool] | None]]:
    """Per series and step: (value bits, timestamp, present) of the last sample at or before the step
    (the first sample, not present, when none is); None for a series without samples."""
    out: list[list[tuple[int, int, bool] | None]] = []
    for samples in series:
        row: list[tuple[int, int, bool] | None] = []
        stamps = [s[0] for s in samples]
        for tj in t:
            if not samples:
                row.append(None)
                continue
            idx = bisect.bisect_right(stamps, tj) - 1
            valid = idx >= 0
            ts, bits = samples[max(idx, 0)]
            row.append((bits, ts, valid and ts > tj - lookback and bits != STALE_BITS))
        out.append(row)
    return out
