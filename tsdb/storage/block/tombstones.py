"""Tombstones: deleted time intervals per series, and the block ``tombstones`` file.

File layout (Prometheus's): ``magic 0x0130BA30 <4 BE> | version 1 <1> | entries | CRC32C <4 BE>``, each
entry ``series ref <uvarint64> | mint <varint64> | maxt <varint64>``; the CRC covers the entries only
(not the magic or version byte). Intervals are inclusive ``[mint, maxt]`` in ms. A missing file means
no tombstones. :class:`Tombstones` is not thread-safe; treat a loaded one as read-only when shared.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tsdb.errors import CorruptionError, InvalidArgumentError
from tsdb.storage.crc import crc32c
from tsdb.storage.encoding import put_uvarint, put_varint, read_uvarint, read_varint
from tsdb.storage.fileutil import atomic_write

__all__ = [
    "TOMBSTONES_FILENAME",
    "TOMBSTONES_MAGIC",
    "Tombstones",
    "add_interval",
    "encode_tombstones",
    "read_tombstones",
    "write_tombstones",
]

TOMBSTONES_MAGIC = 0x0130BA30
TOMBSTONES_FORMAT_V1 = 1
TOMBSTONES_FILENAME = "tombstones"
_I64_MAX = (1 << 63) - 1

Interval = tuple[int, int]


def add_interval(intervals: list[Interval], new: Interval) -> list[Interval]:
    """Insert ``new`` into sorted disjoint intervals, merging overlapping and adjacent ones."""
    lo, hi = new
    if hi < lo:
        raise InvalidArgumentError(f"tombstone interval [{lo}, {hi}] ends before it starts")
    before = [iv for iv in intervals if iv[1] + 1 < lo]
    after = [iv for iv in intervals if iv[0] > hi + 1]
    touching = intervals[len(before):len(intervals) - len(after)]
    if touching:
        lo, hi = min(lo, touching[0][0]), max(hi, touching[-1][1])
    return [*before, (lo, hi), *after]


class Tombstones:
    """Deleted intervals per series ref: sorted, disjoint, adjacent ones merged."""

    def __init__(self) -> None:
        self._by_ref: dict[int, list[Interval]] = {}

    def add(self, ref: int, mint: int, maxt: int) -> None:
        """Mark ``[mint, maxt]`` of series ``ref`` deleted."""
        self._by_ref[int(ref)] = add_interval(self._by_ref.get(int(ref), []), (int(mint), int(maxt)))

    def get(self, ref: int) -> list[Interval]:
        """The deleted intervals of ``ref`` (a copy; empty if none)."""
        return list(self._by_ref.get(int(ref), ()))

    def items(self) -> Iterator[tuple[int, list[Interval]]]:
        """(ref, intervals) in ascending ref order."""
        for ref in sorted(self._by_ref):
            yield ref, list(self._by_ref[ref])

    def total(self) -> int:
        """Number of intervals over all series."""
        return sum(len(v) for v in self._by_ref.values())

    def __len__(self) -> int:
        """Number of series with tombstones."""
        return len(self._by_ref)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tombstones) and other._by_ref == self._by_ref

    def __repr__(self) -> str:
        return f"Tombstones({dict(self.items())!r})"

    def covers(self, ref: int, mint: int, maxt: int) -> bool:
        """True if ``[mint, maxt]`` lies inside one deleted interval of ``ref``."""
        intervals = self._by_ref.get(int(ref))
        if not intervals:
            return False
        i = bisect.bisect_right(intervals, (int(mint), _I64_MAX)) - 1
        return i >= 0 and intervals[i][0] <= mint and maxt <= intervals[i][1]

    def is_deleted(self, ref: int, ts: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Element-wise: is ``ts[i]`` inside a deleted interval of ``ref``?"""
        ts = np.asarray(ts, dtype=np.int64)
        intervals = self._by_ref.get(int(ref))
        if not intervals:
            return np.zeros(ts.shape[0], dtype=bool)
        bounds = np.asarray(intervals, dtype=np.int64)
        i = np.searchsorted(bounds[:, 0], ts, side="right") - 1
        return (i >= 0) & (ts <= bounds[np.maximum(i, 0), 1])


def encode_tombstones(tombstones: Tombstones) -> bytes:
    """The whole file content."""
    body = bytearray([TOMBSTONES_FORMAT_V1])
    for ref, intervals in tombstones.items():
        for lo, hi in intervals:
            put_uvarint(body, ref)
            put_varint(body, lo)
            put_varint(body, hi)
    return TOMBSTONES_MAGIC.to_bytes(4, "big") + bytes(body) + crc32c(bytes(body[1:])).to_bytes(4, "big")


def write_tombstones(block_dir: str | os.PathLike[str], tombstones: Tombstones) -> int:
    """Write ``<block_dir>/tombstones`` atomically (tmp file, fsync, rename); return its size."""
    return atomic_write(Path(block_dir) / TOMBSTONES_FILENAME, encode_tombstones(tombstones))


def read_tombstones(block_dir: str | os.PathLike[str]) -> Tombstones:
    """Read ``<block_dir>/tombstones``; a missing file gives empty tombstones."""
    path = Path(block_dir) / TOMBSTONES_FILENAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Tombstones()
    p = str(path)
    if len(data) < 9:
        raise CorruptionError(f"tombstones file of {len(data)} bytes is too short", p, 0)
    magic = int.from_bytes(data[:4], "big")
    if magic != TOMBSTONES_MAGIC:
        raise CorruptionError(f"bad tombstones magic {magic:#010x}", p, 0)
    if data[4] != TOMBSTONES_FORMAT_V1:
        raise CorruptionError(f"unsupported tombstones format {data[4]}", p, 4)
    end = len(data) - 4
    if crc32c(data[5:end]) != int.from_bytes(data[end:], "big"):
        raise CorruptionError("tombstones checksum mismatch", p, end)
    out = Tombstones()
    pos = 5
    while pos < end:
        start = pos
        try:
            ref, pos = read_uvarint(data, pos, end)
            lo, pos = read_varint(data, pos, end)
            hi, pos = read_varint(data, pos, end)
            out.add(ref, lo, hi)
        except (ValueError, InvalidArgumentError) as err:
            raise CorruptionError(f"malformed tombstone entry: {err}", p, start) from err
    return out
