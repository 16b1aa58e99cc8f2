"""The DB end to end: WAL replay, head persistence, compaction, retention, deletion, and a stateful
hypothesis test against the in-memory model."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests.storage.dump import Dump, dump
from tsdb.config import StorageOptions
from tsdb.errors import DataDirLockedError
from tsdb.labels import Labels, Matcher
from tsdb.storage.db import DB
from tsdb.storage.interfaces import Appendable, Queryable
from tsdb.storage.memory import MemoryStore

# in-order semantics (the model refuses late samples); the out-of-order window has its own tests
SMALL = StorageOptions(block_range_ms=10_000, retention_ms=10**12, wal_segment_bytes=64 << 10, out_of_order_window_ms=0)
ALL = [Matcher("=~", "__name__", ".+")]


def _series(n: int) -> Labels:
    return Labels({"__name__": "m", "i": str(n)})


def _dump(store: Queryable, mint: int = -(2**62), maxt: int = 2**62) -> Dump:
    return dump(store, mint=mint, maxt=maxt)


def _append(db: Appendable, rows: list[tuple[int, int, float]]) -> None:
    app = db.appender()
    for n, t, v in rows:
        app.append(_series(n), np.array([t], np.int64), np.array([v]))
    app.commit()


def test_protocols_and_lock(tmp_path: Path) -> None:
    with DB.open(tmp_path, SMALL) as db:
        assert isinstance(db, Appendable) and isinstance(db, Queryable)
        with pytest.raises(DataDirLockedError):
            DB.open(tmp_path, SMALL)


def test_wal_replay_restores_head(tmp_path: Path) -> None:
    db = DB.open(tmp_path, SMALL)
    _append(db, [(i, t, float(t)) for t in range(0, 5000, 1000) for i in range(3)])
    before = _dump(db)
    db.close()
    with DB.open(tmp_path, SMALL) as db2:
        assert _dump(db2) == before
        assert db2.replay_stats["samples"] == 15


def test_head_is_persisted_as_blocks_and_compacted(tmp_path: Path) -> None:
    db = DB.open(tmp_path, SMALL)
    rows = [(i, t, float(t % 7)) for t in range(0, 200_000, 1000) for i in range(4)]
    for k in range(0, len(rows), 100):
        _append(db, rows[k:k + 100])
    before = _dump(db)
    db.maintain()
    assert db.blocks, "the head spanned many block ranges: blocks must have been written"
    assert db.head.min_time >= db.blocks[-1].meta.max_time - SMALL.block_range_ms
    assert any(b.meta.level > 1 for b in db.blocks), "adjacent blocks are compacted"
    assert _dump(db) == before
    assert _dump(db, 50_000, 60_000) == {k: [p for p in v if 50_000 <= p[0] <= 60_000] for k, v in before.items()}
    db.close()
    with DB.open(tmp_path, SMALL) as db2:
        assert _dump(db2) == before
        assert not list(tmp_path.glob("*.tmp"))


def test_deletion_in_head_and_blocks_survives_restart(tmp_path: Path) -> None:
    db = DB.open(tmp_path, SMALL)
    _append(db, [(i, t, 1.0) for t in range(0, 60_000, 1000) for i in range(2)])
    db.maintain()
    db.delete([Matcher("=", "i", "0")], 5_000, 45_000)
    after = _dump(db)
    assert all(not 5_000 <= t <= 45_000 for t, _ in after[_series(0)])
    assert len(after[_series(1)]) == 60
    db.close()
    with DB.open(tmp_path, SMALL) as db2:
        assert _dump(db2) == after
        db2.maintain()
        assert _dump(db2) == after


def test_retention_drops_old_blocks(tmp_path: Path) -> None:
    options = StorageOptions(block_range_ms=10_000, retention_ms=40_000, wal_segment_bytes=64 << 10)
    db = DB.open(tmp_path, options)
    _append(db, [(0, t, 1.0) for t in range(0, 200_000, 1000)])
    db.maintain()
    kept = _dump(db)[_series(0)]
    assert kept[0][0] >= 100_000 and kept[-1][0] == 199_000
    db.close()


def test_queried_block_is_not_pulled_from_under_a_reader(tmp_path: Path) -> None:
    options = StorageOptions(block_range_ms=10_000, retention_ms=30_000, wal_segment_bytes=64 << 10)
    db = DB.open(tmp_path, options)
    _append(db, [(0, t, 1.0) for t in range(0, 40_000, 1000)])
    db.maintain()
    querier = db.querier(0, 2**62)
    series = list(querier.select(ALL))
    _append(db, [(0, t, 1.0) for t in range(40_000, 200_000, 1000)])
    db.maintain()
    ts, _ = series[0].samples()
    assert ts[0] == 0, "the open querier still reads the retired blocks"
    querier.close()
    db.maintain()
    assert all(b.meta.mint >= 100_000 for b in db.blocks)
    db.close()


def test_reader_opened_before_head_persistence_sees_every_sample(tmp_path: Path) -> None:
    """A range persisted as a block while a reader is open stays in the head for that reader (it lists no
    such block); readers opened later read the block and the head above it, so nobody misses or doubles a
    sample; the head drops the range once the early reader has closed."""
    db = DB.open(tmp_path, SMALL)
    _append(db, [(0, t, float(t)) for t in range(0, 60_000, 1000)])
    early = db.querier(0, 2**62)
    db.maintain()
    assert db.blocks, "the head was persisted"
    (series,) = list(early.select(ALL))
    assert series.samples()[0].tolist() == list(range(0, 60_000, 1000))
    late = db.querier(0, 2**62)
    (series,) = list(late.select(ALL))
    assert series.samples()[0].tolist() == list(range(0, 60_000, 1000))
    assert db.head.min_time == 0, "kept in the head while the early reader is open"
    early.close()
    late.close()
    db.maintain()
    assert db.head.min_time >= db.blocks[-1].meta.max_time
    assert [t for t, _ in _dump(db)[_series(0)]] == list(range(0, 60_000, 1000))
    db.close()


def test_default_window_keeps_late_samples_across_a_crash(tmp_path: Path) -> None:
    """Late samples within the default 10-minute window are stored, written to the WAL and replayed."""
    options = StorageOptions(retention_ms=10**12)
    db = DB.open(tmp_path, options)
    _append(db, [(0, t, 1.0) for t in range(300_000, 600_001, 60_000)])
    _append(db, [(0, 30_000 + t, 2.0) for t in range(300_000, 600_001, 60_000)])  # each 30 s late
    _append(db, [(0, 60_000, 3.0)])  # 9.5 minutes behind the newest sample: still inside the window
    expected = _dump(db)
    assert len(expected[_series(0)]) == 6 + 6 + 1
    db.close()  # writes no block: the reopen rebuilds the head from the WAL, as after kill -9
    with DB.open(tmp_path, options) as db2:
        assert not db2.blocks
        assert _dump(db2) == expected


class DBMachine(RuleBasedStateMachine):
    """Random appends, commits, rollbacks, deletes, maintenance and reopen; the DB equals the model."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path()
        self.db: DB | None = None

    @initialize(base=st.just(0))
    def start(self, base: int) -> None:
        import tempfile

        self.dir = Path(tempfile.mkdtemp(prefix="tsdb-db-machine-"))
        self.db = DB.open(self.dir, SMALL)
        self.model = MemoryStore()
        self.pending: list[tuple[int, int, float]] = []
        self.clock = 0

    @rule(rows=st.lists(st.tuples(st.integers(0, 4), st.integers(-3_000, 3_000), st.sampled_from([0.0, 1.5, -2.0])),
                        min_size=1, max_size=20))
    def append(self, rows: list[tuple[int, int, float]]) -> None:
        self.clock += 2_000
        self.pending.extend((n, max(0, self.clock + dt), v) for n, dt, v in rows)

    @rule()
    def commit(self) -> None:
        assert self.db is not None
        min_valid = self.db.head.min_valid_time
        app = self.db.appender()
        model_app = self.model.appender()
        for n, t, v in self.pending:
            app.append(_series(n), np.array([t], np.int64), np.array([v]))
            if t >= min_valid:  # older samples belong to persisted blocks: out of bounds for the head
                model_app.append(_series(n), np.array([t], np.int64), np.array([v]))
        result = app.commit()
        expected = model_app.commit()
        self.pending = []
        assert result.accepted == expected.accepted

    @rule()
    def rollback(self) -> None:
        self.pending = []

    @rule(n=st.integers(0, 4), lo=st.integers(0, 40_000), width=st.integers(0, 20_000))
    def delete(self, n: int, lo: int, width: int) -> None:
        """Delete history only: later appends never land in a deleted range (where Prometheus's tombstone
        semantics -- hiding later samples too, until compaction -- would differ from a plain model)."""
        assert self.db is not None
        hi = min([lo + width, self.clock - 4_000] + [t - 1 for _, t, _ in self.pending])
        if hi < lo:
            return
        self.db.delete([Matcher("=", "i", str(n))], lo, hi)
        self.model.delete([Matcher("=", "i", str(n))], lo, hi)

    @rule()
    def maintain(self) -> None:
        assert self.db is not None
        self.db.maintain()

    @rule()
    def reopen(self) -> None:
        assert self.db is not None
        self.db.close()
        self.db = DB.open(self.dir, SMALL)

    @invariant()
    def equals_model(self) -> None:
        if self.db is not None:
            assert _dump(self.db) == _dump(self.model)

    def teardown(self) -> None:
        if self.db is not None:
            self.db.close()
        shutil.rmtree(self.dir, ignore_errors=True)


TestDBMachine = DBMachine.TestCase
TestDBMachine.settings = settings(max_examples=30, stateful_step_count=30, deadline=None)
