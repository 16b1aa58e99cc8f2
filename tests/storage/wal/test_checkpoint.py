"""WAL checkpoints: live series only, old samples dropped, atomic, and replay of checkpoint + segments."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from tsdb.errors import CorruptionError, MaintenanceInterruptedError
from tsdb.labels import Labels
from tsdb.storage.interrupt import StopFlag
from tsdb.storage.wal import records
from tsdb.storage.wal.checkpoint import checkpoint_path, create_checkpoint, last_checkpoint, replay
from tsdb.storage.wal.reader import read_records
from tsdb.storage.wal.records import Record, SamplesRecord, SeriesRecord, TombstonesRecord
from tsdb.storage.wal.repair import RepairReport
from tsdb.storage.wal.segments import segment_path
from tsdb.storage.wal.writer import WAL

STALE = np.array([0x7FF0000000000002], dtype=np.uint64).view(np.float64)[0]

State = tuple[dict[int, Labels], set[tuple[int, int, int]], set[tuple[int, int, int]]]


def _labels(ref: int) -> Labels:
    return Labels({"__name__": "m", "ref": str(ref)})


def _state(recs: Iterable[Record]) -> State:
    """Series by ref, samples as (ref, ts, value bits), tombstones as (ref, mint, maxt)."""
    series: dict[int, Labels] = {}
    samples: set[tuple[int, int, int]] = set()
    tombs: set[tuple[int, int, int]] = set()
    for rec in recs:
        if isinstance(rec, SeriesRecord):
            series.update(zip(rec.refs.tolist(), rec.labels, strict=True))
        elif isinstance(rec, SamplesRecord):
            samples.update(zip(rec.refs.tolist(), rec.ts.tolist(), rec.values.view(np.uint64).tolist(), strict=True))
        elif isinstance(rec, TombstonesRecord):
            tombs.update(zip(rec.refs.tolist(), rec.mints.tolist(), rec.maxts.tolist(), strict=True))
    return series, samples, tombs


def _log_segment(wal: WAL, refs: list[int], ts0: int) -> None:
    """One segment: series records for ``refs``, 10 samples each from ``ts0``, a tombstone each."""
    wal.log(records.encode_series(refs, [_labels(r) for r in refs]))
    r = np.repeat(np.array(refs, dtype=np.int64), 10)
    ts = np.tile(np.arange(ts0, ts0 + 10, dtype=np.int64), len(refs))
    values = ts.astype(np.float64)
    values[::7] = STALE
    wal.log(records.encode_samples(r, ts, values))
    wal.log(records.encode_tombstones(refs, [ts0] * len(refs), [ts0 + 1] * len(refs)))
    wal.next_segment()


def _expected(recs: Iterable[Record], live: set[int], mint: int) -> State:
    series, samples, tombs = _state(recs)
    return ({r: lb for r, lb in series.items() if r in live},
            {s for s in samples if s[0] in live and s[1] >= mint},
            {t for t in tombs if t[0] in live and t[2] >= mint})


def test_checkpoint_keeps_live_series_and_new_samples(tmp_path: Path) -> None:
    wal = WAL.open(tmp_path, segment_size=64 * 1024, page_size=1024)
    for seg in range(4):
        _log_segment(wal, [seg * 10 + i for i in range(5)], ts0=seg * 100)
    wal.log(records.encode_samples(np.array([1]), np.array([999]), np.array([1.0])))
    full = _state(replay(tmp_path))
    live = {1, 3, 12, 24, 31}
    path = create_checkpoint(tmp_path, 0, 2, lambda ref: ref in live, mint=105)
    assert path == checkpoint_path(tmp_path, 2) and last_checkpoint(tmp_path) == (path, 2)
    in_checkpoint = _state(records.decode(r) for r in _read_checkpoint(path))
    from_segments = _expected(_records_of(tmp_path, 0, 2), live, 105)
    assert in_checkpoint == from_segments
    assert set(in_checkpoint[0]) == {1, 3, 12, 24}  # live series stay even without recent samples
    assert {s[0] for s in in_checkpoint[1]} == {12, 24} and min(s[1] for s in in_checkpoint[1]) == 105
    wal.truncate(3)
    # replay = checkpoint + segments 3.. (the head keeps the samples of segment 3+ for every series)
    replayed = _state(replay(tmp_path))
    later = _state(_records_of(tmp_path, 3, None))
    assert replayed[0] == {**in_checkpoint[0], **later[0]}
    assert replayed[1] == in_checkpoint[1] | later[1]
    assert replayed[2] == in_checkpoint[2] | later[2]
    assert replayed[1] <= full[1]
    wal.close()


def _read_checkpoint(path: Path) -> list[bytes]:
    return list(read_records(path))


def _records_of(wal_dir: Path, first: int, last: int | None) -> list[Record]:
    return [records.decode(r) for r in read_records(wal_dir, first, last)]


def test_second_checkpoint_folds_in_the_first_and_deletes_it(tmp_path: Path) -> None:
    wal = WAL.open(tmp_path, segment_size=64 * 1024, page_size=1024)
    for seg in range(6):
        _log_segment(wal, [seg, 100 + seg], ts0=seg * 100)
    live = {0, 1, 2, 3, 4, 5, 103}
    all_before = _records_of(tmp_path, 0, 4)
    create_checkpoint(tmp_path, 0, 1, lambda r: r in live, mint=50)
    wal.truncate(2)
    create_checkpoint(tmp_path, 2, 4, lambda r: r in live, mint=150)
    wal.truncate(5)
    assert not checkpoint_path(tmp_path, 1).exists()
    cp = last_checkpoint(tmp_path)
    assert cp is not None and cp[1] == 4
    got = _state(records.decode(r) for r in _read_checkpoint(cp[0]))
    assert got == _expected(all_before, live, 150)
    # a checkpoint at or before the last one is a no-op
    assert create_checkpoint(tmp_path, 0, 3, lambda r: True, mint=0) == cp[0]
    wal.close()


def test_leftover_tmp_is_ignored_and_removed(tmp_path: Path) -> None:
    wal = WAL.open(tmp_path, segment_size=64 * 1024, page_size=1024)
    _log_segment(wal, [1, 2], ts0=0)
    _log_segment(wal, [3], ts0=100)
    wal.close()
    tmp = tmp_path / "checkpoint.00000000.tmp"
    half = WAL.open(tmp, fsync="never")
    half.log(records.encode_series([9], [_labels(9)]))
    half.close()
    assert last_checkpoint(tmp_path) is None
    state = _state(replay(tmp_path))
    assert not tmp.exists()
    assert set(state[0]) == {1, 2, 3}
    (tmp_path / "checkpoint.00000001.tmp").mkdir()
    create_checkpoint(tmp_path, 0, 0, lambda r: r != 2, mint=0)
    assert not (tmp_path / "checkpoint.00000001.tmp").exists()
    assert set(_state(replay(tmp_path))[0]) == {1, 3}  # segment 0 is skipped, the checkpoint replaces it


def test_replay_reports_corruption_with_position(tmp_path: Path) -> None:
    wal = WAL.open(tmp_path, segment_size=64 * 1024, page_size=1024)
    wal.log(records.encode_series([1], [_labels(1)]), b"\x02garbage")
    wal.close()
    with pytest.raises(CorruptionError, match="malformed WAL record") as info:
        list(replay(tmp_path))
    assert info.value.path == str(segment_path(tmp_path, 0)) and info.value.offset is not None


def test_replay_repair_reports_dropped(tmp_path: Path) -> None:
    wal = WAL.open(tmp_path, segment_size=64 * 1024, page_size=1024)
    _log_segment(wal, [1], ts0=0)
    _log_segment(wal, [2], ts0=0)
    wal.close()
    with open(segment_path(tmp_path, 0), "r+b") as f:
        f.seek(30)
        f.write(b"\xff")
    with pytest.raises(CorruptionError):
        list(replay(tmp_path))
    reports: list[RepairReport] = []
    state = _state(replay(tmp_path, repair=True, reports=reports))
    assert state[0] == {} and reports and reports[0].segment == 0
    assert list(replay(tmp_path)) == []


def test_replay_of_empty_directory(tmp_path: Path) -> None:
    assert list(replay(tmp_path / "none")) == []


def test_gap_after_checkpoint_is_corruption(tmp_path: Path) -> None:
    wal = WAL.open(tmp_path, segment_size=64 * 1024, page_size=1024)
    for seg in range(4):
        _log_segment(wal, [seg], ts0=0)
    wal.close()
    create_checkpoint(tmp_path, 0, 1, lambda r: True, mint=0)
    segment_path(tmp_path, 2).unlink()
    with pytest.raises(CorruptionError, match="missing after checkpoint") as info:
        list(replay(tmp_path))
    assert info.value.path == str(segment_path(tmp_path, 2))


def test_stop_abandons_a_checkpoint_and_leaves_the_previous_one(tmp_path: Path) -> None:
    wal = WAL.open(tmp_path, segment_size=64 * 1024, page_size=1024)
    for seg in range(5):
        _log_segment(wal, [seg, 100 + seg], ts0=seg * 100)
    first = create_checkpoint(tmp_path, 0, 1, lambda r: True, mint=0)
    wal.truncate(2)
    before = _state(replay(tmp_path))
    stop = StopFlag()
    stop.set()
    with pytest.raises(MaintenanceInterruptedError, match=r"WAL checkpoint checkpoint\.00000003"):
        create_checkpoint(tmp_path, 2, 3, lambda r: True, mint=0, stop=stop)
    assert last_checkpoint(tmp_path) == (first, 1)
    assert not list(tmp_path.glob("*.tmp"))
    assert _state(replay(tmp_path)) == before
    wal.close()
