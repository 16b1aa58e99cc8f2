"""The storage side of the admin API: snapshots (hard links, the head as a block, consistent while writes and
compactions run), deletions reaching the downsampled tiers, and clean_tombstones rewriting blocks."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.storage.dump import Dump, dump
from tsdb.config import StorageOptions
from tsdb.labels import Labels, Matcher
from tsdb.query.engine.engine import Engine
from tsdb.storage.db import DB
from tsdb.storage.snapshot import snapshot_name

SMALL = StorageOptions(block_range_ms=10_000, retention_ms=10**12, wal_segment_bytes=64 << 10,
                       out_of_order_window_ms=0, tiers_enabled=False)
H = 3_600_000
T0 = 1_700_000_000_000 // H * H


def _series(i: int, name: str = "m") -> Labels:
    return Labels({"__name__": name, "i": str(i)})


def _append(db: DB, start: int, stop: int, step: int = 1000, n: int = 3, name: str = "m") -> None:
    app = db.appender()
    ts = np.arange(start, stop, step, dtype=np.int64)
    for i in range(n):
        app.append(_series(i, name), ts, ts.astype(np.float64) + i)
    app.commit()


def _all(db: DB) -> Dump:
    return dump(db)


def test_snapshot_name_is_prometheus_shaped() -> None:
    name = snapshot_name()
    stamp, _, suffix = name.partition("-")
    assert len(stamp) == 16 and stamp[8] == "T" and stamp.endswith("Z") and len(suffix) == 16
    int(suffix, 16)
    assert snapshot_name() != name


def test_snapshot_links_blocks_and_writes_the_head(tmp_path: Path) -> None:
    with DB.open(tmp_path / "data", SMALL) as db:
        for lo in range(0, 50_000, 5_000):
            _append(db, lo, lo + 5_000)
            db.maintain()
        assert db.blocks and db.head.max_time >= 49_000
        before = _all(db)
        persisted = max(b.meta.maxt for b in db.blocks)
        db.snapshot(tmp_path / "with-head")
        db.snapshot(tmp_path / "no-head", with_head=False)
        assert _all(db) == before  # the live database is untouched
        block = db.blocks[0]
        linked = tmp_path / "with-head" / block.ulid / "index"
        assert linked.stat().st_ino == (block.dir / "index").stat().st_ino  # a hard link, not a copy
    for name, expected in (("with-head", before),
                           ("no-head", {lb: [p for p in pts if p[0] <= persisted] for lb, pts in before.items()})):
        copy = tmp_path / f"restore-{name}"
        shutil.copytree(tmp_path / name, copy)
        with DB.open(copy, SMALL) as restored:
            assert _all(restored) == expected, name


def test_snapshot_is_consistent_while_writing_and_compacting(tmp_path: Path) -> None:
    db = DB.open(tmp_path / "data", SMALL)
    acknowledged = [0]
    stop = threading.Event()

    def write() -> None:
        t = 0
        while not stop.is_set() and t < 2_000_000:  # bounded: 2000 batches at most
            _append(db, t, t + 1000, step=100)
            acknowledged[0] = t + 1000
            db.maintain()
            t += 1000

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for k in range(4):
            done = acknowledged[0]
            db.snapshot(tmp_path / f"snap-{k}")
            copy = tmp_path / f"copy-{k}"
            shutil.copytree(tmp_path / f"snap-{k}", copy)
            with DB.open(copy, SMALL) as restored:
                got = _all(restored)
            for i in range(3):  # every sample acknowledged before the snapshot started is in it
                ts = [t for t, _ in got.get(_series(i), [])]
                assert ts[: done // 100] == list(range(0, done, 100))
    finally:
        stop.set()
        writer.join(timeout=60)
        db.close()


def test_clean_tombstones_removes_deleted_data_physically(tmp_path: Path) -> None:
    with DB.open(tmp_path, SMALL) as db:
        app = db.appender()
        ts = np.arange(0, 40_000, 1000, dtype=np.int64)
        app.append(Labels({"__name__": "m", "who": "victim"}), ts, ts.astype(np.float64))
        app.append(Labels({"__name__": "m", "who": "keeper"}), ts, ts.astype(np.float64))
        app.commit()
        db.maintain()
        assert db.blocks
        db.delete([Matcher("=", "who", "victim")], -(2**62), 2**62)
        db.delete([Matcher("=", "who", "keeper")], 2_000, 4_000)
        expected = _all(db)
        assert Labels({"__name__": "m", "who": "victim"}) not in expected
        old = {b.ulid: b.dir for b in db.blocks}
        assert any((d / "tombstones").exists() and b"victim" in (d / "index").read_bytes() for d in old.values())
        rewritten = db.clean_tombstones()
        assert set(rewritten) == set(old)
        assert _all(db) == expected
        for block in db.blocks:
            assert block.ulid not in old and block.tombstones().total() == 0
            assert b"victim" not in (block.dir / "index").read_bytes()  # the series is gone from the files
            assert not (block.dir / "tombstones").exists() or block.meta.stats.num_tombstones == 0
        assert not any(d.exists() for d in old.values())  # old blocks deleted (no reader held them)
        assert db.clean_tombstones() == []  # nothing left to clean
        # compaction after a deletion keeps the data deleted
        _append(db, 40_000, 80_000, name="m2")
        db.maintain()
        assert {lb: pts for lb, pts in _all(db).items() if lb.get("__name__") == "m"} == expected


def test_compaction_after_delete_drops_the_data(tmp_path: Path) -> None:
    with DB.open(tmp_path, SMALL) as db:
        _append(db, 0, 30_000)
        db.maintain()
        db.delete([Matcher("=", "i", "1")], 5_000, 15_000)
        _append(db, 30_000, 200_000)
        db.maintain()
        got = _all(db)
        assert not [t for t, _ in got[_series(1)] if 5_000 <= t <= 15_000]
        assert len([t for t, _ in got[_series(0)] if 5_000 <= t <= 15_000]) == 11
        assert any(b.meta.level > 1 for b in db.blocks)  # blocks were merged meanwhile


# -- deletions in downsampled tiers -------------------------------------------------------------------
def _tiered(path: Path) -> DB:
    db = DB.open(path, StorageOptions(wal_fsync="never"))
    step = 60_000
    per = 4 * H // step
    n = 24 * H // step
    ts = T0 + np.arange(n, dtype=np.int64) * step
    for lo in range(0, n, per):
        app = db.appender()
        for i in range(2):
            app.append(_series(i, "g"), ts[lo:lo + per], np.full(len(ts[lo:lo + per]), 10.0 + i))
        app.commit()
        db.maintain(now_ms=int(ts[min(lo + per, n) - 1]))
    end = int(ts[-1])
    assert db.tiers is not None
    done = db.tiers.maintain(list(db.blocks), end + 11 * 24 * H)
    assert any(d.startswith("5m:") for d in done) and any(d.startswith("1h:") for d in done)
    return db


def _hours(db: DB, resolution: str) -> dict[str, set[int]]:
    """Per series ``i``: the hours (after T0) at which ``count_over_time(g[1h])`` has a value."""
    value = Engine(db).range("count_over_time(g[1h])", T0 + 2 * H, T0 + 16 * H, H, resolution)
    return {lb["i"]: {2 + h for h in np.flatnonzero(value.present[k]).tolist()} for k, lb in enumerate(value.labels)}


EVERY = set(range(2, 17))
DELETED = set(range(5, 10))  # the steps whose 1h range lies inside the deleted [4h, 10h)


def _check_deleted(db: DB, resolution: str) -> None:
    hours = _hours(db, resolution)
    assert hours["0"] == EVERY and not hours["1"] & DELETED, resolution
    assert hours["1"] >= EVERY - DELETED - {10}, resolution  # at 10h a tier window may end just after


@pytest.mark.parametrize("raw_left", [True, False])
def test_deleted_samples_leave_the_tiers(tmp_path: Path, raw_left: bool) -> None:
    db = _tiered(tmp_path)
    try:
        assert db.tiers is not None
        for resolution in ("5m", "1h"):
            assert _hours(db, resolution) == {"0": EVERY, "1": EVERY}
        db.delete([Matcher("=", "__name__", "g"), Matcher("=", "i", "1")], T0 + 4 * H, T0 + 10 * H - 1)
        assert db.tiers.pending_deletions()
        for resolution in ("raw", "5m", "1h"):  # hidden at once
            _check_deleted(db, resolution)
        # written out of the files at the next maintenance (from raw blocks where they are still there)
        db.tiers.apply_deletions(list(db.blocks) if raw_left else [])
        assert not db.tiers.pending_deletions() and not (db.tiers.root / "deletions.json").exists()
        for name in ("5m", "1h"):
            for f in db.tiers.files(name):
                table = pq.read_table(f.path).to_pydict()
                hit = [t for t, lb in zip(table["first_ts"], table["labels"], strict=True)
                       if '"1"' in lb and T0 + 4 * H <= t < T0 + 10 * H]
                assert not hit, (name, f.path.name)
        for resolution in ("5m", "1h"):
            _check_deleted(db, resolution)
        # a whole series deleted, then the database reopened before any maintenance: still hidden
        db.delete([Matcher("=", "i", "0")], -(2**62), 2**62)
    finally:
        db.close()
    with DB.open(tmp_path, StorageOptions(wal_fsync="never")) as again:
        assert again.tiers is not None and again.tiers.pending_deletions()
        for resolution in ("5m", "1h"):
            assert "0" not in _hours(again, resolution)
        assert again.tiers.label_sets(T0, T0 + 24 * H) == {_series(1, "g")}  # nor in label lookups
