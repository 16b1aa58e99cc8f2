"""Chunk segment files of a block (``<block>/chunks/000001``, ...), as Prometheus writes them.

File layout (big-endian): ``magic 0x85BD40DD <4> | version 1 <1> | padding <3>`` then chunks, each
``len <uvarint> | encoding <1> | data <len> | CRC32C(encoding + data) <4>``. A chunk ref is a uint64:
the upper 32 bits are the segment's index in the sorted list of segment files (0 for ``000001``), the
lower 32 bits the byte offset of the chunk's ``len`` field. See ``docs/format/block.md``.

The writer is not thread-safe; readers are safe to share between threads (read-only memory maps).
"""

from __future__ import annotations

import contextlib
import mmap
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from tsdb.errors import CorruptionError, InvalidArgumentError, StorageError
from tsdb.storage.chunks.segment_kernels import gather_chunks, locate_chunks
from tsdb.storage.chunks.xor import XORChunk
from tsdb.storage.crc import crc32c, crc32c_batch
from tsdb.storage.crc_kernels import CRC32C_TABLES
from tsdb.storage.encoding import read_uvarint
from tsdb.storage.fileutil import fsync_dir

__all__ = [
    "CHUNKS_MAGIC",
    "DEFAULT_SEGMENT_SIZE",
    "SEGMENT_HEADER_SIZE",
    "ChunkReader",
    "ChunkSegmentWriter",
    "RawChunk",
    "pack_chunk_ref",
    "read_segment_file",
    "segment_files",
    "unpack_chunk_ref",
]

CHUNKS_MAGIC = 0x85BD40DD
CHUNKS_FORMAT_V1 = 1
SEGMENT_HEADER_SIZE = 8
DEFAULT_SEGMENT_SIZE = 512 * 1024 * 1024
MAX_LEN_FIELD = 5  # a uvarint32
ENCODING_XOR = 1

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]


def _uvarint_sizes(values: I64) -> I64:
    """Bytes of the uvarint of each value (values < 2**35)."""
    sizes = np.ones(values.shape[0], dtype=np.int64)
    for k in range(1, MAX_LEN_FIELD):
        sizes += values >= (1 << (7 * k))
    return sizes


# -- refs --------------------------------------------------------------------------------------------
def pack_chunk_ref(segment: int, offset: int) -> int:
    """The chunk ref of the chunk at ``offset`` in segment index ``segment`` (0-based)."""
    return (segment << 32) | offset


def unpack_chunk_ref(ref: int) -> tuple[int, int]:
    """(segment index, byte offset) of a chunk ref."""
    return ref >> 32, ref & 0xFFFFFFFF


def segment_files(chunk_dir: str | os.PathLike[str]) -> list[Path]:
    """The segment files of a chunk directory (names made of digits), in ref order."""
    d = Path(chunk_dir)
    return sorted((p for p in d.iterdir() if p.name.isdigit() and p.is_file()), key=lambda p: p.name)



