"""WAL repair: what to do when a segment does not parse to its end.

A torn tail (the directory's last segment ends inside a record: a crash mid-write) is cut off and
logged. Any other problem raises :class:`CorruptionError` naming the segment file and offset, unless
repair was asked for: then everything from the broken record on is dropped (the segment is cut, later
segments deleted) and a :class:`RepairReport` says what was dropped.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from tsdb.errors import CorruptionError, StorageError
from tsdb.storage.wal.records_kernels import ERROR_NAMES
from tsdb.storage.wal.segments import ParsedSegment, list_segments, segment_path

__all__ = ["RepairReport", "check_segment"]


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RepairReport:
    """What a repair dropped: segment ``segment`` was cut at ``offset``; ``dropped_bytes`` in total were
    removed, including the whole later segments ``deleted_segments``. ``reason`` names the problem."""

    segment: int
    offset: int
    dropped_bytes: int
    deleted_segments: tuple[int, ...]
    reason: str


def _truncate_file(path: Path, size: int) -> None:
    try:
        with open(path, "r+b") as f:
            f.truncate(size)
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        raise StorageError(f"cannot truncate WAL segment {path} to {size} bytes: {err}") from err


def check_segment(wal_dir: Path, index: int, parsed: ParsedSegment, is_last: bool, repair: bool,
                   cut_tail: bool, allow_torn_tail: bool = True) -> RepairReport | None:
    """Handle a parse error of segment ``index``: cut a torn tail, repair, or raise CorruptionError.

    Returns a report when something was repaired (torn tails are logged, not reported). Later segments
    are deleted by a repair; the caller must stop reading after a repair.
    """
    if parsed.err == 0:
        return None
    path = segment_path(wal_dir, index)
    reason = ERROR_NAMES[parsed.err]
    if is_last and parsed.torn and allow_torn_tail:
        dropped = len(parsed.data) - parsed.good_end
        if cut_tail:
            log.warning("WAL segment %s: torn tail (%s) at offset %d; cutting %d bytes at offset %d",
                        path, reason, parsed.err_off, dropped, parsed.good_end)
            _truncate_file(path, parsed.good_end)
        else:
            log.info("WAL segment %s: incomplete record at offset %d ignored", path, parsed.good_end)
        return None
    if not repair:
        raise CorruptionError(f"WAL corruption: {reason}", path=str(path), offset=parsed.err_off)
    later = [i for i in list_segments(wal_dir) if i > index]
    dropped = len(parsed.data) - parsed.good_end
    for i in later:
        p = segment_path(wal_dir, i)
        try:
            dropped += p.stat().st_size
            p.unlink()
        except OSError as err:
            raise StorageError(f"cannot delete WAL segment {p} during repair: {err}") from err
    _truncate_file(path, parsed.good_end)
    report = RepairReport(index, parsed.good_end, dropped, tuple(later), f"{reason} at offset {parsed.err_off}")
    log.error("WAL repaired: %s", report)
    return report
