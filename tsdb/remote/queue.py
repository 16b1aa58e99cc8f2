"""The durable queue of one remote: numbered segment files of framed batches, and a persisted read position.

A record is ``length (u32) | crc32 (u32) | payload`` (little-endian); the payload is one batch (see
:func:`encode_batch`). :meth:`DiskQueue.append` writes records to the newest segment and flushes them to
the operating system (a crash of tsdb loses nothing; ``fsync`` decides when they reach the disk);
:meth:`DiskQueue.read` hands records from the read cursor on; :meth:`DiskQueue.ack` persists a position
(atomically, in ``position``) and deletes the segments before it. At open, a torn or corrupt tail of the last
segment (a crash in the middle of a write) is cut off; a corrupt record elsewhere ends its segment.
When the segments exceed ``max_bytes``, the oldest are deleted and their unsent samples counted as dropped.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tsdb.labels import Labels
from tsdb.storage.fileutil import atomic_write

log = logging.getLogger("tsdb.remote")

_FRAME = struct.Struct("<II")
_COUNTS = struct.Struct("<II")  # series, samples
DEFAULT_SEGMENT_BYTES = 16 << 20
POSITION_FILE = "position"


@dataclass
class Batch:
    """Samples of several series: series ``k`` has ``ts[offsets[k]:offsets[k+1]]`` (and the same values)."""

    labels: list[Labels]
    offsets: npt.NDArray[np.int64]
    ts: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]

    @property
    def samples(self) -> int:
        return len(self.ts)


def label_blob(labels: Labels) -> bytes:
    """A series' labels as stored in a batch payload (see :func:`encode_batch`)."""
    text = "\0".join(tuple.__getitem__(labels, slice(None))).encode()
    return struct.pack("<I", len(text)) + text


def encode_blobs(blobs: list[bytes], counts: npt.NDArray[np.int64], ts: npt.NDArray[np.int64],
                 values: npt.NDArray[np.float64]) -> bytes:
    """:func:`encode_batch` of series given as :func:`label_blob` results and their sample counts."""
    return b"".join((_COUNTS.pack(len(blobs), len(ts)), counts.astype("<u4").tobytes(), *blobs,
                     ts.astype("<i8").tobytes(), values.astype("<f8").tobytes()))


def encode_batch(batch: Batch) -> bytes:
    """Payload: series and sample counts, per series its sample count and its labels as NUL-separated
    UTF-8 ``name, value, ...`` (length-prefixed), then all timestamps (int64) and values (float64)."""
    return encode_blobs([label_blob(labels) for labels in batch.labels], np.diff(batch.offsets), batch.ts,
                        batch.values)


