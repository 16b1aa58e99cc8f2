"""The DB under faults: a full disk, a corrupt chunk or index in a block (the block is quarantined), WAL
corruption (middle and torn tail), and a block write interrupted by a crash. Every acknowledged commit must
survive; corruption is reported naming where it is, never skipped silently."""

from __future__ import annotations

import errno
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.storage.disk_full import file_size_limit
from tests.storage.dump import dump
from tsdb.config import StorageOptions
from tsdb.errors import CorruptionError, StorageError
from tsdb.labels import Labels, Matcher
from tsdb.storage.block.reader import Block
from tsdb.storage.db import DB
from tsdb.storage.ulid import new_ulid
from tsdb.storage.wal import records
from tsdb.storage.wal.reader import WALReader
from tsdb.storage.wal.segments import list_segments, segment_path

SMALL = StorageOptions(block_range_ms=10_000, retention_ms=10**12, wal_segment_bytes=64 << 10)
Dump = dict[Labels, list[tuple[int, int]]]


def _series(i: int) -> Labels:
    return Labels({"__name__": "faults", "instance": f"host-{i:04d}", "job": "node"})


def _dump(db: DB, mint: int = -(2**62), maxt: int = 2**62) -> Dump:
    return dump(db, [Matcher("=", "__name__", "faults")], mint, maxt)


class Model:
    """The acknowledged samples: what the DB must serve."""

    def __init__(self) -> None:
        self.data: Dump = {}

    def commit(self, db: DB, n_series: int, t: int, per_series: int = 1) -> None:
        """One commit of ``n_series`` series x ``per_series`` samples from ``t`` (1 s apart); recorded
        in the model only if ``commit`` returns."""
        app = db.appender()
        batch = {}
        for i in range(n_series):
            ts = np.arange(t, t + per_series * 1000, 1000, dtype=np.int64)
            values = np.sin(ts / 7e3) * (i + 1) + 0.125
            app.append(_series(i), ts, values)
            batch[_series(i)] = list(zip(ts.tolist(), values.view(np.uint64).tolist(), strict=True))
        result = app.commit()
        assert result.accepted == n_series * per_series, result.summary()
        for labels, pts in batch.items():
            self.data.setdefault(labels, []).extend(pts)


# -- disk full ------------------------------------------------------------------------------------
def _fill_until_error(db: DB, model: Model, limit: int = 5000) -> StorageError:
    for k in range(limit):
        try:
            model.commit(db, 50, 1_000_000 + k * 10_000, per_series=5)
        except StorageError as err:
            return err
    raise AssertionError(f"{limit} commits fitted into a tiny file system")


def test_disk_full_keeps_acknowledged_commits_and_recovers(tmp_path: Path) -> None:
    """Real failing writes (EFBIG past a RLIMIT_FSIZE of 40 KiB with 64 KiB WAL segments, as ENOSPC on a
    full disk; no privileges needed), then the space returns."""
    data = tmp_path / "data"
    options = StorageOptions(block_range_ms=10**9, retention_ms=10**12, wal_segment_bytes=64 << 10)
    model = Model()
    db = DB.open(data, options)
    try:
        model.commit(db, 50, 500_000, per_series=5)  # warm up (kernels compiled) before the window
        with file_size_limit(40 << 10):
            err = _fill_until_error(db, model)
            assert "wal" in str(err).lower()
            assert len(model.data) == 50 and all(len(points) > 5 for points in model.data.values()), \
                "some commits must have fitted"
            assert _dump(db) == model.data, "a failed commit must not be visible, earlier ones must be"
            with pytest.raises(StorageError):  # still full
                model.commit(db, 50, 900_000_000, per_series=5)
            assert _dump(db) == model.data
    finally:
        db.close()
    with DB.open(data, options) as db:
        assert _dump(db) == model.data
        model.commit(db, 50, 990_000_000, per_series=5)
        model.commit(db, 60, 990_010_000)  # new series too
        assert _dump(db) == model.data
    with DB.open(data, options) as db:
        assert _dump(db) == model.data


