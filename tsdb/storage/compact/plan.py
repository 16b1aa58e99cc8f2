"""Which blocks to compact and which to delete: pure planning over block time ranges.

Blocks are described by :class:`BlockSpan` (``maxt`` exclusive, as in ``meta.json``). The planner
follows Prometheus's rules: overlapping blocks are merged first; otherwise, for each compaction range
(2h x 3^n), the oldest group of two or more blocks inside one aligned window is merged once the window
is complete or lies before the newest block. The newest block is never compacted with its predecessors
right away, so fresh blocks stay small while they may still receive neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class BlockSpan:
    """A block's id, time range ``[mint, maxt)`` and size on disk."""

    ulid: str
    mint: int
    maxt: int
    size_bytes: int = 0


def overlapping(blocks: Sequence[BlockSpan]) -> list[BlockSpan]:
    """The first group of blocks whose time ranges overlap (empty if none), sorted by mint."""
    ordered = sorted(blocks, key=lambda b: (b.mint, b.maxt))
    group: list[BlockSpan] = []
    group_maxt = 0
    for block in ordered:
        if group and block.mint < group_maxt:
            group.append(block)
            group_maxt = max(group_maxt, block.maxt)
            continue
        if len(group) > 1:
            return group
        group, group_maxt = [block], block.maxt
    return group if len(group) > 1 else []


def plan_compaction(blocks: Sequence[BlockSpan], ranges: Sequence[int]) -> list[BlockSpan]:
    """The blocks to merge into one next (empty: nothing to do)."""
    group = overlapping(blocks)
    if group:
        return group
    ordered = sorted(blocks, key=lambda b: b.mint)
    if len(ordered) < 2:
        return []
    newest = ordered[-1]
    candidates = ordered[:-1]
    for size in ranges[1:]:
        windows: dict[int, list[BlockSpan]] = {}
        for block in candidates:
            start = block.mint - block.mint % size
            if block.maxt <= start + size:  # a block larger than the window is left alone
                windows.setdefault(start, []).append(block)
        for start in sorted(windows):
            members = windows[start]
            if len(members) < 2:
                continue
            complete = members[0].mint == start and members[-1].maxt == start + size
            if complete or start + size <= newest.mint:
                return members
    return []


def expired_by_time(blocks: Sequence[BlockSpan], retention_ms: int) -> list[BlockSpan]:
    """Blocks entirely older than ``retention_ms`` before the newest block's end."""
    if not blocks:
        return []
    newest_end = max(b.maxt for b in blocks)
    return [b for b in blocks if newest_end - b.maxt >= retention_ms]


def expired_by_size(blocks: Sequence[BlockSpan], retention_bytes: int, extra_bytes: int = 0) -> list[BlockSpan]:
    """Oldest blocks to delete so blocks plus ``extra_bytes`` (WAL, head) fit in ``retention_bytes``."""
    if retention_bytes <= 0:
        return []
    total = sum(b.size_bytes for b in blocks) + extra_bytes
    out = []
    for block in sorted(blocks, key=lambda b: b.mint):
        if total <= retention_bytes:
            break
        out.append(block)
        total -= block.size_bytes
    return out
