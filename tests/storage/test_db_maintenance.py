"""Maintenance under faults and on shutdown: its stages are independent (a full disk stops head persistence
but not retention, and the next run catches up by itself), and a stop request ends a long head persistence
or compaction at its next safe point, discarding partial output and losing nothing acknowledged."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.storage.disk_full import file_size_limit
from tests.storage.dump import dump
from tests.storage.test_db_faults import Model
from tsdb.config import StorageOptions
from tsdb.errors import CorruptionError, MaintenanceInterruptedError
from tsdb.labels import Labels, Matcher
from tsdb.storage.block.meta import list_blocks
from tsdb.storage.block.writer import SeriesChunks, write_block
from tsdb.storage.chunks.xor import encode_chunks
from tsdb.storage.db import DB, MaintenanceReport
from tsdb.storage.interrupt import StopFlag

Dump = dict[Labels, list[tuple[int, int]]]
HANG_GUARD_S = 10.0
"""Generous bound on a stop: it guards against a hang, it is not a performance assertion."""


def _dump(db: DB) -> Dump:
    return dump(db, [Matcher("=", "__name__", "faults")])


def _since(data: Dump, mint: int) -> Dump:
    return {lb: kept for lb, pts in data.items() if (kept := [p for p in pts if p[0] >= mint])}


def _leftovers(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if ".tmp" in p.name)


# -- a full disk ----------------------------------------------------------------------------------
def test_full_disk_fails_head_persistence_but_retention_still_frees_space(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The disk fills up (real EFBIG writes past a RLIMIT_FSIZE, as ENOSPC) and the operator shortens
    retention to free space: head persistence fails, yet retention deletes the expired blocks in the same
    run; once space returns, the next maintenance persists the head by itself and nothing acknowledged
    is lost."""
    data = tmp_path / "data"
    keep_all = StorageOptions(block_range_ms=10_000, max_block_range_ms=10_000, retention_ms=10**12,
                              tiers_enabled=False)  # no compaction: blocks stay as cut
    model = Model()
    with DB.open(data, keep_all) as db:
        for t in range(0, 50_000, 5000):  # 4 small blocks, room to write them
            model.commit(db, 5, t, per_series=5)
        assert db.maintain().ok
        old_blocks = sorted(b.ulid for b in db.blocks)
        assert len(old_blocks) == 4
        for t in range(40_000, 160_000, 10_000):  # head ranges no small file holds: 400 more series
            _commit(db, model, 400, np.arange(t, t + 10_000, 1000, dtype=np.int64), prefix="big")

    short = dataclasses.replace(keep_all, retention_ms=30_000)
    db = DB.open(data, short)
    try:
        model.commit(db, 5, 170_000)  # warm up before the window
        caplog.set_level(logging.INFO, logger="tsdb.db")
        with file_size_limit(16 << 10) as limit:
            full = db.maintain()
            assert set(full.failed) == {"head"}, full
            assert "too large" in full.failed["head"].lower()
            gone = [u for u in old_blocks if not (data / u).exists()]
            assert gone, "retention ran although head persistence failed: space is freed"
            assert all(u not in {b.ulid for b in db.blocks} for u in gone)
            assert db.maintenance_failures == {"head": 1, "compaction": 0, "tiers": 0, "retention": 0}
            assert db.compactions_failed == 1 and db.last_maintenance_success == 0.0
            failed_logs = [r for r in caplog.records if r.getMessage().startswith("maintenance stage failed")]
            assert [getattr(r, "stage", None) for r in failed_logs] == ["head"]
            assert "too large" in getattr(failed_logs[0], "error", "").lower()
            assert not _leftovers(data), "a failed block write leaves no .tmp directory"

            again = db.maintain()  # still full: retried, fails again, nothing breaks
            assert set(again.failed) == {"head"} and db.maintenance_failures["head"] == 2
            limit.lift()  # space returns
            before = time.time()
            recovered = db.maintain()
            assert recovered.ok, recovered
            assert db.last_maintenance_success >= before
            assert max(b.meta.max_time for b in db.blocks) > 60_000, "the big range is a block now"
            horizon = min(b.meta.min_time for b in db.blocks)
            assert _dump(db) == _since(model.data, horizon)
    finally:
        db.close()
    with DB.open(data, short) as db:
        assert _dump(db) == _since(model.data, horizon), "nothing acknowledged and unexpired is lost"


