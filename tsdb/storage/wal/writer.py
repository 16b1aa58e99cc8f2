"""Writing the WAL: :class:`WAL` appends records to numbered segment files of checksummed fragments.

Layout (``docs/format/wal.md``): a directory of segment files ``00000000``, ``00000001``, ... each at
most ``segment_size`` bytes, made of ``page_size`` (32 KiB) pages. A record is split into fragments that
never cross a page boundary; a record never crosses a segment boundary (a record must fit in one
segment). The format follows Prometheus's ``wlog``; with ``compression="snappy"`` (the default, as
Prometheus's ``--storage.tsdb.wal-compression``) each record is snappy-compressed when that makes it
shorter, and its fragments carry the snappy flag.

``log(*records)`` writes the batch with one ``write`` call per segment touched, then syncs per policy
and returns only when the batch is durable per that policy. After reopening, writes continue in a fresh
segment (as Prometheus does), after the previous last segment had its torn tail cut (see
:mod:`~tsdb.storage.wal.repair`). A failed write (ENOSPC, EIO) raises :class:`StorageError` after
cutting the segment back to the end of the last good record; if even that fails, the next ``log``
starts a new segment, so the half record can only ever show up as corruption, never as valid data.
Reading is :mod:`~tsdb.storage.wal.reader`.

Thread-safety: a :class:`WAL` may be used from several threads (``log`` is serialised by a lock). Only
one process may write a WAL directory; readers with ``repair``/tail cutting must run before a writer opens.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
import time
from pathlib import Path

from tsdb.errors import InvalidArgumentError, StorageError
from tsdb.storage.crc import crc32c
from tsdb.storage.fileutil import fsync_dir
from tsdb.storage.wal.records_kernels import (
    FRAG_FIRST,
    FRAG_FULL,
    FRAG_LAST,
    FRAG_MIDDLE,
    HEADER_SIZE,
    SNAPPY_FLAG,
)
from tsdb.storage.wal.repair import check_segment
from tsdb.storage.wal.segments import (
    DEFAULT_PAGE_SIZE,
    DEFAULT_SEGMENT_SIZE,
    WAL_COMPRESSIONS,
    compress_record,
    list_segments,
    parse_segment,
    segment_path,
)

__all__ = ["WAL", "FsyncPolicy"]

log = logging.getLogger(__name__)


FsyncPolicy = bool | str | float
Frame = tuple[bytes, int]
"""A record as written: its (possibly compressed) bytes and the flag bits of its fragments' type byte."""


def _parse_fsync(policy: FsyncPolicy) -> float | None:
    """``None`` = never, ``0.0`` = always, ``x > 0`` = at most every ``x`` seconds."""
    if policy is True or policy == "always":
        return 0.0
    if policy is False or policy == "never":
        return None
    if isinstance(policy, int | float) and not isinstance(policy, bool) and policy > 0:
        return float(policy)
    raise InvalidArgumentError(f"invalid WAL fsync policy {policy!r}: use 'always', 'never' or seconds > 0")