def test_enospc_from_write_fails_the_commit_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = Model()
    with DB.open(tmp_path, SMALL) as db:
        model.commit(db, 20, 0)
        real_write = os.write

        def full(fd: int, data: bytes | memoryview) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(os, "write", full)
        with pytest.raises(StorageError, match="No space left"):
            model.commit(db, 25, 1000)  # 5 new series and samples: nothing of it applies
        monkeypatch.setattr(os, "write", real_write)
        assert _dump(db) == model.data
        assert _series(22) not in _dump(db)
        model.commit(db, 25, 2000)
        assert _dump(db) == model.data
    with DB.open(tmp_path, SMALL) as db:
        assert _dump(db) == model.data


# -- a corrupt chunk in a block -------------------------------------------------------------------
def _read_uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def _corrupt_chunk(block_dir: Path, victim: Labels) -> None:
    """Flip the first CRC byte of ``victim``'s first chunk in the block at ``block_dir``."""
    with Block.open(block_dir) as blk:
        index = blk.index()
        ref = next(r for r in index.all_postings().tolist() if index.series(r)[0] == victim)
        chunk_ref = int(index.series(ref)[1][2][0])
    segment = block_dir / "chunks" / f"{(chunk_ref >> 32) + 1:06d}"
    raw = bytearray(segment.read_bytes())
    length, body = _read_uvarint(bytes(raw), chunk_ref & 0xFFFFFFFF)
    raw[body + 1 + length] ^= 0xFF  # the first byte of the chunk's CRC
    segment.write_bytes(bytes(raw))


def _corrupt_index(block_dir: Path, section: str) -> None:
    """Flip a byte inside the index's ``series`` section (the first series) or ``postings`` section (the list of
    ``__name__="faults"``); the TOC and the tables read at open stay intact, so the block opens and the damage
    is found when read."""
    with Block.open(block_dir) as blk:
        index = blk.index()
        first_series = int(index.all_postings()[0]) * 16  # series entries are 16-byte aligned, ref = offset / 16
        values, offsets = index._postings_offsets["__name__"]  # where the postings list of each name starts
        name_postings = offsets[values.index("faults")]
    at = first_series + 3 if section == "series" else name_postings + 9  # in its labels / in its refs
    path = block_dir / "index"
    raw = bytearray(path.read_bytes())
    raw[at] ^= 0x5A
    path.write_bytes(bytes(raw))


def _samples_of(db: DB, labels: Labels, mint: int, maxt: int) -> list[tuple[int, int]]:
    querier = db.querier(mint, maxt)
    try:
        got = [s.samples() for s in querier.select([Matcher("=", "instance", labels["instance"])])]
    finally:
        querier.close()
    return [p for ts, vs in got for p in zip(ts.tolist(), vs.view(np.uint64).tolist(), strict=True)]


def _blocks_written(path: Path) -> tuple[Model, list[tuple[str, int, int]]]:
    """Several blocks of 4 series (and a head); returns the model and (ULID, mint, maxt) of every block."""
    model = Model()
    with DB.open(path, SMALL) as db:
        for t in range(0, 60_000, 5000):
            model.commit(db, 4, t, per_series=5)
        db.maintain()
        assert len(db.blocks) >= 2
        return model, [(b.ulid, b.meta.mint, b.meta.maxt) for b in db.blocks]


def _check_quarantined(db: DB, path: Path, ulid: str, model: Model, bad_range: tuple[int, int]) -> None:
    """``ulid`` is under quarantine/, counted and not served; every sample outside its range is served."""
    assert db.quarantined == [ulid]
    assert ulid not in [b.ulid for b in db.blocks]
    assert (path / "quarantine" / ulid).is_dir() and not (path / ulid).exists()
    for labels, points in model.data.items():  # (the head may hold samples of the range again: served too)
        assert _samples_of(db, labels, -(2**62), 2**62) == [
            p for p in points if not bad_range[0] <= p[0] <= bad_range[1] or p[0] >= db.head.min_time]