def test_a_failed_wal_checkpoint_is_retried(tmp_path: Path) -> None:
    """A block fits but the WAL checkpoint after it does not: the head stage fails, the block stays, and the
    checkpoint is written by a later maintenance once there is space."""
    options = StorageOptions(block_range_ms=10_000, max_block_range_ms=10_000, retention_ms=10**12,
                             tiers_enabled=False)
    model = Model()
    wal = tmp_path / "wal"
    with DB.open(tmp_path, options) as db:
        for t in range(0, 25_000, 5000):  # 5 small series: one small block is due, [0, 10 s)
            model.commit(db, 5, t, per_series=5)
        # 400 more series after it: too many for a small checkpoint (it keeps every live series)
        _commit(db, model, 400, np.arange(10_000, 25_000, 1000, dtype=np.int64), prefix="big")
        with file_size_limit(16 << 10) as limit:
            full = db.maintain()
            assert set(full.failed) == {"head"} and "checkpoint" in full.failed["head"].lower(), full
            assert len(db.blocks) == 1 and not list(wal.glob("checkpoint.*"))
            limit.lift()
            assert db.maintain().ok  # no range is due: the checkpoint is retried on its own
            assert list(wal.glob("checkpoint.*")), "the checkpoint is written once there is space"
            assert len(db.blocks) == 1
            assert _dump(db) == model.data
    with DB.open(tmp_path, options) as db:
        assert _dump(db) == model.data


# -- stopping -------------------------------------------------------------------------------------
def _one_chunk_series(n: int, stop: StopFlag, stop_after: int) -> Iterator[SeriesChunks]:
    """``n`` series of one 20-sample chunk each, sorted by labels; sets ``stop`` after ``stop_after``."""
    ts = np.arange(0, 20_000, 1000, dtype=np.int64)
    data, offsets = encode_chunks(ts, np.ones(len(ts)), np.array([0, len(ts)], dtype=np.int64))
    for i in range(n):
        if i == stop_after:
            stop.set()
        yield SeriesChunks(Labels({"__name__": "faults", "i": f"{i:06d}"}), data, offsets,
                           np.array([0], np.int64), np.array([19_000], np.int64), len(ts))


def test_a_stopped_block_write_leaves_nothing(tmp_path: Path) -> None:
    stop = StopFlag()
    with pytest.raises(MaintenanceInterruptedError, match=r"block \w+ write"):
        write_block(tmp_path, _one_chunk_series(30_000, stop, stop_after=9_000), 0, 19_999, stop=stop)
    assert list(tmp_path.iterdir()) == [], "the partial .tmp directory is removed"
    done = write_block(tmp_path, _one_chunk_series(100, StopFlag(), stop_after=-1), 0, 19_999, stop=StopFlag())
    assert [p.name for p in list_blocks(tmp_path)] == [done]


def _commit(db: DB, model: Model, n_series: int, ts: np.ndarray, prefix: str = "host") -> None:
    """One commit of ``n_series`` series at ``ts``, recorded in ``model`` once acknowledged."""
    app = db.appender()
    batch = {}
    for i in range(n_series):
        values = np.cos(ts / 3e3) + i
        labels = Labels({"__name__": "faults", "instance": f"{prefix}-{i:04d}", "job": "node"})
        app.append(labels, ts, values)
        batch[labels] = list(zip(ts.tolist(), values.view(np.uint64).tolist(), strict=True))
    assert app.commit().accepted == n_series * len(ts)
    for labels, pts in batch.items():
        model.data.setdefault(labels, []).extend(pts)


def _big_head(db: DB, model: Model, n_series: int = 800) -> None:
    """``n_series`` series x 100 s at 4 samples a second: 8 due 10 s head ranges, each a while to write."""
    for t in range(0, 100_000, 10_000):
        _commit(db, model, n_series, np.arange(t, t + 10_000, 250, dtype=np.int64))


class _LogEvent(logging.Handler):
    """Sets ``event`` when a record with message ``message`` is logged (the first step of the work is done)."""

    def __init__(self, message: str) -> None:
        super().__init__(logging.INFO)
        self.message = message
        self.event = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == self.message:
            self.event.set()


def _stop_mid_way(db: DB, logger: str, message: str) -> tuple[MaintenanceReport, float]:
    """Run ``db.maintain`` on a thread, close the DB once ``message`` is logged; returns the report and
    how long ``close`` took."""
    handler = _LogEvent(message)
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    reports: list[MaintenanceReport] = []
    worker = threading.Thread(target=lambda: reports.append(db.maintain()), name="test-maintain")
    try:
        worker.start()
        assert handler.event.wait(120), f"{message!r} never logged"
        started = time.monotonic()
        db.close()
        took = time.monotonic() - started
        worker.join(HANG_GUARD_S)
        assert not worker.is_alive()
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    return reports[0], took


