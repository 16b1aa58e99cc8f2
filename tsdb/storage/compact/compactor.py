"""Writing blocks: persisting a head range and merging blocks (the Compactor's work).

Both produce a new block through :func:`tsdb.storage.block.reader.write_block_from_samples`, which writes
``<ulid>.tmp`` and renames it atomically, so a crash leaves no half block visible. Merging reads the
sources through one :class:`MergeQuerier`, so tombstoned samples are dropped and duplicates merged.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from tsdb.labels import Labels, Matcher
from tsdb.storage.block.meta import BlockDesc
from tsdb.storage.block.reader import Block
from tsdb.storage.block.writer import write_block_from_samples
from tsdb.storage.head.head import Head
from tsdb.storage.interfaces import TimestampArray, ValueArray
from tsdb.storage.interrupt import StopFlag, check_stop
from tsdb.storage.merge import MergeQuerier

log = logging.getLogger("tsdb.compact")

ALL_SERIES = (Matcher("=~", "__name__", ".*"),)
"""Selects every series (a matcher that also matches series without a name would be ``""`` -- absent
names are impossible in practice, but ``=~".*"`` on ``__name__`` matches them too)."""

STOP_CHECK_SERIES = 256
"""Series read between two checks of the stop flag (a safe point: nothing is written yet)."""


def persist_head_range(parent: Path, head: Head, mint: int, maxt: int, target_samples: int = 120,
                       stop: StopFlag | None = None) -> str | None:
    """Write the head's samples in ``[mint, maxt)`` as a level-1 block; returns its ULID (None if empty).

    A set ``stop`` raises :class:`~tsdb.errors.MaintenanceInterruptedError` at the next safe point, leaving
    no block (the head and the WAL still hold the range)."""
    started = time.monotonic()
    counted = [0]

    def nonempty() -> Iterator[tuple[Labels, TimestampArray, ValueArray]]:
        for k, s in enumerate(head.series_for_block(mint, maxt)):
            if k % STOP_CHECK_SERIES == 0:
                check_stop(stop, "head persistence")
            if len(s.ts):
                counted[0] += 1
                yield s.labels, s.ts, s.values

    series = nonempty()
    first = next(series, None)
    if first is None:
        return None
    ulid = write_block_from_samples(parent, itertools.chain([first], series), mint, maxt - 1,
                                    target=target_samples, presorted=True, stop=stop)
    log.info("head persisted", extra={"block": ulid, "mint": mint, "maxt": maxt, "series": counted[0],
                                      "duration_s": round(time.monotonic() - started, 3)})
    return ulid


def _all_samples(blocks: Sequence[Block], mint: int, maxt: int, stop: StopFlag | None
                 ) -> Iterator[tuple[Labels, TimestampArray, ValueArray]]:
    querier = MergeQuerier([b.querier(mint, maxt) for b in blocks])
    try:
        for k, series in enumerate(querier.select(ALL_SERIES)):
            if k % STOP_CHECK_SERIES == 0:
                check_stop(stop, "compaction")
            ts, values = series.samples()
            if len(ts):
                yield series.labels, ts, values
    finally:
        querier.close()


def merge_blocks(parent: Path, blocks: Sequence[Block], target_samples: int = 120,
                 stop: StopFlag | None = None) -> str:
    """Merge ``blocks`` into one new block (level = max + 1, sources united); returns its ULID.

    The caller deletes the sources afterwards. Tombstoned data is dropped by the merge. A set ``stop``
    raises :class:`~tsdb.errors.MaintenanceInterruptedError` at the next safe point, leaving no new block.
    """
    started = time.monotonic()
    mint = min(b.meta.mint for b in blocks)
    maxt = max(b.meta.maxt for b in blocks)
    sources = sorted({s for b in blocks for s in (b.meta.sources or [b.ulid])})
    parents = [BlockDesc(b.ulid, b.meta.min_time, b.meta.max_time) for b in blocks]
    level = max(b.meta.level for b in blocks) + 1
    ulid = write_block_from_samples(parent, _all_samples(blocks, mint, maxt, stop), mint, maxt,
                                    target=target_samples, presorted=True, level=level, sources=sources,
                                    parents=parents, stop=stop)
    log.info("blocks compacted", extra={"block": ulid, "sources": len(blocks), "level": level,
                                        "duration_s": round(time.monotonic() - started, 3)})
    return ulid


def rewrite_block(parent: Path, block: Block, target_samples: int = 120) -> str | None:
    """Write ``block`` again without its tombstoned data (same range, level and sources, the block as
    parent); returns the new ULID, or None when nothing is left (no block written). The caller deletes
    the old block."""
    mint, maxt = block.meta.mint, block.meta.maxt
    series = _all_samples([block], mint, maxt, None)
    first = next(series, None)
    if first is None:
        return None
    return write_block_from_samples(parent, itertools.chain([first], series), mint, maxt, target=target_samples,
                                    presorted=True, level=block.meta.level,
                                    sources=list(block.meta.sources or [block.ulid]),
                                    parents=[BlockDesc(block.ulid, block.meta.min_time, block.meta.max_time)])