# -- writing -----------------------------------------------------------------------------------------
class ChunkSegmentWriter:
    """Writes chunks into numbered segment files of at most ``segment_size`` bytes.

    A segment holds at least one chunk even when that chunk alone is larger. ``close()`` fsyncs the
    files and the directory. Not thread-safe.
    """

    def __init__(self, chunk_dir: str | os.PathLike[str], segment_size: int = DEFAULT_SEGMENT_SIZE) -> None:
        if not SEGMENT_HEADER_SIZE < segment_size <= 1 << 32:
            raise InvalidArgumentError(f"segment_size {segment_size} must exceed the 8-byte header and be at most "
                                       "4 GiB (chunk refs hold 32-bit offsets)")
        self.dir = Path(chunk_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.segment_size = segment_size
        existing = segment_files(self.dir)
        self._next_name = int(existing[-1].name) + 1 if existing else 1
        self._seq = len(existing) - 1
        self._f: BinaryIO | None = None
        self._pos = 0
        self.paths: list[Path] = []

    def _cut(self) -> None:
        self._finish_tail()
        path = self.dir / f"{self._next_name:06d}"
        self._next_name += 1
        self._seq += 1
        f = open(path, "wb")  # noqa: SIM115 - kept open across calls, closed in _finish_tail
        f.write(CHUNKS_MAGIC.to_bytes(4, "big") + bytes([CHUNKS_FORMAT_V1, 0, 0, 0]))
        self._f = f
        self._pos = SEGMENT_HEADER_SIZE
        self.paths.append(path)

    def _finish_tail(self) -> None:
        if self._f is not None:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
            self._f = None

    def write_chunk(self, encoding: int, data: bytes | U8) -> int:
        """Write one chunk; return its ref."""
        payload = np.frombuffer(bytes(data), dtype=np.uint8) if not isinstance(data, np.ndarray) else data
        refs = self.write_chunks(payload, np.array([0, payload.shape[0]], dtype=np.int64), encoding)
        return int(refs[0])

    def write_chunks(self, data: U8 | bytes, offsets: I64 | Sequence[int],
                     encodings: int | npt.NDArray[np.uint8] = ENCODING_XOR) -> U64:
        """Write chunk i = ``data[offsets[i]:offsets[i+1]]`` for all i; return their refs (uint64[n]).

        Records and CRCs are built with numpy for the whole batch; each segment gets one ``write``.
        """
        buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.view(np.uint8)
        offs = np.ascontiguousarray(offsets, dtype=np.int64)
        n = offs.shape[0] - 1
        if n <= 0:
            return np.zeros(0, dtype=np.uint64)
        lens = np.diff(offs)
        if offs[0] < 0 or offs[-1] > buf.shape[0] or lens.min() < 0:
            raise InvalidArgumentError(f"chunk offsets must be non-decreasing within [0, {buf.shape[0]}]")
        if lens.max() >= 1 << 32:
            raise InvalidArgumentError("a chunk must be smaller than 4 GiB")
        encs = np.broadcast_to(np.asarray(encodings, dtype=np.uint8), (n,))
        vlen = _uvarint_sizes(lens)
        rec = vlen + 1 + lens + 4
        refs = np.empty(n, dtype=np.uint64)
        # Split into segments as Prometheus does (it budgets the 5-byte maximum for the len field).
        budget = MAX_LEN_FIELD + 1 + lens + 4
        start = 0
        while start < n:
            if self._f is None or (self._pos > SEGMENT_HEADER_SIZE and self._pos + budget[start] > self.segment_size):
                self._cut()
            room = self.segment_size - self._pos
            cum = np.cumsum(budget[start:])
            stop = start + max(1, int(np.searchsorted(cum, room, side="right")))
            self._write_batch(buf, offs, lens, vlen, rec, encs, start, stop, refs)
            start = stop
        return refs

    def _write_batch(self, buf: U8, offs: I64, lens: I64, vlen: I64, rec: I64, encs: npt.NDArray[np.uint8],
                     start: int, stop: int, refs: U64) -> None:
        sl = slice(start, stop)
        lens_b, vlen_b, rec_b = lens[sl], vlen[sl], rec[sl]
        rec_start = np.zeros(stop - start, dtype=np.int64)
        np.cumsum(rec_b[:-1], out=rec_start[1:])
        out = np.zeros(int(rec_b.sum()), dtype=np.uint8)
        for k in range(MAX_LEN_FIELD):
            has = vlen_b > k
            byte = (lens_b[has] >> (7 * k)) & 0x7F
            byte |= np.where(vlen_b[has] > k + 1, 0x80, 0)
            out[rec_start[has] + k] = byte.astype(np.uint8)
        enc_pos = rec_start + vlen_b
        out[enc_pos] = encs[sl]
        total = int(lens_b.sum())
        if total:
            # mark the data bytes of every record (a 1-byte mask, not an int64 index per byte)
            delta = np.zeros(out.shape[0] + 1, dtype=np.int8)
            np.add.at(delta, enc_pos + 1, 1)
            np.add.at(delta, enc_pos + 1 + lens_b, -1)
            is_data = np.cumsum(delta[:-1], dtype=np.int8).view(np.bool_)
            out[is_data] = buf[offs[start]:offs[stop]]
        # CRC over encoding byte + data: those pieces are contiguous in ``out``.
        piece = np.empty(2 * (stop - start), dtype=np.int64)
        piece[0::2] = enc_pos
        piece[1::2] = enc_pos + 1 + lens_b
        crcs = crc32c_batch(out, piece)[0::2]
        crc_pos = enc_pos + 1 + lens_b
        crc_be = crcs.astype(">u4").view(np.uint8).reshape(-1, 4)
        for k in range(4):
            out[crc_pos + k] = crc_be[:, k]
        refs[sl] = (np.uint64(self._seq) << np.uint64(32)) | (rec_start + self._pos).astype(np.uint64)
        assert self._f is not None
        self._f.write(out.tobytes())
        self._pos += out.shape[0]

    def close(self) -> None:
        """Flush and fsync the last segment and the directory."""
        self._finish_tail()
        fsync_dir(self.dir)

    def abort(self) -> None:
        """Close the open segment without syncing (the caller discards the files). Never raises."""
        f, self._f = self._f, None
        if f is not None:
            with contextlib.suppress(OSError):
                f.close()

    def __enter__(self) -> ChunkSegmentWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- reading -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RawChunk:
    """A chunk of an encoding we do not decode (e.g. native histograms): encoding number and payload."""

    encoding: int
    payload: bytes

    def data(self) -> bytes:
        return self.payload

    @property
    def num_samples(self) -> int:
        """The 2-byte big-endian sample count every Prometheus chunk encoding starts with."""
        return (self.payload[0] << 8) | self.payload[1] if len(self.payload) >= 2 else 0


def _map(path: Path) -> tuple[mmap.mmap | None, U8]:
    size = path.stat().st_size
    if size == 0:
        return None, np.zeros(0, dtype=np.uint8)
    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    return mm, np.frombuffer(mm, dtype=np.uint8)


def _check_header(path: Path, arr: U8) -> None:
    if arr.shape[0] < SEGMENT_HEADER_SIZE:
        raise CorruptionError(f"chunk segment shorter than its {SEGMENT_HEADER_SIZE}-byte header", str(path), 0)
    magic = int.from_bytes(arr[:4].tobytes(), "big")
    if magic != CHUNKS_MAGIC:
        raise CorruptionError(f"bad chunk segment magic {magic:#010x}", str(path), 0)
    if arr[4] != CHUNKS_FORMAT_V1:
        raise CorruptionError(f"unsupported chunk segment version {arr[4]}", str(path), 4)


@dataclass(frozen=True)
class LocatedChunks:
    """Chunk records found by :meth:`ChunkReader.locate_many`: per chunk its offset in its segment, the
    position of its encoding byte and its data length; ``groups`` lists (segment, indices or None for all)."""

    groups: list[tuple[int, I64 | None]]
    offsets: I64
    positions: I64
    lengths: I64


class ChunkReader:
    """Reads chunks of a block's ``chunks/`` directory through read-only memory maps.

    Thread-safe for reading. ``close()`` unmaps (arrays returned earlier are copies and stay valid).
    """

    def __init__(self, chunk_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(chunk_dir)
        try:
            self.paths = segment_files(self.dir)
        except OSError as err:
            raise StorageError(f"cannot list chunk directory {self.dir}: {err}") from err
        self._maps: list[mmap.mmap | None] = []
        self._arrays: list[U8] = []
        for p in self.paths:
            mm, arr = _map(p)
            _check_header(p, arr)
            self._maps.append(mm)
            self._arrays.append(arr)

    @property
    def size(self) -> int:
        """Total bytes of all segment files."""
        return sum(a.shape[0] for a in self._arrays)

    def _locate(self, ref: int) -> tuple[int, int, int, int]:
        """(segment, encoding position, data length, record end) of a chunk; CorruptionError if out of range."""
        seg, off = unpack_chunk_ref(ref)
        if seg >= len(self._arrays):
            raise CorruptionError(f"chunk ref {ref:#x} names segment index {seg}, but there are {len(self._arrays)}",
                                  str(self.dir), None)
        arr = self._arrays[seg]
        path = str(self.paths[seg])
        if off < SEGMENT_HEADER_SIZE or off >= arr.shape[0]:
            raise CorruptionError(f"chunk ref {ref:#x} points outside the segment", path, off)
        try:
            length, pos = read_uvarint(self._maps[seg], off, min(arr.shape[0], off + MAX_LEN_FIELD))  # type: ignore[arg-type]
        except ValueError as err:
            raise CorruptionError(f"bad chunk length field: {err}", path, off) from err
        end = pos + 1 + length + 4
        if end > arr.shape[0]:
            raise CorruptionError(f"chunk of {length} bytes runs past the end of the segment", path, off)
        return seg, pos, length, end

    def chunk(self, ref: int) -> tuple[int, bytes]:
        """(encoding, payload bytes) of one chunk, CRC verified."""
        seg, pos, length, end = self._locate(int(ref))
        arr = self._arrays[seg]
        body = arr[pos:pos + 1 + length]
        stored = int.from_bytes(arr[end - 4:end].tobytes(), "big")
        if crc32c(body) != stored:
            raise CorruptionError("chunk checksum mismatch", str(self.paths[seg]), int(ref) & 0xFFFFFFFF)
        return int(arr[pos]), arr[pos + 1:pos + 1 + length].tobytes()

    def read(self, refs: U64 | Sequence[int]) -> tuple[U8, I64]:
        """Payloads of many chunks concatenated (uint8[]) and their offsets (int64[n+1]); CRCs verified."""
        data, offsets, _ = self.read_many(refs)
        return data, offsets

    def read_many(self, refs: U64 | Sequence[int]) -> tuple[U8, I64, npt.NDArray[np.uint8]]:
        """Like :meth:`read`, also returning each chunk's encoding byte."""
        located = self.locate_many(refs)
        offsets = np.zeros(located.lengths.shape[0] + 1, dtype=np.int64)
        np.cumsum(located.lengths, out=offsets[1:])
        data = np.empty(int(offsets[-1]), dtype=np.uint8)
        encodings = self.gather_into(located, data, offsets[:-1])
        return data, offsets, encodings

    def locate_many(self, refs: U64 | Sequence[int]) -> LocatedChunks:
        """Where each chunk's record is (segment, encoding byte position, data length), without copying;
        CorruptionError (segment file and offset) for a ref that does not point at a chunk record."""
        refs_arr = np.asarray(refs, dtype=np.uint64)
        n = refs_arr.shape[0]
        segs = (refs_arr >> np.uint64(32)).astype(np.int64)
        offs = (refs_arr & np.uint64(0xFFFFFFFF)).astype(np.int64)
        positions = np.empty(n, dtype=np.int64)
        lens = np.empty(n, dtype=np.int64)
        groups = self._by_segment(segs)
        for seg, idx in groups:
            self._locate_group(seg, idx, offs, refs_arr, positions, lens)
        return LocatedChunks(groups, offs, positions, lens)

    def gather_into(self, located: LocatedChunks, data: U8, dest: I64) -> npt.NDArray[np.uint8]:
        """Copy chunk i's data to ``data[dest[i]:dest[i] + located.lengths[i]]`` verifying its CRC; returns
        the encoding bytes. CorruptionError (segment file and offset) for the first checksum mismatch."""
        encodings = np.empty(located.lengths.shape[0], dtype=np.uint8)
        positions, lens, offs = located.positions, located.lengths, located.offsets
        for seg, idx in located.groups:
            if idx is None:
                first = gather_chunks(self._arrays[seg], positions, lens, CRC32C_TABLES, data, dest, encodings)
            else:
                enc = np.empty(idx.shape[0], dtype=np.uint8)
                bad = gather_chunks(self._arrays[seg], positions[idx], lens[idx], CRC32C_TABLES, data, dest[idx], enc)
                encodings[idx] = enc
                first = int(idx[bad]) if bad >= 0 else -1
            if first >= 0:
                raise CorruptionError("chunk checksum mismatch", str(self.paths[seg]), int(offs[first]))
        return encodings

    def _by_segment(self, segs: I64) -> list[tuple[int, I64 | None]]:
        """(segment, indices of its refs, or None for all refs) groups; CorruptionError for an unknown segment."""
        if segs.shape[0] == 0:
            return []
        top = int(segs.max())
        if top >= len(self._arrays):
            raise CorruptionError(f"chunk ref names segment index {top}, but there are {len(self._arrays)}",
                                  str(self.dir), None)
        if int(segs.min()) == top:
            return [(top, None)]
        return [(int(seg), np.flatnonzero(segs == seg)) for seg in np.unique(segs)]

    def _locate_group(self, seg: int, idx: I64 | None, offs: I64, refs: U64, positions: I64, lens: I64) -> None:
        """Fill positions and lengths of the refs ``idx`` (None: all) of segment ``seg``; CorruptionError if bad."""
        part = offs if idx is None else offs[idx]
        pos = positions if idx is None else np.empty(part.shape[0], dtype=np.int64)
        ln = lens if idx is None else np.empty(part.shape[0], dtype=np.int64)
        bad, _ = locate_chunks(self._arrays[seg], part, SEGMENT_HEADER_SIZE, pos, ln)
        if bad >= 0:
            i = bad if idx is None else int(idx[bad])
            self._locate(int(refs[i]))  # raises with the precise message
            raise CorruptionError(f"chunk ref {int(refs[i]):#x} is not a valid chunk record", str(self.paths[seg]),
                                  int(offs[i]))
        if idx is not None:
            positions[idx] = pos
            lens[idx] = ln

    def close(self) -> None:
        """Unmap the segment files."""
        self._arrays = []
        for mm in self._maps:
            if mm is not None:
                with contextlib.suppress(BufferError):  # a view is still alive; freed with it
                    mm.close()
        self._maps = []

    def __enter__(self) -> ChunkReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_segment_file(path: str | os.PathLike[str]) -> list[XORChunk | RawChunk]:
    """All chunks of one segment file in file order, CRC verified (``tsdb check chunks``).

    XOR chunks come back as :class:`XORChunk`, other encodings as :class:`RawChunk`; both have
    ``num_samples``. Trailing zero bytes (preallocation) end the file. Corruption raises
    :class:`CorruptionError` with the file and offset.
    """
    p = Path(path)
    raw = p.read_bytes()
    arr = np.frombuffer(raw, dtype=np.uint8)
    _check_header(p, arr)
    chunks: list[XORChunk | RawChunk] = []
    pos = SEGMENT_HEADER_SIZE
    size = len(raw)
    while pos < size:
        if raw[pos] == 0 and not any(raw[pos:]):
            break
        try:
            length, body = read_uvarint(raw, pos, min(size, pos + MAX_LEN_FIELD))
        except ValueError as err:
            raise CorruptionError(f"bad chunk length field: {err}", str(p), pos) from err
        end = body + 1 + length + 4
        if end > size:
            raise CorruptionError(f"chunk of {length} bytes runs past the end of the file", str(p), pos)
        if crc32c(raw[body:body + 1 + length]) != int.from_bytes(raw[end - 4:end], "big"):
            raise CorruptionError("chunk checksum mismatch", str(p), pos)
        encoding, payload = raw[body], raw[body + 1:body + 1 + length]
        try:
            chunks.append(XORChunk(payload) if encoding == ENCODING_XOR else RawChunk(encoding, payload))
        except CorruptionError as err:
            raise CorruptionError(f"malformed chunk: {err}", str(p), pos) from err
        pos = end
    return chunks
