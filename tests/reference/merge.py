"""Pure-Python reference for tsdb.storage.merge_kernels: a dict per group, later pieces overwrite."""

from __future__ import annotations

from collections.abc import Sequence


def ref_merge_pieces(ts: Sequence[int], values: Sequence[float], starts: Sequence[int], ends: Sequence[int],
                     bounds: Sequence[int]) -> list[list[tuple[int, float]]]:
    """Per group, its samples sorted by time; on equal timestamps the later piece (higher priority) wins."""
    out: list[list[tuple[int, float]]] = []
    for g in range(len(bounds) - 1):
        merged: dict[int, float] = {}
        for p in range(bounds[g], bounds[g + 1]):
            for i in range(starts[p], ends[p]):
                merged[ts[i]] = values[i]
        out.append(sorted(merged.items()))
    return out