def test_close_stops_a_running_head_persistence_and_loses_nothing(tmp_path: Path) -> None:
    options = StorageOptions(block_range_ms=10_000, retention_ms=10**12, tiers_enabled=False)
    model = Model()
    db = DB.open(tmp_path, options)
    _big_head(db, model)
    report, took = _stop_mid_way(db, "tsdb.compact", "head persisted")
    assert report.interrupted and not report.failed
    assert took < HANG_GUARD_S
    persisted = list_blocks(tmp_path)
    assert 1 <= len(persisted) < 8, "stopped after the first of 8 due ranges"
    with DB.open(tmp_path, options) as db:
        assert not _leftovers(tmp_path)
        assert _dump(db) == model.data, "the WAL still had what the head had not persisted"
        assert db.maintain().ok  # the rest is redone
        assert len(db.blocks) > len(persisted)
        assert _dump(db) == model.data
    with DB.open(tmp_path, options) as db:
        assert _dump(db) == model.data


def test_close_stops_a_running_compaction_and_loses_nothing(tmp_path: Path) -> None:
    options = StorageOptions(block_range_ms=10_000, retention_ms=10**12, tiers_enabled=False)
    model = Model()
    db = DB.open(tmp_path, options)
    _big_head(db, model)
    report, took = _stop_mid_way(db, "tsdb.compact", "blocks compacted")
    assert report.interrupted and not report.failed
    assert took < HANG_GUARD_S
    with DB.open(tmp_path, options) as db:
        assert not _leftovers(tmp_path)
        levels = sorted(b.meta.level for b in db.blocks)
        assert levels[-1] >= 2, "the first compaction finished"
        assert _dump(db) == model.data
        assert db.maintain().ok
        assert _dump(db) == model.data


def test_maintain_after_stop_does_nothing(tmp_path: Path) -> None:
    options = StorageOptions(block_range_ms=10_000, retention_ms=10**12, tiers_enabled=False)
    model = Model()
    with DB.open(tmp_path, options) as db:
        for t in range(0, 60_000, 5000):
            model.commit(db, 3, t, per_series=5)
        db.stop_maintenance()
        report = db.maintain()
        assert report.interrupted and not db.blocks
        assert _dump(db) == model.data


# -- queries go on during maintenance --------------------------------------------------------------
def _query_from_another_thread(db: DB) -> int:
    """Open a querier and read every series on another thread, waiting at most HANG_GUARD_S; returns the
    series read (-1 if the query could not finish: it was held up by the maintenance that called us)."""
    got: list[int] = []

    def run() -> None:
        q = db.querier(0, 10**9)
        try:
            got.append(sum(1 for s in q.select([Matcher("=", "__name__", "faults")]) if len(s.samples()[0])))
        finally:
            q.close()
    worker = threading.Thread(target=run, name="test-query")
    worker.start()
    worker.join(HANG_GUARD_S)
    return got[0] if got else -1


def test_queries_are_answered_while_blocks_are_merged_and_the_wal_checkpointed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing a merged block and folding WAL segments into a checkpoint take long on a big database; a
    query started meanwhile is answered at once (it reads the source blocks), not after them."""
    import tsdb.storage.db as db_module
    options = StorageOptions(block_range_ms=10_000, retention_ms=10**12, tiers_enabled=False)
    model = Model()
    answered: dict[str, list[int]] = {"merge": [], "checkpoint": []}
    with DB.open(tmp_path, options) as db:
        real_merge, real_checkpoint = db_module.merge_blocks, db_module.create_checkpoint

        def merging(*args: object, **kwargs: object) -> str:
            answered["merge"].append(_query_from_another_thread(db))
            return real_merge(*args, **kwargs)  # type: ignore[arg-type]

        def checkpointing(*args: object, **kwargs: object) -> Path:
            answered["checkpoint"].append(_query_from_another_thread(db))
            return real_checkpoint(*args, **kwargs)  # type: ignore[arg-type]
        monkeypatch.setattr(db_module, "merge_blocks", merging)
        monkeypatch.setattr(db_module, "create_checkpoint", checkpointing)
        _big_head(db, model, n_series=20)
        assert db.maintain().ok
        assert answered["merge"] and answered["checkpoint"]
        assert set(answered["merge"] + answered["checkpoint"]) == {20}, answered
        assert _dump(db) == model.data


def test_a_merge_whose_source_was_quarantined_meanwhile_is_discarded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A source block found corrupt by a query while the merge was being written leaves the served set;
    the merged block (which read it before) is thrown away rather than bringing its data back."""
    import tsdb.storage.db as db_module
    options = StorageOptions(block_range_ms=10_000, retention_ms=10**12, tiers_enabled=False)
    model = Model()
    with DB.open(tmp_path, options) as db:
        _big_head(db, model, n_series=5)
        real_merge = db_module.merge_blocks
        quarantined: list[str] = []

        def merging(parent: Path, sources: list, *args: object, **kwargs: object) -> str:  # type: ignore[type-arg]
            ulid = real_merge(parent, sources, *args, **kwargs)  # type: ignore[arg-type]
            if not quarantined:
                victim = sources[0]
                assert db._corrupted_at_read(victim, CorruptionError("test: chunk checksum mismatch"))
                quarantined.append(victim.ulid)
            return ulid
        monkeypatch.setattr(db_module, "merge_blocks", merging)
        assert db.maintain().ok
        assert quarantined
        assert (tmp_path / "quarantine").is_dir()
        served = {b.ulid for b in db.blocks}
        assert quarantined[0] not in served
        for block in db.blocks:  # no served block holds the quarantined one's data
            assert quarantined[0] not in (block.meta.sources or [])
        assert not _leftovers(tmp_path)


