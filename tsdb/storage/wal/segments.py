"""WAL segment files: naming (``00000000``, ``00000001``, ...), listing, parsing one segment into its
records (a numba kernel finds the fragments and checks their CRCs, see ``records_kernels``), and the
snappy compression of records (Prometheus's ``--storage.tsdb.wal-compression``).

Shared by the writer, the reader and repair; the page/fragment layout is in ``docs/format/wal.md``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cramjam
import numpy as np

from tsdb.errors import StorageError
from tsdb.storage.crc_kernels import CRC32C_TABLES
from tsdb.storage.wal.records_kernels import ERR_CODEC, scan_segment

__all__ = [
    "DEFAULT_PAGE_SIZE", "DEFAULT_SEGMENT_SIZE", "WAL_COMPRESSIONS", "ParsedSegment", "compress_record",
    "list_segments", "list_wal_dir", "parse_segment", "segment_path",
]

DEFAULT_PAGE_SIZE = 32 * 1024
DEFAULT_SEGMENT_SIZE = 128 * 1024 * 1024
_SEGMENT_NAME = re.compile(r"^\d{8}$")
WAL_COMPRESSIONS = ("snappy", "none")
"""What WAL records may be compressed with when written (reading always accepts both)."""


def compress_record(record: bytes) -> tuple[bytes, bool]:
    """``(bytes to write, compressed)``: the snappy block encoding of ``record`` when it is shorter, else the
    record itself (Prometheus keeps a record uncompressed when compression does not pay)."""
    packed = bytes(cramjam.snappy.compress_raw(record))
    return (packed, True) if len(packed) < len(record) else (record, False)


def segment_path(wal_dir: str | os.PathLike[str], index: int) -> Path:
    """The path of segment ``index`` (8 zero-padded digits) in ``wal_dir``."""
    return Path(wal_dir) / f"{index:08d}"


def list_wal_dir(wal_dir: str | os.PathLike[str]) -> list[str]:
    """The entry names of ``wal_dir`` (none if it does not exist yet); other failures are StorageError."""
    try:
        return os.listdir(wal_dir)
    except FileNotFoundError:
        return []
    except OSError as err:
        raise StorageError(f"cannot list WAL directory {wal_dir}: {err}") from err


def list_segments(wal_dir: str | os.PathLike[str]) -> list[int]:
    """Sorted indices of the segment files in ``wal_dir`` (other entries are ignored)."""
    return sorted(int(name) for name in list_wal_dir(wal_dir) if _SEGMENT_NAME.match(name))


@dataclass
class ParsedSegment:
    """One parsed segment: its path and bytes, the kernel's output and the (possible) error."""

    path: Path
    data: bytes
    frag_start: np.ndarray
    frag_len: np.ndarray
    rec_end: np.ndarray
    rec_off: np.ndarray
    rec_snappy: np.ndarray
    err: int
    err_off: int
    good_end: int
    torn: bool

    def records(self) -> Iterator[tuple[int, bytes]]:
        """(offset, record bytes) of each complete record, in order, decompressed.

        A record flagged as compressed that does not decompress to something longer than itself (the writer
        compresses only when that shortens a record; the checksums do not cover the flag) ends the
        iteration and turns this segment's error into ``ERR_CODEC`` at that record, for the caller to
        check (raise or repair) as any other corruption."""
        data, fs, fl = self.data, self.frag_start, self.frag_len
        lo = 0
        for r in range(self.rec_end.shape[0]):
            hi = int(self.rec_end[r])
            if hi - lo == 1:
                s = int(fs[lo])
                rec = data[s:s + int(fl[lo])]
            else:
                rec = b"".join(data[int(fs[f]):int(fs[f]) + int(fl[f])] for f in range(lo, hi))
            offset = int(self.rec_off[r])
            if self.rec_snappy[r]:
                packed_len = len(rec)
                try:
                    rec = bytes(cramjam.snappy.decompress_raw(rec))
                except cramjam.DecompressionError:
                    rec = b""
                if len(rec) <= packed_len:
                    self.err, self.err_off, self.good_end, self.torn = ERR_CODEC, offset, offset, False
                    return
            yield offset, rec
            lo = hi


def parse_segment(path: Path, page_size: int) -> ParsedSegment:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise StorageError(f"cannot read WAL segment {path}: {err}") from err
    buf = np.frombuffer(data, dtype=np.uint8)
    fs, fl, re_, ro, snappy, code, err_off, good_end, torn = scan_segment(buf, page_size, CRC32C_TABLES)
    return ParsedSegment(path, data, fs, fl, re_, ro, snappy, int(code), int(err_off), int(good_end), bool(torn))
