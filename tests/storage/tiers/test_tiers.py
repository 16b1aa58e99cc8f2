"""Downsampled tiers end to end: written and retained by DB.maintain, read by plain pyarrow, and queried
through the engine with answers equal to raw data on ranges aligned to the resolution (docs/tiers.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tsdb.config import StorageOptions
from tsdb.errors import InvalidArgumentError
from tsdb.labels import Labels, Matcher
from tsdb.query.engine.engine import Engine
from tsdb.storage.db import DB
from tsdb.storage.interfaces import SelectHints
from tsdb.storage.tiers.parquet import TierFile, parse_file_name, write_tier_file
from tsdb.storage.tiers.store import TierStore

H = 3_600_000
T0 = 1_700_000_000_000 // H * H
STEP = 30_000
N = 3 * 24 * H // STEP  # three days


def _fill(path: Path, options: StorageOptions) -> tuple[DB, int]:
    """Counters with resets and noisy gauges, written through the normal path with blocks cut."""
    rng = np.random.default_rng(7)
    ts = T0 + np.arange(N, dtype=np.int64) * STEP + rng.integers(-300, 300, N)
    data = []
    for i in range(3):
        c = np.cumsum(rng.exponential(5.0, N))
        for r in sorted(rng.integers(100, N, 3).tolist()):
            c[r:] -= c[r - 1]
        data.append((Labels({"__name__": "c_total", "i": str(i)}), c))
        gauge = 50 + 10 * np.sin(np.arange(N) / 300) + rng.normal(0, 2, N)
        data.append((Labels({"__name__": "g", "i": str(i)}), gauge))
    db = DB.open(path, options)
    per = 4 * H // STEP
    for lo in range(0, N, per):
        app = db.appender()
        for labels, values in data:
            app.append(labels, ts[lo:lo + per], values[lo:lo + per])
        app.commit()
        db.maintain(now_ms=int(ts[min(lo + per, N) - 1]))
    return db, int(ts[-1])


@pytest.fixture(scope="module")
def tiered(tmp_path_factory: pytest.TempPathFactory) -> tuple[DB, int]:
    db, end = _fill(tmp_path_factory.mktemp("tiers"), StorageOptions(wal_fsync="never"))
    assert db.blocks
    done = db.tiers.maintain(list(db.blocks), end + 3 * 24 * H) if db.tiers else []
    assert done and all(d.startswith("5m:") for d in done)
    yield db, end
    db.close()


QUERIES = ["rate(c_total[1h])", "increase(c_total[2h])", "avg_over_time(g[1h])", "min_over_time(g[1h])",
           "max_over_time(g[1h])", "count_over_time(g[1h])", "sum_over_time(g[1h])",
           "sum by (i) (rate(c_total[1h]))"]


@pytest.mark.parametrize("query", QUERIES)
def test_tier_answers_equal_raw_on_aligned_ranges(tiered: tuple[DB, int], query: str) -> None:
    db, _ = tiered
    engine = Engine(db)
    raw = engine.range(query, T0 + 6 * H, T0 + 40 * H, H, "raw")
    tier = engine.range(query, T0 + 6 * H, T0 + 40 * H, H, "5m")
    assert raw.labels == tier.labels
    assert (raw.present == tier.present).all()
    np.testing.assert_allclose(tier.values[tier.present], raw.values[raw.present], rtol=1e-9)


def test_auto_picks_a_tier_by_step_and_range(tiered: tuple[DB, int]) -> None:
    db, _ = tiered
    q = db.querier(T0, T0 + 40 * H)
    try:
        assert q.resolution_for(SelectHints(step_ms=H, func="rate", range_ms=H)) == "5m"
        assert q.resolution_for(SelectHints(step_ms=60_000, func="rate", range_ms=H)) == ""  # step/5 < 5m
        assert q.resolution_for(SelectHints(step_ms=H, func="rate", range_ms=5 * 60_000)) == ""  # range/2 < 5m
        assert q.resolution_for(SelectHints(step_ms=H, max_source_resolution="raw")) == ""
        assert q.resolution_for(SelectHints(step_ms=60_000, max_source_resolution="5m")) == "5m"
        with pytest.raises(InvalidArgumentError, match="max_source_resolution"):
            q.resolution_for(SelectHints(step_ms=H, max_source_resolution="2m"))
    finally:
        q.close()
    with pytest.raises(InvalidArgumentError, match="max_source_resolution"):
        Engine(db).range("g", T0, T0 + H, H, "10m")
    # where raw data no longer exists, the finest tier answers even when it is coarser than allowed
    from tsdb.storage.tiers.querier import TieredQuerier

    raw_from = T0 + 24 * H  # pretend raw retention removed the first day
    fallback = TieredQuerier(db.raw_querier(T0, T0 + 30 * H), db.tiers, T0, T0 + 30 * H, raw_from, db.raw_querier)
    try:
        hints = SelectHints(step_ms=60_000, func="sum_over_time", range_ms=60_000, aggregate="sum")
        assert fallback.resolution_for(hints) == "5m"
        flat = fallback.select_flat([Matcher("=", "__name__", "g")], hints)
        before = flat.ts[flat.ts < raw_from]
        assert len(before) and flat.resolution_ms == 300_000
        assert (np.diff(np.sort(before)) >= 0).all()
    finally:
        fallback.close()


def test_plain_selector_reads_window_averages(tiered: tuple[DB, int]) -> None:
    db, _ = tiered
    engine = Engine(db)
    raw = engine.range("g", T0 + 6 * H, T0 + 30 * H, H, "raw")
    tier = engine.range("g", T0 + 6 * H, T0 + 30 * H, H, "auto")
    assert raw.labels == tier.labels and tier.present.all()
    np.testing.assert_allclose(tier.values, raw.values, rtol=0.2)  # a 5m average near the last raw value


def test_boundary_between_tier_and_raw_is_continuous(tmp_path: Path) -> None:
    db, end = _fill(tmp_path, StorageOptions(wal_fsync="never"))
    try:
        assert db.tiers is not None
        # only the oldest block gets a tier: later data stays raw (the head and younger blocks)
        first = min(db.blocks, key=lambda b: b.meta.min_time)
        db.tiers.maintain([first], end + 30 * 24 * H)
        boundary = first.meta.max_time
        engine = Engine(db)
        start, stop = boundary // H * H - 6 * H, boundary // H * H + 6 * H
        for query in ("increase(c_total[1h])", "sum_over_time(g[1h])"):
            raw = engine.range(query, start, stop, H, "raw")
            mixed = engine.range(query, start, stop, H, "5m")
            assert mixed.present.all() and raw.labels == mixed.labels
            np.testing.assert_allclose(mixed.values, raw.values, rtol=1e-9)
    finally:
        db.close()


def test_tier_file_is_plain_parquet_and_retention_drops_files(tiered: tuple[DB, int], tmp_path: Path) -> None:
    db, end = tiered
    assert db.tiers is not None
    files = db.tiers.files("5m")
    table = pq.read_table(files[0].path)  # plain pyarrow, no tsdb code
    assert {"series_id", "metric", "labels", "start", "count", "sum", "min", "max", "counter_inc"} <= set(
        table.column_names)
    assert set(table.column("metric").to_pylist()) == {"c_total", "g"}
    meta = pq.ParquetFile(files[0].path).metadata
    assert meta.row_group(0).column(3).statistics.has_min_max
    # the file reads back through TierFile with matchers
    agg = files[0].select([Matcher("=", "i", "1"), Matcher("=", "__name__", "g")], -(2**62), 2**62)
    assert [lb.get("i") for lb in agg.labels] == ["1"]
    # a fresh store over a copy: leftovers of a crash (*.tmp) are removed, files reopen
    copy = tmp_path / "copy"
    (copy / "tiers" / "5m").mkdir(parents=True)
    for f in files:
        (copy / "tiers" / "5m" / f.path.name).write_bytes(f.path.read_bytes())
    (copy / "tiers" / "5m" / "123-456.parquet.tmp").write_bytes(b"half")
    store = TierStore(copy, StorageOptions(tier_retention_ms=24 * H))
    assert not list((copy / "tiers" / "5m").glob("*.tmp"))
    assert len(store.files("5m")) == len(files)
    assert store.covers("5m", files[0].mint, files[-1].maxt)
    done = store.maintain([], end + 10 * 24 * H)  # every file is older than the 1-day retention
    assert len([d for d in done if d.startswith("expired")]) == len(files)
    assert store.files("5m") == [] and not list((copy / "tiers" / "5m").glob("*.parquet"))


def test_one_hour_tier_after_ten_days_and_labels(tiered: tuple[DB, int]) -> None:
    db, end = tiered
    assert db.tiers is not None
    done = db.tiers.maintain(list(db.blocks), end + 11 * 24 * H)
    assert any(d.startswith("1h:") for d in done)
    engine = Engine(db)
    raw = engine.range("max_over_time(g[6h])", T0 + 12 * H, T0 + 48 * H, 6 * H, "raw")
    tier = engine.range("max_over_time(g[6h])", T0 + 12 * H, T0 + 48 * H, 6 * H, "1h")
    np.testing.assert_allclose(tier.values, raw.values)
    q = db.querier(T0 - 10 * H, T0 + H)  # reaches before raw data: tier label sets are included
    try:
        assert "i" in q.label_names() and q.label_values("i") == ["0", "1", "2"]
    finally:
        q.close()


def test_tier_file_names_and_errors(tmp_path: Path) -> None:
    assert parse_file_name("10-20.parquet") == (10, 20)
    assert parse_file_name("x.parquet") is None and parse_file_name("10-20.csv") is None
    from tsdb.errors import CorruptionError, StorageError
    from tsdb.storage.tiers.downsample import Aggregates

    path = write_tier_file(tmp_path, Aggregates.empty(), 300_000, 0, 10)
    assert TierFile(path).series() == []
    bad = tmp_path / "1-2.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(CorruptionError, match=r"1-2\.parquet"):
        TierFile(bad)
    with pytest.raises(StorageError, match="not a tier file"):
        TierFile(tmp_path / "nope.parquet")