def test_a_commit_that_makes_a_head_range_due_wakes_maintenance(tmp_path: Path) -> None:
    """A backfill fills the head in seconds: the commit that makes a head range due wakes the maintenance
    loop at once instead of leaving the data in the WAL until the next interval; stopping wakes it too."""
    db = DB.open(tmp_path, StorageOptions(block_range_ms=10_000, retention_ms=10**12, tiers_enabled=False))
    try:
        labels = Labels({"__name__": "backfill"})
        app = db.appender()
        app.append(labels, np.arange(0, 12_000, 1000, dtype=np.int64), np.ones(12))
        app.commit()  # spans 11 s: not 1.5 block ranges yet
        assert db.wait_for_maintenance(0.05) is False
        app = db.appender()
        app.append(labels, np.arange(12_000, 40_000, 1000, dtype=np.int64), np.ones(28))
        app.commit()  # spans 39 s: ranges are due until the head spans at most 15 s
        assert db.wait_for_maintenance(HANG_GUARD_S) is True
        assert db.maintain().ok and [b.meta.min_time for b in db.blocks] == [0, 10_000, 20_000]
        assert db.wait_for_maintenance(0.05) is False  # woken once per due range, not on every commit
        waiter_woken: list[bool] = []
        waiter = threading.Thread(target=lambda: waiter_woken.append(db.wait_for_maintenance(HANG_GUARD_S)))
        waiter.start()
        db.stop_maintenance()
        waiter.join(HANG_GUARD_S)
        assert waiter_woken == [True]
    finally:
        db.close()


def test_a_backfill_beside_current_writes_is_cut_behind_the_backfill_not_refused(tmp_path: Path) -> None:
    """Old and current data together (a backfill while the server's collector writes at the current time):
    head ranges are persisted behind where the backfill writes, so none of its samples is refused as out of
    bounds, and the head does not keep the whole backfill either."""
    size = 10_000
    db = DB.open(tmp_path, StorageOptions(block_range_ms=size, retention_ms=10**12, tiers_enabled=False))
    now = 200_000  # 20 block ranges after the backfill's start (less than MAX_HEAD_RANGES)
    try:
        collector, backfill = Labels({"__name__": "collector"}), Labels({"__name__": "backfill"})
        for t in range(0, 150_000, 2_000):
            app = db.appender()
            app.append(collector, np.array([now + t], dtype=np.int64), np.ones(1))
            app.append(backfill, np.arange(t, t + 2_000, 500, dtype=np.int64), np.ones(4))
            result = app.commit()
            assert result.rejected_count == 0, result.summary()
            assert db.maintain().ok
            persisted = max((b.meta.max_time for b in db.blocks), default=0)
            assert persisted <= max(0, t + 2_000 - size // 2), "a range the backfill still writes was persisted"
        assert persisted >= 150_000 - 2 * size, "the backfill's older ranges are blocks"
        assert len(dump(db, [Matcher("=", "__name__", "backfill")])[backfill]) == 300
    finally:
        db.close()


def test_a_writer_stuck_far_behind_does_not_keep_the_head_growing(tmp_path: Path) -> None:
    """Past MAX_HEAD_RANGES block ranges a head range is persisted wherever the writers are."""
    from tsdb.storage.db import MAX_HEAD_RANGES

    size = 10_000
    db = DB.open(tmp_path, StorageOptions(block_range_ms=size, retention_ms=10**12, tiers_enabled=False))
    try:
        app = db.appender()
        app.append(Labels({"__name__": "stuck"}), np.array([0], dtype=np.int64), np.ones(1))
        app.append(Labels({"__name__": "current"}), np.array([size * (MAX_HEAD_RANGES - 1)], dtype=np.int64),
                   np.ones(1))
        app.commit()
        assert db.maintain().ok and db.blocks == []  # the stuck writer holds the range back...
        app = db.appender()
        app.append(Labels({"__name__": "current"}), np.array([size * (MAX_HEAD_RANGES + 1)], dtype=np.int64),
                   np.ones(1))
        app.commit()
        assert db.maintain().ok and db.blocks[0].meta.min_time == 0  # ...but not for ever
    finally:
        db.close()
