"""WAL checkpoints: a compacted copy of the WAL's older segments, and replay of checkpoint + segments.

A checkpoint ``checkpoint.<n>`` (``n`` = 8 digits, the last segment it covers) is a directory in the WAL
directory, itself in WAL format (see ``docs/format/wal.md``). It holds the series records of live series,
their samples with ``ts >= mint`` and their tombstones whose range reaches ``mint``, taken from the
previous checkpoint and segments ``[from_segment, n]``. It is written to ``checkpoint.<n>.tmp``, synced,
then atomically renamed; older checkpoints and leftover ``.tmp`` directories are then deleted.

Replay order: the last checkpoint ``n``, then the segments after ``n`` (:func:`replay`).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from tsdb.errors import CorruptionError, StorageError
from tsdb.storage.fileutil import fsync_dir
from tsdb.storage.interrupt import StopFlag, check_stop
from tsdb.storage.wal import records
from tsdb.storage.wal.reader import WALReader
from tsdb.storage.wal.records import Record, SamplesRecord, SeriesRecord, TombstonesRecord
from tsdb.storage.wal.repair import RepairReport
from tsdb.storage.wal.segments import list_segments, list_wal_dir, segment_path
from tsdb.storage.wal.writer import WAL

__all__ = ["create_checkpoint", "last_checkpoint", "remove_tmp_checkpoints", "replay"]

log = logging.getLogger(__name__)

_STOP_CHECK_RECORDS = 256
"""A checkpoint checks its stop flag every this many WAL records (a record holds up to a few thousand samples)."""

_CHECKPOINT = re.compile(r"^checkpoint\.(\d{8})$")
_CHECKPOINT_TMP = re.compile(r"^checkpoint\.\d{8}\.tmp$")
# fsync only when the checkpoint's WAL is closed (the whole directory is synced before the rename)
_SYNC_ON_CLOSE_ONLY = 1e9


def checkpoint_path(wal_dir: str | os.PathLike[str], index: int) -> Path:
    """The path of checkpoint ``index`` in ``wal_dir``."""
    return Path(wal_dir) / f"checkpoint.{index:08d}"


def _checkpoints(wal_dir: Path) -> list[tuple[int, Path]]:
    found = []
    for name in list_wal_dir(wal_dir):
        m = _CHECKPOINT.match(name)
        if m and (wal_dir / name).is_dir():
            found.append((int(m.group(1)), wal_dir / name))
    return sorted(found)


def last_checkpoint(wal_dir: str | os.PathLike[str]) -> tuple[Path, int] | None:
    """``(path, index)`` of the newest complete checkpoint in ``wal_dir``, or None (``.tmp`` ignored)."""
    found = _checkpoints(Path(wal_dir))
    if not found:
        return None
    index, path = found[-1]
    return path, index


def remove_tmp_checkpoints(wal_dir: str | os.PathLike[str]) -> list[Path]:
    """Delete leftover ``checkpoint.*.tmp`` directories (from a crash mid-checkpoint); returns them."""
    wal_dir = Path(wal_dir)
    removed = []
    try:
        names = os.listdir(wal_dir)
    except FileNotFoundError:
        return []
    for name in names:
        if _CHECKPOINT_TMP.match(name):
            path = wal_dir / name
            shutil.rmtree(path, ignore_errors=True)
            log.info("removed incomplete WAL checkpoint %s", path)
            removed.append(path)
    return removed



class _LiveFilter:
    """``keep_series`` memoised per ref, applied to whole arrays (one Python call per distinct ref)."""

    def __init__(self, keep_series: Callable[[int], bool]) -> None:
        self.keep_series = keep_series
        self.cache: dict[int, bool] = {}

    def mask(self, refs: np.ndarray) -> np.ndarray:
        uniq, inverse = np.unique(refs, return_inverse=True)
        keep = np.empty(uniq.shape[0], dtype=bool)
        for i, ref in enumerate(uniq.tolist()):
            live = self.cache.get(ref)
            if live is None:
                live = self.cache[ref] = bool(self.keep_series(ref))
            keep[i] = live
        return keep[inverse.reshape(-1)]


def _filter(record: Record, live: _LiveFilter, mint: int) -> bytes | None:
    """The re-encoded record restricted to live series (and samples/tombstones reaching ``mint``)."""
    if isinstance(record, SeriesRecord):
        if not record.labels:
            return None
        keep = live.mask(record.refs.astype(np.int64))
        if not keep.any():
            return None
        labels = [lb for lb, k in zip(record.labels, keep.tolist(), strict=True) if k]
        return records.encode_series(record.refs[keep], labels)
    if isinstance(record, SamplesRecord):
        if record.refs.shape[0] == 0:
            return None
        keep = (record.ts >= mint) & live.mask(record.refs)
        if not keep.any():
            return None
        return records.encode_samples(record.refs[keep], record.ts[keep], record.values[keep])
    if isinstance(record, TombstonesRecord):
        if record.refs.shape[0] == 0:
            return None
        keep = (record.maxts >= mint) & live.mask(record.refs.astype(np.int64))
        if not keep.any():
            return None
        return records.encode_tombstones(record.refs[keep], record.mints[keep], record.maxts[keep])
    raise TypeError(f"unknown record {type(record).__name__}")


def create_checkpoint(wal_dir: str | os.PathLike[str], from_segment: int, to_segment: int,
                      keep_series: Callable[[int], bool], mint: int, stop: StopFlag | None = None,
                      compression: str = "snappy") -> Path:
    """Write ``checkpoint.<to_segment>`` from the previous checkpoint and segments ``[from_segment, to_segment]``.

    Keeps series records of refs with ``keep_series(ref)`` true, their samples with ``ts >= mint`` and their
    tombstones with ``maxt >= mint``. Segments already covered by the previous checkpoint are skipped.
    Atomic: written to a ``.tmp`` directory, synced and renamed; then older checkpoints are deleted.
    The segments themselves are left alone (the caller truncates the WAL). Returns the checkpoint's path.
    A set ``stop`` abandons the work between records (``MaintenanceInterruptedError``, nothing left behind).
    ``compression`` is the WAL's (records are written as the WAL writes them).
    """
    wal_dir = Path(wal_dir)
    remove_tmp_checkpoints(wal_dir)
    previous = last_checkpoint(wal_dir)
    sources: list[WALReader] = []
    start = from_segment
    if previous is not None and previous[1] < to_segment:
        sources.append(WALReader(previous[0], cut_tail=False, allow_torn_tail=False))
        start = max(start, previous[1] + 1)
    elif previous is not None:
        log.info("checkpoint %s already covers segment %d", previous[0], to_segment)
        return previous[0]
    if start <= to_segment:
        # the segments being checkpointed are complete (the writer is past them): never cut them
        sources.append(WALReader(wal_dir, start, to_segment, cut_tail=False, allow_torn_tail=False))
    final = checkpoint_path(wal_dir, to_segment)
    tmp = final.with_name(final.name + ".tmp")
    live = _LiveFilter(keep_series)
    try:
        writer = WAL.open(tmp, fsync=_SYNC_ON_CLOSE_ONLY, compression=compression)
        try:
            for reader in sources:
                for n, raw in enumerate(reader):
                    if n % _STOP_CHECK_RECORDS == 0:
                        check_stop(stop, f"WAL checkpoint {final.name}")
                    encoded = _filter(records.decode(raw), live, mint)
                    if encoded is not None:
                        writer.log(encoded)
        finally:
            writer.close()
        fsync_dir(tmp)
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
        fsync_dir(wal_dir)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StorageError(f"cannot write WAL checkpoint {final}: {err}") from err
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for index, path in _checkpoints(wal_dir):
        if index < to_segment:
            shutil.rmtree(path, ignore_errors=True)
    log.info("WAL checkpoint %s written (segments %d..%d)", final, from_segment, to_segment)
    return final


def replay(wal_dir: str | os.PathLike[str], *, repair: bool = False,
           reports: list[RepairReport] | None = None) -> Iterator[Record]:
    """Decoded records in replay order: the last checkpoint, then the WAL segments after it.

    Leftover ``.tmp`` checkpoints are removed first. A torn tail of the last segment is cut; corruption
    raises :class:`CorruptionError` unless ``repair`` (then what was dropped is appended to ``reports``).
    A corrupt checkpoint always raises (it was complete and synced when renamed into place).
    """
    wal_dir = Path(wal_dir)
    remove_tmp_checkpoints(wal_dir)
    checkpoint = last_checkpoint(wal_dir)
    start = None
    if checkpoint is not None:
        path, index = checkpoint
        start = index + 1
        later = [i for i in list_segments(wal_dir) if i > index]
        if later and later[0] != start:
            raise CorruptionError(f"WAL segment missing after checkpoint {path.name}",
                                  path=str(segment_path(wal_dir, start)), offset=0)
        yield from _decoded(WALReader(path, cut_tail=False, allow_torn_tail=False))
    reader = WALReader(wal_dir, start, repair=repair)
    yield from _decoded(reader)
    if reports is not None:
        reports.extend(reader.repairs)


def _decoded(reader: WALReader) -> Iterator[Record]:
    for raw in reader:
        try:
            yield records.decode(raw)
        except CorruptionError as err:
            path = segment_path(reader.wal_dir, reader.segment)
            raise CorruptionError(f"malformed WAL record: {err}", path=str(path), offset=reader.offset) from err
