"""Reading the WAL: :class:`WALReader` and :func:`read_records` iterate the records of a range of
segments in order. Whole segment files are read into memory and parsed by a numba kernel; problems are
handled by :mod:`tsdb.storage.wal.repair` (torn tail cut, corruption raised or repaired).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from tsdb.errors import CorruptionError
from tsdb.storage.wal.records_kernels import ERR_CODEC
from tsdb.storage.wal.repair import RepairReport, check_segment
from tsdb.storage.wal.segments import DEFAULT_PAGE_SIZE, list_segments, parse_segment, segment_path

__all__ = ["WALReader", "read_records"]


class WALReader:
    """Iterate the records (bytes) of ``wal_dir``'s segments ``[from_segment, to_segment]`` in order.

    Iterating yields record bytes; ``segment``/``offset`` give the position of the last yielded record
    (the offset of its first fragment header), :meth:`entries` yields ``(segment, offset, record)``.
    A torn tail of the directory's last segment is cut (``cut_tail=True``) or just not read
    (``allow_torn_tail=False``: it is corruption, e.g. in a checkpoint, which is complete by design). Other
    problems raise :class:`CorruptionError`, or with ``repair=True`` are repaired and described in
    ``repairs`` (reading then stops, as everything after the corruption is gone).
    """

    def __init__(self, wal_dir: str | os.PathLike[str], from_segment: int | None = None,
                 to_segment: int | None = None, *, repair: bool = False, cut_tail: bool = True,
                 allow_torn_tail: bool = True, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        self.wal_dir = Path(wal_dir)
        self.from_segment = from_segment
        self.to_segment = to_segment
        self.repair = repair
        self.cut_tail = cut_tail
        self.allow_torn_tail = allow_torn_tail
        self.page_size = page_size
        self.repairs: list[RepairReport] = []
        self.segment = -1
        self.offset = -1
        self.bytes_read = 0

    def __iter__(self) -> Iterator[bytes]:
        for segment, offset, record in self.entries():
            self.segment, self.offset = segment, offset
            yield record

    def entries(self) -> Iterator[tuple[int, int, bytes]]:
        """Yield ``(segment, offset, record)`` for every record in order (see the class docstring)."""
        all_segments = list_segments(self.wal_dir)
        if not all_segments:
            return
        last_in_dir = all_segments[-1]
        wanted = [i for i in all_segments
                  if (self.from_segment is None or i >= self.from_segment)
                  and (self.to_segment is None or i <= self.to_segment)]
        previous = None
        for index in wanted:
            if previous is not None and index != previous + 1:
                missing = segment_path(self.wal_dir, previous + 1)
                raise CorruptionError("WAL segment missing from sequence", path=str(missing), offset=0)
            previous = index
            parsed = parse_segment(segment_path(self.wal_dir, index), self.page_size)
            self.bytes_read += len(parsed.data)
            report = check_segment(self.wal_dir, index, parsed, index == last_in_dir, self.repair,
                                    self.cut_tail, self.allow_torn_tail)
            for offset, record in parsed.records():
                yield index, offset, record
            if parsed.err == ERR_CODEC:  # found while decompressing: corruption as any other
                report = check_segment(self.wal_dir, index, parsed, index == last_in_dir, self.repair,
                                        self.cut_tail, self.allow_torn_tail)
            if report is not None:
                self.repairs.append(report)
                return


def read_records(wal_dir: str | os.PathLike[str], from_segment: int | None = None,
                 to_segment: int | None = None, *, repair: bool = False) -> Iterator[bytes]:
    """Records of segments ``[from_segment, to_segment]`` (default: all) in order; see :class:`WALReader`."""
    return iter(WALReader(wal_dir, from_segment, to_segment, repair=repair))
