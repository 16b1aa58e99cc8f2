"""Storage engine end to end through the real ``DB`` (WAL, head, blocks): throughput, memory, replay, disk.

Figures (data: ``tsdb.bench.workload``, node-exporter-like series every 15 s):

- appender throughput, samples/s, for remote-write-shaped commits (2,000 series x 1 sample, through
  ``append_batch`` as the HTTP path does) and backfill-shaped commits (100 series x 1,000 samples);
- memory per active series: RSS delta / series after 1 sample and after 121 samples per series
  (100k series; 1M with ``--full``);
- WAL replay: close the DB of the memory run and reopen it, samples/s and WAL MB/s;
- bytes per sample on disk after ``maintain()`` (blocks + compaction), next to the same samples written
  by Prometheus's block writer (``promtool tsdb create-blocks-from openmetrics``) when promtool exists.

``--fsync always|never`` is the WAL policy (default always; "never" leaves flushing to the OS). Prints
one human line per figure, or JSON lines with ``--json``. Never asserts times.

Run: ``python -m benchmarks storage [--fsync never] [--json] [--full] [--dir DIR]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.storage_append import _rss_bytes
from tsdb.bench.workload import Workload, generate
from tsdb.config import StorageOptions
from tsdb.storage.block.meta import list_blocks
from tsdb.storage.db import DB

END_MS = 1_700_000_000_000 - 1_700_000_000_000 % 7_200_000  # 2h-aligned, as promtool aligns blocks
INTERVAL = 15_000
HOUR = 3_600_000

Report = Callable[[str, float, str, str], None]


def _reporter(as_json: bool, fsync: str) -> Report:
    def report(name: str, value: float, unit: str, note: str = "") -> None:
        if as_json:
            print(json.dumps({"benchmark": name, "value": round(value, 4), "unit": unit, "fsync": fsync,
                              "note": note}), flush=True)
        else:
            print(f"{name:<42} {value:14,.2f} {unit:<12} {note}", flush=True)
    return report


def _columns(work: Workload, steps: int) -> tuple[np.ndarray, np.ndarray]:
    n = work.num_series
    return work.ts.reshape(n, steps), work.values.reshape(n, steps)


def bench_remote_write(root: Path, options: StorageOptions, commits: int, n_series: int = 2000) -> float:
    """Samples/s for commits of ``n_series`` x 1 sample via ``append_batch`` (series exist after commit 0)."""
    steps = commits + 1
    work = generate(n_series, steps * INTERVAL, seed=1, end_ms=END_MS)
    ts, values = _columns(work, steps)
    offsets = np.arange(n_series + 1, dtype=np.int64)
    with DB.open(root / "remote_write", options) as db:
        start = time.perf_counter()
        for c in range(steps):
            if c == 1:
                start = time.perf_counter()
            app = db.appender()
            app.append_batch(work.labels, offsets, np.ascontiguousarray(ts[:, c]), np.ascontiguousarray(values[:, c]))
            result = app.commit()
            assert result.accepted == n_series, result.summary()
        return commits * n_series / (time.perf_counter() - start)


def bench_backfill(root: Path, options: StorageOptions, commits: int, n_series: int = 100,
                   per_commit: int = 1000) -> float:
    """Samples/s for commits of ``n_series`` series x ``per_commit`` samples (``append`` per series)."""
    per_series = commits * per_commit
    work = generate(n_series, per_series * INTERVAL, seed=2, end_ms=END_MS)
    total = 0
    with DB.open(root / "backfill", options) as db:
        start = time.perf_counter()
        for c in range(commits):
            app = db.appender()
            for i, labels in enumerate(work.labels):
                lo = i * per_series + c * per_commit
                app.append(labels, work.ts[lo:lo + per_commit], work.values[lo:lo + per_commit])
            total += app.commit().accepted
        return total / (time.perf_counter() - start)


def bench_memory_and_replay(root: Path, options: StorageOptions, n_series: int, samples: int,
                            report: Report) -> None:
    """RSS per series after 1 and ``samples`` samples each; then the WAL replay rate of that data."""
    work = generate(n_series, samples * INTERVAL, seed=3, end_ms=END_MS)
    ts, values = _columns(work, samples)
    offsets = np.arange(n_series + 1, dtype=np.int64)
    path = root / f"memory_{n_series}"
    gc.collect()
    before = _rss_bytes()
    db = DB.open(path, options)
    try:
        for c in range(samples):
            app = db.appender()
            app.append_batch(work.labels, offsets, np.ascontiguousarray(ts[:, c]), np.ascontiguousarray(values[:, c]))
            app.commit()
            if c == 0:
                gc.collect()
                report(f"memory/series, {n_series} series x 1", (_rss_bytes() - before) / n_series, "B/series",
                       "RSS delta")
        gc.collect()
        report(f"memory/series, {n_series} series x {samples}", (_rss_bytes() - before) / n_series, "B/series",
               "RSS delta")
        wal_bytes = db.wal_size_bytes
    finally:
        db.close()
    del db
    gc.collect()
    start = time.perf_counter()
    with DB.open(path, options) as reopened:
        elapsed = time.perf_counter() - start
        replayed = reopened.replay_stats["samples"]
    report("WAL replay (open)", replayed / elapsed, "samples/s", f"{replayed} samples in {elapsed:.2f} s")
    report("WAL replay (open)", wal_bytes / elapsed / 1e6, "MB/s", f"{wal_bytes / 1e6:.1f} MB of WAL")
    shutil.rmtree(path, ignore_errors=True)


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _openmetrics(work: Workload, maxt: int, out: Path) -> int:
    """Write the workload's samples before ``maxt`` (exclusive) as OpenMetrics text; returns the count."""
    by_metric: dict[str, list[int]] = {}
    for i, labels in enumerate(work.labels):
        by_metric.setdefault(labels.metric_name, []).append(i)
    count = 0
    with out.open("w") as f:
        for metric, rows in sorted(by_metric.items()):
            f.write(f"# TYPE {metric} gauge\n")
            for i in rows:
                labels = work.labels[i]
                rest = ",".join(f'{n}="{_escape(v)}"' for n, v in labels.items() if n != "__name__")
                ts, values = work.series(i)
                keep = ts < maxt
                count += int(keep.sum())
                f.writelines(f"{metric}{{{rest}}} {v!r} {t // 1000}.{t % 1000:03d}\n"
                             for t, v in zip(ts[keep].tolist(), values[keep].tolist(), strict=True))
        f.write("# EOF\n")
    return count