class WAL:
    """A WAL directory opened for appending. Create with :meth:`open`.

    ``fsync``: ``"always"``/True (default: fsync before ``log`` returns), ``"never"``/False (the OS
    decides), or a number of seconds ``x`` (``log`` fsyncs when the last fsync is older than ``x``;
    :meth:`sync` and :meth:`close` always fsync). ``compression``: ``"snappy"`` or ``"none"``.
    """

    def __init__(self, wal_dir: Path, segment_size: int, page_size: int, fsync_every: float | None,
                 segment: int, compression: str = "snappy") -> None:
        self.dir = wal_dir
        self.compress = compression == "snappy"
        self.segment_size = segment_size
        self.page_size = page_size
        self._fsync_every = fsync_every
        self._lock = threading.Lock()
        self._fd = -1
        self._segment = segment
        self._pos = 0  # bytes in the current segment (= its good length)
        self._need_new_segment = False
        self._last_sync = time.monotonic()
        self._closed = False
        # Group commit (policy "always"): ``log(..., sync=False)`` returns a ticket (bytes written by this
        # WAL so far, a logical sequence number); ``sync_to(ticket)`` returns once one fdatasync that
        # started after the ticket's write succeeded, so concurrent commits share one fdatasync.
        self._lsn = 0
        self._durable_pos = 0  # offset in the current segment up to which data is known durable
        self._sync_cond = threading.Condition()
        self._synced_lsn = 0
        self._failed_lsn = 0
        self._sync_error = ""
        self._syncing = False
        self._closed_bytes = sum(segment_path(wal_dir, i).stat().st_size for i in list_segments(wal_dir)
                                 if i < segment)
        self._create_segment(segment)

    @classmethod
    def open(cls, wal_dir: str | os.PathLike[str], *, segment_size: int = DEFAULT_SEGMENT_SIZE,
             page_size: int = DEFAULT_PAGE_SIZE, fsync: FsyncPolicy = "always", repair: bool = False,
             compression: str = "snappy") -> WAL:
        """Open (creating if needed) ``wal_dir`` for appending; writes go to a new segment after the last.

        The last existing segment is checked: a torn tail is cut (and logged); corruption raises
        :class:`CorruptionError` unless ``repair``. Earlier segments are checked by replay, not here.
        """
        if page_size < HEADER_SIZE + 1 or page_size > 65535 + HEADER_SIZE:
            raise InvalidArgumentError(f"WAL page size {page_size} must be in [8, {65535 + HEADER_SIZE}]")
        if segment_size < page_size or segment_size % page_size:
            raise InvalidArgumentError(
                f"WAL segment size {segment_size} must be a positive multiple of the page size {page_size}")
        every = _parse_fsync(fsync)
        if compression not in WAL_COMPRESSIONS:
            raise InvalidArgumentError(f"invalid WAL compression {compression!r}: use {' or '.join(WAL_COMPRESSIONS)}")
        path = Path(wal_dir)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StorageError(f"cannot create WAL directory {path}: {err}") from err
        segments = list_segments(path)
        if segments:
            last = segments[-1]
            parsed = parse_segment(segment_path(path, last), page_size)
            check_segment(path, last, parsed, True, repair, True)
        return cls(path, segment_size, page_size, every, segments[-1] + 1 if segments else 0, compression)

    # -- segments ---------------------------------------------------------------------------------
    def _create_segment(self, index: int) -> None:
        path = segment_path(self.dir, index)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            if self._fsync_every is not None:
                fsync_dir(self.dir)
        except OSError as err:
            raise StorageError(f"cannot create WAL segment {path}: {err}") from err
        self._fd, self._segment, self._pos = fd, index, 0
        self._durable_pos = 0
        self._need_new_segment = False

    def _finish_segment(self) -> None:
        """fsync (unless policy never) and close the current segment."""
        if self._fd < 0:
            return
        try:
            if self._fsync_every is not None:
                os.fsync(self._fd)
        except OSError as err:
            message = f"cannot sync WAL segment {segment_path(self.dir, self._segment)}: {err}"
            with self._sync_cond:
                self._failed_lsn, self._sync_error = max(self._failed_lsn, self._lsn), message
            raise StorageError(message) from err
        finally:
            os.close(self._fd)
            self._fd = -1
        self._closed_bytes += self._pos
        if self._fsync_every is not None:
            self._mark_synced(self._lsn)

    def _cut(self) -> None:
        try:
            self._finish_segment()
            self._create_segment(self._segment + 1)
        except StorageError:
            self._need_new_segment = True  # the next log() retries; nothing is written to a closed segment
            raise

    def next_segment(self) -> int:
        """Close the current segment and start a new one; returns the new segment's index."""
        with self._lock:
            self._check_open()
            self._cut()
            return self._segment

    def segments(self) -> tuple[int, int]:
        """``(first, last)`` segment indices present in the directory (last = the one being written)."""
        found = list_segments(self.dir)
        return (found[0], found[-1]) if found else (self._segment, self._segment)

    @property
    def current_segment(self) -> int:
        """Index of the segment being written."""
        return self._segment

    @property
    def size_bytes(self) -> int:
        """Bytes in the WAL's segments (closed ones plus the good part of the current one)."""
        return self._closed_bytes + self._pos

    def truncate(self, before_segment: int) -> None:
        """Delete the segments with an index below ``before_segment`` (never the current one)."""
        with self._lock:
            if before_segment > self._segment:
                raise InvalidArgumentError(
                    f"cannot truncate WAL before segment {before_segment}: segment {self._segment} is current")
            for index in list_segments(self.dir):
                if index >= before_segment:
                    break
                path = segment_path(self.dir, index)
                try:
                    size = path.stat().st_size
                    path.unlink()
                except OSError as err:
                    raise StorageError(f"cannot delete WAL segment {path}: {err}") from err
                self._closed_bytes = max(0, self._closed_bytes - size)

    # -- writing ----------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise InvalidArgumentError(f"WAL {self.dir} is closed")

    def _frame(self, record: bytes) -> Frame:
        if not self.compress:
            return record, 0
        data, packed = compress_record(record)
        return data, SNAPPY_FLAG if packed else 0

    def _encode(self, frame: Frame, pos: int, out: bytearray) -> int:
        """Append ``frame``'s fragments (and any page padding) to ``out`` as if at segment offset ``pos``."""
        page = self.page_size
        record, flag = frame
        view = memoryview(record)
        first = True
        while True:
            rem = page - pos % page
            if rem < HEADER_SIZE + 1:
                out += bytes(rem)  # pad: a fragment needs a header and a byte
                pos += rem
                rem = page
            chunk = view[: rem - HEADER_SIZE]
            view = view[len(chunk):]
            last = len(view) == 0
            kind = (FRAG_FULL if last else FRAG_FIRST) if first else (FRAG_LAST if last else FRAG_MIDDLE)
            out.append(kind | flag)
            out += len(chunk).to_bytes(2, "big")
            out += crc32c(chunk).to_bytes(4, "big")
            out += chunk
            pos += HEADER_SIZE + len(chunk)
            first = False
            if last:
                return pos

    def _write_all(self, data: bytearray) -> None:
        view = memoryview(data)
        written = 0
        while written < len(view):
            n = os.write(self._fd, view[written:])
            if n <= 0:
                raise OSError(errno.EIO, "short write")
            written += n

    def _flush_batch(self, data: bytearray, end: int) -> None:
        """Write ``data`` at the current position; on failure cut back and raise StorageError."""
        path = segment_path(self.dir, self._segment)
        try:
            self._write_all(data)
        except OSError as err:
            try:
                os.ftruncate(self._fd, self._pos)
                os.lseek(self._fd, self._pos, os.SEEK_SET)
            except OSError:
                log.error("WAL segment %s: cannot cut failed write back to %d; next write starts a new segment",
                          path, self._pos)
                self._need_new_segment = True
            raise StorageError(f"WAL write to {path} at offset {self._pos} failed: {err}") from err
        self._pos = end
        self._lsn += len(data)

    def log(self, *records: bytes, sync: bool = True) -> int:
        """Append ``records`` as one batch; returns when durable per the fsync policy.

        With ``sync=False`` and the policy "always", returns after the write(2) without fsync: the caller
        must call :meth:`sync_to` with the returned ticket before acknowledging (group commit).

        A record must fit in one segment. The batch goes to the current segment, or to a new one if it
        does not fit (only a batch larger than a segment spans segments, at record boundaries). A crash
        during ``log`` may leave a prefix of the batch's records (each whole or absent); nothing was
        acknowledged. Raises :class:`StorageError` on I/O failure, after removing the batch from the
        segment (write or sync failure), so replay does not see an unacknowledged batch (except the
        earlier segments' part of a batch larger than a segment). The WAL stays consistent and usable.
        Records are compressed before the lock is taken, so concurrent writers compress in parallel.
        """
        if any(not record for record in records):
            # a lost type byte could turn an empty FULL fragment into page padding unnoticed
            raise InvalidArgumentError("empty WAL record: every record starts with its type byte")
        frames = tuple(self._frame(record) for record in records)
        with self._lock:
            self._check_open()
            if self._need_new_segment:
                with contextlib.suppress(StorageError):  # its tail is garbage anyway; replay reports it
                    self._finish_segment()
                self._create_segment(self._segment + 1)
            capacity = self.segment_size
            payload = self.page_size - HEADER_SIZE
            for record, _ in frames:
                pages = max(1, -(-len(record) // payload))
                if (pages - 1) * self.page_size + HEADER_SIZE + len(record) - (pages - 1) * payload > capacity:
                    raise InvalidArgumentError(
                        f"WAL record of {len(record)} bytes does not fit in a {capacity}-byte segment")
            out = bytearray()
            end = self._pos
            for frame in frames:
                end = self._encode(frame, end, out)
            if end > capacity and self._pos > 0:
                # start a fresh segment so the batch stays in one segment (and one write)
                self._cut()
                out = bytearray()
                end = 0
                for frame in frames:
                    end = self._encode(frame, end, out)
            deferred = not sync and self._fsync_every == 0.0
            if end <= capacity:
                start = self._pos
                self._flush_batch(out, end)
                if not deferred:
                    try:
                        self._maybe_sync()
                    except StorageError:
                        self._rollback(start)
                        raise
                return self._lsn
            self._log_spanning(frames)
            if not deferred:
                self._maybe_sync()
            return self._lsn

    def sync_to(self, ticket: int) -> None:
        """Return once the batch that returned ``ticket`` is durable (policy "always"; else at once).

        One caller at a time runs fdatasync for everything written so far; others wait for it and return
        if it covered their ticket. If fdatasync fails, the segment is cut back to its durable length and
        every ticket written until then raises :class:`StorageError` (none of those batches is replayed).
        """
        if self._fsync_every != 0.0:
            return
        while True:
            with self._sync_cond:
                while True:
                    if ticket <= self._synced_lsn:
                        return
                    if ticket <= self._failed_lsn:
                        raise StorageError(self._sync_error)
                    if not self._syncing:
                        self._syncing = True
                        break
                    self._sync_cond.wait()
            try:
                self._lead_sync()  # resolves every ticket written before it started: synced or failed
            finally:
                with self._sync_cond:
                    self._syncing = False
                    self._sync_cond.notify_all()

    def _lead_sync(self) -> None:
        """fdatasync a duplicate of the current segment's descriptor without holding the write lock."""
        with self._lock:
            self._check_open()
            target, segment, pos = self._lsn, self._segment, self._pos
            fd = os.dup(self._fd)
        try:
            os.fdatasync(fd)
        except OSError as err:
            with self._lock:
                if self._segment != segment:
                    return  # the segment was closed meanwhile: its closing fsync decided, synced or failed
                message = (f"cannot sync WAL segment {segment_path(self.dir, segment)}: {err}; "
                           f"cut back to offset {self._durable_pos}")
                self._rollback(self._durable_pos)
                with self._sync_cond:
                    self._failed_lsn, self._sync_error = max(self._failed_lsn, self._lsn), message
                log.error(message)
                return
        finally:
            os.close(fd)
        with self._lock:
            if self._segment == segment:
                self._durable_pos = max(self._durable_pos, pos)
        self._mark_synced(target)

    def _mark_synced(self, lsn: int) -> None:
        with self._sync_cond:
            self._synced_lsn = max(self._synced_lsn, lsn)
            self._sync_cond.notify_all()

    def _rollback(self, start: int) -> None:
        """Cut the current segment back to ``start`` after a failed sync: the batch was not acknowledged."""
        try:
            os.ftruncate(self._fd, start)
            os.lseek(self._fd, start, os.SEEK_SET)
            self._pos = start
        except OSError:
            self._need_new_segment = True

    def _log_spanning(self, frames: tuple[Frame, ...]) -> None:
        """Write a batch larger than a segment, cutting segments at record boundaries."""
        out = bytearray()
        pos = self._pos
        for frame in frames:
            encoded = bytearray()
            end = self._encode(frame, pos, encoded)
            if end > self.segment_size:
                encoded = bytearray()
                if out:
                    self._flush_batch(out, pos)
                    out = bytearray()
                self._cut()
                end = self._encode(frame, 0, encoded)
            out += encoded
            pos = end
        if out:
            self._flush_batch(out, pos)

    def _maybe_sync(self) -> None:
        every = self._fsync_every
        if every is None:
            return
        now = time.monotonic()
        if every == 0.0 or now - self._last_sync >= every:
            self._sync()
            self._last_sync = now

    def _sync(self) -> None:
        try:
            os.fdatasync(self._fd)
        except OSError as err:
            raise StorageError(f"cannot sync WAL segment {segment_path(self.dir, self._segment)}: {err}") from err
        self._durable_pos = self._pos
        self._mark_synced(self._lsn)

    def sync(self) -> None:
        """fsync the current segment now (whatever the policy)."""
        with self._lock:
            self._check_open()
            self._sync()
            self._last_sync = time.monotonic()

    def close(self) -> None:
        """Sync (unless policy never) and close. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._finish_segment()

    def __enter__(self) -> WAL:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
