"""Snapshots: a data directory's persistent state as hard links, plus the head written as a block.

A snapshot directory holds block directories (hard links of their immutable files: chunks, index,
meta.json, tombstones) and ``tiers/`` (hard links of the Parquet tier files and their pending deletions),
so it is a data directory of its own: ``tsdb serve --data-dir <copy>`` opens it (docs/backup.md). With the
head, the head's current samples become one more block, written straight into the snapshot (the live head
is not touched). :meth:`tsdb.storage.db.DB.snapshot` decides what is consistent; this module only copies.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tsdb.errors import StorageError
from tsdb.labels import Matcher
from tsdb.storage.block.writer import write_block_from_samples

log = logging.getLogger("tsdb.snapshot")

SNAPSHOTS_DIRNAME = "snapshots"

_ALL_SERIES = (Matcher("=~", "__name__", ".*"),)
_MAX_DEPTH = 4


def snapshot_name(now: datetime | None = None) -> str:
    """``<YYYYMMDDTHHMMSSZ>-<16 hex digits>`` (UTC, random suffix), as Prometheus names snapshots."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.randbits(63):016x}"


def link_tree(src: Path, dst: Path, depth: int = 0) -> int:
    """Hard-link every regular file under ``src`` into ``dst`` (same layout; ``*.tmp`` files skipped;
    copied where the file system cannot link). Returns the number of files."""
    if depth > _MAX_DEPTH:
        raise StorageError(f"snapshot: {src} is nested deeper than a data directory can be")
    dst.mkdir(parents=True, exist_ok=True)
    count = 0
    for entry in sorted(src.iterdir()):
        if entry.name.endswith(".tmp"):
            continue
        target = dst / entry.name
        if entry.is_dir():
            count += link_tree(entry, target, depth + 1)
            continue
        try:
            os.link(entry, target)
        except OSError:
            shutil.copy2(entry, target)
        count += 1
    return count


def write_head_block(dst: Path, head_querier: Any, target_samples: int = 120) -> str | None:
    """Write every series the head querier sees as one block in ``dst``; returns its ULID (None if empty).

    The querier is left open (the caller closes it)."""
    items = []
    for series in head_querier.select(_ALL_SERIES):
        ts, values = series.samples()
        if len(ts):
            items.append((series.labels, ts, values))
    if not items:
        return None
    ulid = write_block_from_samples(dst, items, target=target_samples)
    log.info("head written into snapshot", extra={"block": ulid, "series": len(items)})
    return ulid