def _quarantine_logged(caplog: pytest.LogCaptureFixture, ulid: str) -> bool:
    return any(r.getMessage() == "block quarantined" and getattr(r, "block", "") == ulid
               and getattr(r, "found_at", "") == "read" and getattr(r, "error", "") for r in caplog.records)


def test_corrupt_chunk_fails_the_query_naming_block_and_series_then_quarantines_the_block(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The query that reads the bad chunk fails (never a silently partial answer); the block is taken out of
    service, moved to quarantine/, logged and counted, and the next query answers from the other blocks."""
    model, blocks = _blocks_written(tmp_path)
    ulid, mint, maxt = blocks[0]
    victim = _series(2)
    _corrupt_chunk(tmp_path / ulid, victim)

    with caplog.at_level("ERROR", logger="tsdb.db"), DB.open(tmp_path, SMALL) as db:
        assert db.quarantined == [] and len(db.blocks) == len(blocks)  # found only when read
        querier = db.querier(mint, maxt)
        try:
            with pytest.raises(CorruptionError) as info:
                for s in querier.select([Matcher("=", "instance", victim["instance"])]):
                    s.samples()
        finally:
            querier.close()
        message = str(info.value)
        assert ulid in message and "checksum" in message and "quarantined" in message
        assert victim["instance"] in message, f"the series is not named: {message}"
        assert _quarantine_logged(caplog, ulid)
        _check_quarantined(db, tmp_path, ulid, model, (mint, maxt))
        assert _samples_of(db, _series(0), mint, maxt) == [p for p in model.data[_series(0)]
                                                           if mint <= p[0] <= maxt and p[0] >= db.head.min_time]
    with DB.open(tmp_path, SMALL) as db:  # a later start serves the other blocks, and does not count it again
        assert db.quarantined == [] and len(db.blocks) == len(blocks) - 1


def test_a_querier_open_on_the_block_keeps_reading_it_while_it_is_quarantined(tmp_path: Path) -> None:
    """Readers already holding the block are not disturbed: other series still read; files go when they close."""
    model, blocks = _blocks_written(tmp_path)
    ulid, mint, maxt = blocks[0]
    _corrupt_chunk(tmp_path / ulid, _series(2))
    with DB.open(tmp_path, SMALL) as db:
        block = next(b for b in db.blocks if b.ulid == ulid)
        early = db.querier(mint, maxt)  # holds the block
        try:
            with pytest.raises(CorruptionError):
                _samples_of(db, _series(2), mint, maxt)
            assert db.quarantined == [ulid] and not block.released
            got = {s.labels: s.samples() for s in early.select([Matcher("=", "instance", _series(1)["instance"])])}
            ts, values = got[_series(1)]
            assert list(zip(ts.tolist(), values.view(np.uint64).tolist(), strict=True)) == [
                p for p in model.data[_series(1)] if mint <= p[0] <= maxt]
        finally:
            early.close()
        assert block.released


def test_quarantine_under_concurrent_queries_and_maintenance(tmp_path: Path) -> None:
    """Queries on four threads and maintenance on a fifth meet the corrupt block: a query either fails naming
    the block or answers exactly the data of the other blocks; nothing else goes wrong, and the block is
    quarantined once."""
    model, blocks = _blocks_written(tmp_path)
    ulid, mint, maxt = blocks[0]
    _corrupt_chunk(tmp_path / ulid, _series(2))
    failures: list[BaseException] = []
    answers: list[Dump] = []
    with DB.open(tmp_path, SMALL) as db:
        def query() -> None:
            for _ in range(30):
                try:
                    answers.append(_dump(db))
                except CorruptionError as err:
                    if ulid not in str(err):
                        failures.append(err)
                except BaseException as err:  # anything else is a failure of the swap
                    failures.append(err)

        def maintain() -> None:
            for _ in range(5):
                report = db.maintain()
                if not report.ok:
                    failures.append(AssertionError(f"maintenance failed: {report.failed}"))

        threads = [threading.Thread(target=query) for _ in range(4)] + [threading.Thread(target=maintain)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not failures, failures[:3]
        assert db.quarantined == [ulid]
        want = {labels: [p for p in points if not mint <= p[0] <= maxt] for labels, points in model.data.items()}
        assert answers and all(answer == want for answer in answers)
        _check_quarantined(db, tmp_path, ulid, model, (mint, maxt))


@pytest.mark.parametrize("section", ["series", "postings"])
def test_corrupt_index_section_quarantines_the_block_at_first_read(
        tmp_path: Path, section: str, caplog: pytest.LogCaptureFixture) -> None:
    model, blocks = _blocks_written(tmp_path)
    ulid, mint, maxt = blocks[0]
    _corrupt_index(tmp_path / ulid, section)
    with caplog.at_level("ERROR", logger="tsdb.db"), DB.open(tmp_path, SMALL) as db:
        querier = db.querier(mint, maxt)
        try:
            with pytest.raises(CorruptionError) as info:
                for s in querier.select([Matcher("=", "__name__", "faults")]):
                    s.samples()
        finally:
            querier.close()
        assert ulid in str(info.value) and "index" in str(info.value) and "quarantined" in str(info.value)
        assert _quarantine_logged(caplog, ulid)
        _check_quarantined(db, tmp_path, ulid, model, (mint, maxt))


def test_compaction_that_reads_a_corrupt_block_quarantines_it_and_carries_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model = Model()
    with DB.open(tmp_path, SMALL) as db:
        for t in range(0, 100_000, 5000):  # two level-2 blocks and three level-1 blocks, not yet merged
            model.commit(db, 4, t, per_series=5)
            db.maintain()
        spans = [(b.ulid, b.meta.mint, b.meta.maxt, b.meta.level) for b in db.blocks]
    ulid, mint, maxt, level = next(s for s in spans if s[1] == 60_000)
    assert level == 1 and len(spans) == 5, spans
    _corrupt_chunk(tmp_path / ulid, _series(0))
    with caplog.at_level("ERROR", logger="tsdb.db"), DB.open(tmp_path, SMALL) as db:
        model.commit(db, 4, 100_000, per_series=5)
        model.commit(db, 4, 105_000, per_series=5)
        report = db.maintain()
        assert report.ok, report.failed
        assert _quarantine_logged(caplog, ulid)
        assert max(b.meta.level for b in db.blocks) >= 3, "the other blocks were still merged"
        assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")], "a partial block was kept"
        _check_quarantined(db, tmp_path, ulid, model, (mint, maxt))
        assert db.maintenance_failures["compaction"] == 0 and db.compactions_failed == 0


@pytest.mark.parametrize("damage", ["meta", "index"])
def test_a_block_that_cannot_be_opened_is_quarantined_and_the_rest_served(
        tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture) -> None:
    model = Model()
    with DB.open(tmp_path, SMALL) as db:
        for t in range(0, 200_000, 5000):
            model.commit(db, 4, t, per_series=5)
        db.maintain()
        assert len(db.blocks) >= 2
        bad, good = db.blocks[0], db.blocks[1:]
        bad_dir, good_ranges = bad.dir, [(b.meta.mint, b.meta.maxt) for b in good]
    if damage == "meta":
        (bad_dir / "meta.json").write_text("{not json")
    else:
        (bad_dir / "index").unlink()

    with caplog.at_level("ERROR", logger="tsdb.db"), DB.open(tmp_path, SMALL) as db:
        assert db.quarantined == [bad_dir.name]
        assert bad_dir.name not in [b.dir.name for b in db.blocks]
        assert (tmp_path / "quarantine" / bad_dir.name).is_dir() and not bad_dir.exists()
        for mint, maxt in good_ranges:  # every other block still answers, sample for sample
            querier = db.querier(mint, maxt)
            try:
                got = {s.labels: s.samples() for s in querier.select([Matcher("=~", "instance", ".+")])}
            finally:
                querier.close()
            for labels, points in model.data.items():
                want = [p for p in points if mint <= p[0] <= maxt]
                have = got.get(labels)
                pairs = list(zip(have[0].tolist(), have[1].view(np.uint64).tolist(), strict=True)) if have else []
                assert pairs == want
    assert any(r.getMessage() == "block quarantined" and getattr(r, "block", "") == bad_dir.name
               for r in caplog.records)
    with DB.open(tmp_path, SMALL) as db:  # a later start does not see it again
        assert db.quarantined == []


# -- WAL corruption -------------------------------------------------------------------------------
def _entries(wal_dir: Path) -> list[tuple[int, int, bytes]]:
    return list(WALReader(wal_dir, cut_tail=False).entries())


def _write_commits(path: Path, n: int) -> tuple[Model, list[Dump]]:
    """``n`` commits of 30 series x 10 samples (one SAMPLES record each after the first commit's
    SERIES record); returns the model and the model's state after each commit."""
    model = Model()
    states: list[Dump] = []
    with DB.open(path, SMALL) as db:
        for k in range(n):
            model.commit(db, 30, 100_000 * k, per_series=10)
            states.append({lb: list(pts) for lb, pts in model.data.items()})
    return model, states


def test_wal_corruption_in_the_middle_fails_open_then_repair_keeps_the_prefix(tmp_path: Path) -> None:
    model, states = _write_commits(tmp_path, 60)
    wal_dir = tmp_path / "wal"
    assert len([i for i in list_segments(wal_dir) if segment_path(wal_dir, i).stat().st_size]) > 1
    entries = _entries(wal_dir)
    kinds = [records.decode(rec).kind for _, _, rec in entries]
    assert kinds[0] == records.RecordType.SERIES and kinds[1:] == [records.RecordType.SAMPLES] * 60
    first_segment = entries[0][0]
    in_first = [k for k, (seg, _, _) in enumerate(entries) if seg == first_segment]
    victim = in_first[len(in_first) // 2]  # record ``victim`` is commit ``victim - 1``'s samples
    seg, offset, _ = entries[victim]
    path = segment_path(wal_dir, seg)
    raw = bytearray(path.read_bytes())
    raw[offset + 7 + 20] ^= 0x55  # inside the record's payload: its CRC no longer matches
    path.write_bytes(bytes(raw))

    with pytest.raises(CorruptionError) as info:
        DB.open(tmp_path, SMALL)
    assert info.value.path == str(path) and info.value.offset is not None
    assert offset <= info.value.offset < offset + 7 + 20 + 1
    assert path.name in str(info.value) and f"offset {info.value.offset}" in str(info.value)

    with DB.open(tmp_path, SMALL, repair=True) as db:
        assert _dump(db) == states[victim - 2], "everything before the corrupt record, nothing after"
        assert len(db.repairs) == 1
        report = db.repairs[0]
        assert report.segment == seg and report.offset == offset
        assert report.deleted_segments and report.dropped_bytes > len(raw) - offset
        assert str(info.value.offset) in report.reason
        model2 = Model()
        model2.data = {lb: list(pts) for lb, pts in states[victim - 2].items()}
        model2.commit(db, 30, 100_000_000, per_series=2)  # the repaired DB accepts writes
    with DB.open(tmp_path, SMALL) as db:
        assert not db.repairs
        assert _dump(db) == model2.data
    assert model.data != model2.data


def test_torn_wal_tail_is_cut_and_everything_before_it_served(tmp_path: Path) -> None:
    _, states = _write_commits(tmp_path, 20)
    wal_dir = tmp_path / "wal"
    entries = _entries(wal_dir)
    seg, offset, record = entries[-1]
    path = segment_path(wal_dir, seg)
    os.truncate(path, offset + 7 + len(record) // 2)  # the last record half written
    with DB.open(tmp_path, SMALL) as db:
        assert not db.repairs
        assert _dump(db) == states[-2]
    assert path.stat().st_size == offset, "the torn tail is cut at the last good record"
    with DB.open(tmp_path, SMALL) as db:
        assert _dump(db) == states[-2]


# -- a crash during a block write -----------------------------------------------------------------
def test_leftover_tmp_block_directory_is_ignored_and_removed(tmp_path: Path) -> None:
    model = Model()
    with DB.open(tmp_path, SMALL) as db:
        for t in range(0, 60_000, 5000):
            model.commit(db, 3, t, per_series=5)
        db.maintain()
        assert db.blocks
        real = db.blocks[0].dir
        before = _dump(db)
    leftover = tmp_path / f"{new_ulid()}.tmp"
    shutil.copytree(real, leftover)  # a complete-looking block that was never renamed into place
    (leftover / "index").write_bytes(b"half written")
    with DB.open(tmp_path, SMALL) as db:
        assert not leftover.exists()
        assert all(b.dir.name != leftover.name for b in db.blocks)
        assert _dump(db) == before == model.data


# -- group commit ---------------------------------------------------------------------------------
def test_concurrent_commits_apply_in_wal_order(tmp_path: Path) -> None:
    """Threads committing to the same series: the live head equals what replay builds from the WAL."""
    import threading

    options = StorageOptions(block_range_ms=10**9, retention_ms=10**12, wal_segment_bytes=64 << 10)
    results: list[tuple[int, int]] = []
    lock = threading.Lock()

    def writer(k: int) -> None:
        for i in range(40):
            app = db.appender()
            t = 1_000_000 + (i * 4 + k) * 1000  # interleaved timestamps: some commits land out of order
            for s in range(5):
                app.append(_series(s), np.array([t], np.int64), np.array([float(k)], np.float64))
            res = app.commit()
            with lock:
                results.append((res.accepted, res.rejected_count))

    db = DB.open(tmp_path, options)
    try:
        threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=120)
        live = _dump(db)
        assert sum(a for a, _ in results) == sum(len(v) for v in live.values())
        for pts in live.values():
            stamps = [t for t, _ in pts]
            assert stamps == sorted(set(stamps))
    finally:
        db.close()
    with DB.open(tmp_path, options) as reopened:
        assert _dump(reopened) == live


def test_failed_group_sync_applies_nothing_of_the_failed_commits(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    model = Model()
    with DB.open(tmp_path, SMALL) as db:
        model.commit(db, 20, 0)

        def broken(fd: int) -> None:
            raise OSError(errno.EIO, "I/O error")

        monkeypatch.setattr(os, "fdatasync", broken)
        with pytest.raises(StorageError, match="cannot sync"):
            model.commit(db, 30, 5_000)  # new series too: their records are lost with the batch
        assert _dump(db) == model.data
        monkeypatch.undo()
        model.commit(db, 30, 6_000)
        assert _dump(db) == model.data
    with DB.open(tmp_path, SMALL) as db:
        assert _dump(db) == model.data


def test_a_range_being_persisted_is_frozen(tmp_path: Path) -> None:
    """Once the head's oldest range is due for a block, a late sample for it is out of bounds (reported,
    not silently lost when the range leaves the head), while newer samples are still accepted."""
    options = StorageOptions(block_range_ms=10_000, retention_ms=10**12)
    model = Model()
    with DB.open(tmp_path, options) as db:
        for k in range(20):
            model.commit(db, 5, k * 1000)
        db.maintain(now_ms=0)
        assert db.blocks, "a block was cut"
        late = db.appender()
        late.append(_series(0), np.array([500], np.int64), np.array([1.0]))
        result = late.commit()
        assert result.rejected_count == 1 and "out_of_bounds" in result.summary()
        model.commit(db, 5, 20_000)
        assert _dump(db) == model.data
    with DB.open(tmp_path, options) as db:
        assert _dump(db) == model.data
