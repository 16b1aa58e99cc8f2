"""Downsampled tiers: size per sample and long-range query latency on tiers versus raw blocks.

1. The benchmark workload (``tsdb.bench.workload``, ``--series`` x ``--days``, 15 s interval) is written
   through the normal path (appender, WAL off, blocks cut and compacted by ``DB.maintain``), then every
   block is downsampled into the 5m and 1h tiers. Printed: bytes per raw sample (blocks) and per
   represented raw sample and per aggregate row for each tier.
2. A 30-day dashboard query set at a 1 h step runs with ``max_source_resolution=raw`` and ``auto``
   (median of ``--repeats``); the ratio raw/tier is printed (goal: >= 20x).
3. Two years of 1h tier data for ``--two-year-series`` series are generated directly (not downsampled
   from raw) and a query at a 1-day step over the whole range is timed (goal: under 2 s at 10k series).

Times are printed, never asserted. ``python -m benchmarks tiers [--series 100] [--days 30]
[--two-year-series 1000] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tsdb.bench.workload import generate
from tsdb.config import StorageOptions
from tsdb.labels import Labels
from tsdb.query.engine.engine import Engine
from tsdb.storage.db import DB
from tsdb.storage.tiers.downsample import RESOLUTIONS, Aggregates
from tsdb.storage.tiers.parquet import write_tier_file

H = 3_600_000
DAY = 24 * H

QUERIES = [
    ("sum-rate", "sum(rate({__name__=~\"node_cpu.*|node_network.*\"}[1h]))"),
    ("avg-by-instance", "avg by (instance) (avg_over_time({__name__=~\"node_memory.*\"}[1h]))"),
    ("max-over-time", "max(max_over_time({__name__=~\"node_load.*\"}[1h]))"),
]


def _dir_bytes(path: Path, pattern: str = "*") -> int:
    return sum(p.stat().st_size for p in path.rglob(pattern) if p.is_file())


def _median_s(fn: object, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def build(path: Path, series: int, days: int, max_seconds: float) -> tuple[DB, int, int]:
    """Write the workload day by day; returns (db, raw samples, end ms)."""
    end = int(time.time() * 1000) // H * H - 3 * DAY  # old enough for both tiers after ``now + 11 days``
    work = generate(series, days * DAY, seed=5, end_ms=end)
    n = len(work.ts) // max(1, series)
    ts = work.ts.reshape(series, n)
    values = work.values.reshape(series, n)
    db = DB.open(path, StorageOptions(wal_fsync="never"))
    per = 2 * H // 15_000
    started = time.monotonic()
    for lo in range(0, n, per):
        app = db.appender()
        hi = min(n, lo + per)
        counts = np.full(series, hi - lo, dtype=np.int64)
        offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        app.append_batch(work.labels, offsets, np.ascontiguousarray(ts[:, lo:hi]).reshape(-1),
                         np.ascontiguousarray(values[:, lo:hi]).reshape(-1))
        app.commit()
        if (lo // per) % 6 == 5:
            db.maintain(now_ms=int(ts[0, hi - 1]))
            print(f"  written {hi / n:5.1%} ({time.monotonic() - started:.0f} s)", file=sys.stderr)
        if time.monotonic() - started > max_seconds:
            raise SystemExit(f"building the workload took more than {max_seconds} s: use fewer series or days")
    db.maintain(now_ms=end + DAY)
    return db, len(work.ts), end


def two_year_query(path: Path, series: int, repeats: int) -> tuple[float, int]:
    """Generate 2 years of 1h tier files (one per 30 days) directly; time a 1-day-step query over them."""
    end = int(time.time() * 1000) // DAY * DAY
    start = end - 730 * DAY
    rng = np.random.default_rng(11)
    labels = sorted(Labels({"__name__": "kpi_requests", "instance": f"host-{i:05d}", "job": "app"})
                    for i in range(series))
    tier_dir = path / "tiers" / "1h"
    for lo in range(start, end, 30 * DAY):
        hi = min(end, lo + 30 * DAY)
        windows = np.arange(lo, hi, H, dtype=np.int64)
        w = len(windows)
        start_col = np.tile(windows, series)
        count = np.full(w * series, 240, dtype=np.int64)
        avg = rng.normal(100, 10, w * series)
        inc = rng.exponential(300, w * series)
        agg = Aggregates(labels, (np.arange(series + 1) * w).astype(np.int64), start_col, count,
                         start_col, start_col + H - 15_000, avg * 240, avg - 5, avg + 5, avg, avg, inc)
        write_tier_file(tier_dir, agg, RESOLUTIONS["1h"], lo, hi - 1)
    db = DB.open(path, StorageOptions(wal_fsync="never"))
    try:
        engine = Engine(db)
        query = "sum(rate(kpi_requests[1d]))"
        result = engine.range(query, start + DAY, end, DAY)
        points = int(result.present.sum())
        return _median_s(lambda: engine.range(query, start + DAY, end, DAY), repeats), points
    finally:
        db.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks tiers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=100, help="series in the 30-day workload (default 100)")
    parser.add_argument("--days", type=int, default=30, help="days of raw data (default 30)")
    parser.add_argument("--two-year-series", type=int, default=1000,
                        help="series of the generated 2-year 1h tier (default 1000; the goal is stated at 10000)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-seconds", type=float, default=900, help="bound on building the workload")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tsdb-tiers-") as tmp:
        root = Path(tmp)
        print(f"workload: {args.series} series x {args.days} days at 15 s")
        started = time.monotonic()
        db, samples, end = build(root / "raw", args.series, args.days, args.max_seconds)
        try:
            assert db.tiers is not None
            t0 = time.monotonic()
            db.tiers.maintain(list(db.blocks), end + 11 * DAY)
            print(f"built in {t0 - started:.0f} s, downsampled in {time.monotonic() - t0:.1f} s")
            raw_bytes = _dir_bytes(root / "raw", "index") + sum(
                _dir_bytes(b.dir / "chunks") for b in db.blocks)
            print(f"raw blocks: {raw_bytes / samples:.2f} bytes/sample ({samples:,} samples)")
            for name in RESOLUTIONS:
                files = db.tiers.files(name)
                size = sum(f.size_bytes() for f in files)
                rows = sum(int(f.select([], -(2**62), 2**62).num_rows) for f in files) if files else 0
                print(f"tier {name}: {size / samples:.3f} bytes per raw sample represented, "
                      f"{size / max(1, rows):.1f} bytes per aggregate row ({rows:,} rows, {len(files)} files)")
            engine = Engine(db)
            q_end = end // H * H
            q_start = q_end - args.days * DAY + DAY
            print(f"\n30-day queries at a 1 h step (median of {args.repeats}):")
            print(f"{'query':18} {'raw s':>8} {'tier s':>8} {'raw/tier':>9}")
            for label, query in QUERIES:
                raw_s = _median_s(lambda q=query: engine.range(q, q_start, q_end, H, "raw"), args.repeats)
                tier_s = _median_s(lambda q=query: engine.range(q, q_start, q_end, H, "auto"), args.repeats)
                print(f"{label:18} {raw_s:8.3f} {tier_s:8.3f} {raw_s / tier_s:8.1f}x")
        finally:
            db.close()
        seconds, points = two_year_query(root / "two-years", args.two_year_series, args.repeats)
        print(f"\n2-year query at a 1-day step over {args.two_year_series} series (1h tier): {seconds:.3f} s "
              f"({points} points; the goal, < 2 s, is stated at 10,000 series: --two-year-series 10000)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