def bench_disk(root: Path, options: StorageOptions, n_series: int, hours: int, report: Report) -> None:
    """Bytes per sample in our blocks after ``maintain()``; the same samples through promtool's writer."""
    work = generate(n_series, hours * HOUR, seed=4, end_ms=END_MS)
    steps = work.num_samples // n_series
    ts, values = _columns(work, steps)
    offsets = np.arange(n_series + 1, dtype=np.int64)
    path = root / "disk"
    with DB.open(path, options) as db:
        for c in range(0, steps, 40):  # 40 scrapes per commit
            hi = min(steps, c + 40)
            app = db.appender()
            block_offsets = offsets * (hi - c)
            app.append_batch(work.labels, block_offsets, np.ascontiguousarray(ts[:, c:hi]).reshape(-1),
                             np.ascontiguousarray(values[:, c:hi]).reshape(-1))
            app.commit()
        db.maintain()
        if not db.blocks:
            report("bytes/sample on disk", float("nan"), "B/sample", "no block was persisted")
            return
        samples = sum(b.meta.stats.num_samples for b in db.blocks)
        maxt = max(b.meta.max_time for b in db.blocks)
        levels = sorted({b.meta.level for b in db.blocks})
    ours = sum(_dir_bytes(d) for d in list_blocks(path))
    ours_chunks = sum(_dir_bytes(d / "chunks") for d in list_blocks(path))
    report("bytes/sample on disk, tsdb blocks", ours / samples, "B/sample",
           f"{samples} samples, {n_series} series, levels {levels}; chunks only {ours_chunks / samples:.3f}")
    promtool = shutil.which("promtool")
    if promtool is None:
        return
    om = root / "samples.om"
    count = _openmetrics(work, maxt, om)
    theirs_dir = root / "promtool_blocks"
    proc = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(om), str(theirs_dir)],
                          capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        report("bytes/sample on disk, promtool blocks", float("nan"), "B/sample", proc.stderr.strip()[-200:])
        return
    theirs = sum(_dir_bytes(d) for d in list_blocks(theirs_dir))
    theirs_chunks = sum(_dir_bytes(d / "chunks") for d in list_blocks(theirs_dir))
    report("bytes/sample on disk, promtool blocks", theirs / count, "B/sample",
           f"{count} samples; chunks only {theirs_chunks / count:.3f}")
    report("bytes/sample ratio tsdb / promtool", (ours / samples) / (theirs / count), "x", "same samples")


def main(argv: list[str]) -> int:
    """Run the storage benchmarks (see the module docstring); returns 0."""
    parser = argparse.ArgumentParser(prog="storage", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--fsync", choices=["always", "never"], default="always", help="WAL fsync policy")
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    parser.add_argument("--full", action="store_true", help="also measure memory at 1M series")
    parser.add_argument("--commits", type=int, default=200, help="remote-write commits (2,000 samples each)")
    parser.add_argument("--series", type=int, default=100_000, help="series for the memory/replay figures")
    parser.add_argument("--samples", type=int, default=121, help="samples per series for memory/replay")
    parser.add_argument("--disk-series", type=int, default=300, help="series for the bytes-per-sample figure")
    parser.add_argument("--disk-hours", type=int, default=10, help="hours of data for the bytes-per-sample figure")
    parser.add_argument("--dir", type=Path, default=None, help="where to put data directories (default: a temp dir)")
    args = parser.parse_args(argv)
    report = _reporter(args.json, args.fsync)
    options = StorageOptions(wal_fsync=args.fsync)
    with tempfile.TemporaryDirectory(prefix="tsdb-bench-", dir=args.dir) as tmp:
        root = Path(tmp)
        bench_remote_write(root / "warm", options, 2)  # compile / warm the kernels
        report("append remote-write 2000x1 (append_batch)", bench_remote_write(root, options, args.commits),
               "samples/s", f"{args.commits} commits")
        report("append backfill 100x1000 (append)", bench_backfill(root, options, max(1, args.commits // 20)),
               "samples/s", f"{max(1, args.commits // 20)} commits")
        bench_memory_and_replay(root, options, args.series, args.samples, report)
        if args.full:
            bench_memory_and_replay(root, options, 1_000_000, args.samples, report)
        bench_disk(root, options, args.disk_series, args.disk_hours, report)
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