def decode_batch(payload: bytes) -> Batch:
    """The inverse of :func:`encode_batch`; ValueError when ``payload`` is not one."""
    n_series, n_samples = _COUNTS.unpack_from(payload, 0)
    pos = _COUNTS.size
    counts = np.frombuffer(payload, "<u4", n_series, pos).astype(np.int64)
    pos += 4 * n_series
    labels = []
    for _ in range(n_series):
        (size,) = struct.unpack_from("<I", payload, pos)
        pos += 4
        flat = payload[pos:pos + size].decode().split("\0") if size else []
        pos += size
        labels.append(Labels(zip(flat[::2], flat[1::2], strict=True)))
    ts = np.frombuffer(payload, "<i8", n_samples, pos).astype(np.int64)
    pos += 8 * n_samples
    values = np.frombuffer(payload, "<f8", n_samples, pos).astype(np.float64)
    if pos + 8 * n_samples != len(payload) or int(counts.sum()) != n_samples:
        raise ValueError("batch payload length does not match its counts")
    offsets = np.zeros(n_series + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return Batch(labels, offsets, ts, values)


def frame(payload: bytes) -> bytes:
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def read_records(data: bytes, start: int = 0) -> tuple[list[tuple[bytes, int]], int, bool]:
    """Whole valid records of ``data`` from ``start``: ``([(payload, end offset)], end of the last one,
    corrupt)``; stops at a torn tail (``corrupt`` False) or at a record whose checksum fails (True)."""
    out: list[tuple[bytes, int]] = []
    pos = start
    while pos + _FRAME.size <= len(data):
        size, crc = _FRAME.unpack_from(data, pos)
        end = pos + _FRAME.size + size
        if end > len(data):
            break
        payload = data[pos + _FRAME.size:end]
        if zlib.crc32(payload) != crc:
            return out, pos, True
        out.append((payload, end))
        pos = end
    return out, pos, False


def _samples_in(payload: bytes) -> int:
    return int(_COUNTS.unpack_from(payload, 0)[1]) if len(payload) >= _COUNTS.size else 0


class DiskQueue:
    """One remote's queue directory. Thread-safe: writers append while the sender reads and acknowledges."""

    def __init__(self, path: Path, max_bytes: int, fsync: str = "never", segment_bytes: int = 0) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        """Segment size (0: an eighth of ``max_bytes``, at most 16 MiB), so the bound is kept closely."""
        self.fsync_always = fsync == "always"
        self.dropped = 0
        """Samples deleted unsent because the queue was full (since open)."""
        self.lock = threading.Lock()
        path.mkdir(parents=True, exist_ok=True)
        self._sizes: dict[int, int] = {}
        self._seg_samples: dict[int, int] = {}
        for entry in path.iterdir():
            if entry.name.isdigit():
                self._sizes[int(entry.name)] = entry.stat().st_size
        self.acked = self._load_position()
        for n in [n for n in self._sizes if n < self.acked[0]]:
            self._delete(n)
        if self._sizes:
            self._repair_tail(max(self._sizes))
        self._write_seg = max(self._sizes, default=self.acked[0])
        if self._write_seg < self.acked[0]:
            self._write_seg = self.acked[0]
        self._file = open(self._seg_path(self._write_seg), "ab")  # noqa: SIM115 - kept open while the queue is
        self._sizes[self._write_seg] = self._file.tell()
        self.cursor = self.acked
        self._dirty = False
        self._to_sync: list[int] = []
        # samples appended to each segment (all of them, read or not)
        self._seg_samples = {n: self._samples_from(n, 0) for n in self._sizes}
        self._reads: list[tuple[tuple[int, int], int, int]] = []
        """(end position, segment, samples) of each record read and not yet acknowledged."""
        self.pending_samples = sum(self._seg_samples.values()) - (self._seg_samples.get(self.acked[0], 0) -
                                                                  self._samples_from(*self.acked))
        """Samples after the acknowledged position."""

    def _seg_path(self, n: int) -> Path:
        return self.path / f"{n:08d}"

    def _load_position(self) -> tuple[int, int]:
        try:
            raw = json.loads((self.path / POSITION_FILE).read_text())
            return int(raw["segment"]), int(raw["offset"])
        except FileNotFoundError:
            return min(self._sizes, default=0), 0
        except (ValueError, KeyError, TypeError, OSError):
            log.warning("remote-write queue position unreadable, sending the queue from its start",
                        extra={"queue": str(self.path)})
            return min(self._sizes, default=0), 0

    def _repair_tail(self, n: int) -> None:
        data = self._seg_path(n).read_bytes()
        _, end, corrupt = read_records(data)
        if end < len(data):
            log.warning("remote-write queue: cut a torn or corrupt tail", extra={
                "segment": str(self._seg_path(n)), "bytes": len(data) - end, "corrupt": corrupt})
            os.truncate(self._seg_path(n), end)
            self._sizes[n] = end

    def _delete(self, n: int) -> None:
        self._seg_path(n).unlink(missing_ok=True)
        self._sizes.pop(n, None)
        self._seg_samples.pop(n, None)

    def _samples_from(self, n: int, offset: int) -> int:
        """Samples of segment ``n`` from ``offset`` on (reads the file)."""
        if n not in self._sizes:
            return 0
        records, _, _ = read_records(self._seg_path(n).read_bytes(), offset)
        return sum(_samples_in(p) for p, _ in records)

    @property
    def size_bytes(self) -> int:
        return sum(self._sizes.values())

    def append(self, payload: bytes) -> None:
        """Add one batch record; when full, drop the oldest segments first (counted in ``dropped``)."""
        record = frame(payload)
        with self.lock:
            limit = self.segment_bytes or min(DEFAULT_SEGMENT_BYTES, self.max_bytes // 8)
            if self._sizes[self._write_seg] and self._sizes[self._write_seg] + len(record) > limit:
                self._rotate()
            self._file.write(record)
            self._file.flush()
            if self.fsync_always:
                os.fsync(self._file.fileno())
            self._sizes[self._write_seg] += len(record)
            self._dirty = True
            self.pending_samples += _samples_in(payload)
            self._seg_samples[self._write_seg] += _samples_in(payload)
            while self.size_bytes > self.max_bytes and len(self._sizes) > 1:
                self._drop_oldest()

    def _rotate(self) -> None:
        if self._dirty:
            self._to_sync.append(os.dup(self._file.fileno()))  # fsynced by the next ``sync``
        self._file.close()
        self._write_seg += 1
        self._file = open(self._seg_path(self._write_seg), "ab")  # noqa: SIM115
        self._sizes[self._write_seg] = 0
        self._seg_samples[self._write_seg] = 0

    def _drop_oldest(self) -> None:
        n = min(self._sizes)
        if n >= self.acked[0]:  # unacknowledged samples (some may be on their way: counted all the same)
            lost = self._samples_from(n, self.acked[1]) if n == self.acked[0] and self.acked[1] \
                else self._seg_samples.get(n, 0)
            self.dropped += lost
            self.pending_samples -= lost
        self._delete(n)
        if self.cursor[0] <= n:
            self.cursor = (n + 1, 0)
        if self.acked[0] <= n:
            self.acked = (n + 1, 0)
            self._save_position()

    def sync(self) -> None:
        """fsync what was appended since the last call (for a periodic fsync policy); the fsync itself runs
        without the lock, so appends (commits) do not wait for the disk."""
        with self.lock:
            fds = self._to_sync
            self._to_sync = []
            if self._dirty:
                fds.append(os.dup(self._file.fileno()))
                self._dirty = False
        for fd in fds:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def read(self, max_samples: int) -> tuple[list[bytes], tuple[int, int]]:
        """Records from the cursor on, about ``max_samples`` samples' worth (at least one record when any
        is there), and the position after them; advances the cursor (not the acknowledged position).
        Files are read without the lock, so appends (commits) never wait for a read."""
        out: list[bytes] = []
        reads: list[tuple[tuple[int, int], int, int]] = []
        samples = 0
        with self.lock:
            seg, offset = self.cursor
        while samples < max_samples:
            with self.lock:
                size, write_seg = self._sizes.get(seg), self._write_seg
            if size is None or offset >= size:
                if seg < write_seg:
                    seg, offset = seg + 1, 0
                    continue
                break
            try:
                with open(self._seg_path(seg), "rb") as f:
                    f.seek(offset)
                    data = f.read(size - offset)
            except FileNotFoundError:  # dropped meanwhile (the queue was full): go on with the next one
                continue
            records, end, corrupt = read_records(data)
            new_offset = offset + end
            for payload, rec_end in records:
                out.append(payload)
                count = _samples_in(payload)
                samples += count
                reads.append(((seg, offset + rec_end), seg, count))
                if samples >= max_samples:
                    new_offset = offset + rec_end
                    break
            else:
                if corrupt:
                    log.error("remote-write queue: corrupt record, skipping the rest of the segment",
                              extra={"segment": str(self._seg_path(seg)), "offset": new_offset})
                    new_offset = size
            if new_offset == offset:  # nothing whole to read (cannot happen: sizes count whole records)
                break
            offset = new_offset
        with self.lock:
            # a drop while reading may have moved the cursor past what was read
            self.cursor = max(self.cursor, (seg, offset))
            self._reads.extend(reads)
            return out, self.cursor

    def rewind(self) -> None:
        """Read again from the acknowledged position (after a failed send)."""
        with self.lock:
            self.cursor = self.acked
            self._reads.clear()

    def ack(self, position: tuple[int, int]) -> None:
        """Persist ``position`` (returned by :meth:`read`) as sent; delete the segments before it."""
        with self.lock:
            done = [r for r in self._reads if r[0] <= position]
            self._reads = [r for r in self._reads if r[0] > position]
            # records of a segment dropped meanwhile were already taken off as dropped
            self.pending_samples -= sum(count for _, seg, count in done if seg >= self.acked[0])
            if position <= self.acked:
                return
            self.acked = position
            for n in [n for n in self._sizes if n < position[0]]:
                self._delete(n)
            self._save_position()

    def _save_position(self) -> None:
        seg, offset = self.acked
        atomic_write(self.path / POSITION_FILE, json.dumps({"segment": seg, "offset": offset}))

    def close(self) -> None:
        self.sync()
        with self.lock:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
