"""Head appender throughput and memory per series (no WAL: ``wal_write`` is a no-op).

Data: ``tsdb.bench.workload`` (node-exporter-like series, 15 s interval). Shapes: "remote-write"
(commits of 2,000 series x 1 sample, through ``append`` per series and through the columnar
``append_batch``) and "backfill" (commits of 100 series x 1,000 samples). Prints samples/s; never
asserts times. Memory: RSS delta per series after creating N series with one sample each, and after
121 samples each (one encoded chunk + the open chunk's raw samples).

Run: ``python -m benchmarks.storage_append [--series 100000] [--commits 200]``.
"""

from __future__ import annotations

import argparse
import gc
import resource
import time
from pathlib import Path

import numpy as np

from tsdb.bench.workload import generate
from tsdb.storage.head.head import Head

END_MS = 1_700_000_000_000
INTERVAL = 15_000


def _rss_bytes() -> int:
    """Current resident set size (Linux /proc), falling back to the peak from getrusage."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _noop_wal(*_: object) -> None:
    return None


def bench_remote_write(commits: int, per_series: bool, n_series: int = 2000) -> float:
    """Samples/s for commits of ``n_series`` series x 1 sample (series exist after the first commit)."""
    work = generate(n_series, (commits + 1) * INTERVAL, seed=1, end_ms=END_MS)
    steps = (commits + 1)
    ts = work.ts.reshape(n_series, steps)
    values = work.values.reshape(n_series, steps)
    offsets = np.arange(n_series + 1, dtype=np.int64)
    head = Head(wal_write=_noop_wal)
    start = time.perf_counter()
    for c in range(steps):
        if c == 1:  # the first commit creates the series; time the steady state only
            start = time.perf_counter()
        app = head.appender()
        col_ts = np.ascontiguousarray(ts[:, c])
        col_values = np.ascontiguousarray(values[:, c])
        if per_series:
            for i, labels in enumerate(work.labels):  # per-series arrays, as a decoder hands them over
                app.append(labels, col_ts[i:i + 1], col_values[i:i + 1])
        else:
            app.append_batch(work.labels, offsets, col_ts, col_values)
        result = app.commit()
        assert result.accepted == n_series, result.summary()
    return commits * n_series / (time.perf_counter() - start)


def bench_backfill(commits: int, n_series: int = 100, per_commit: int = 1000) -> float:
    """Samples/s for commits of ``n_series`` series x ``per_commit`` samples each."""
    work = generate(n_series, commits * per_commit * INTERVAL, seed=2, end_ms=END_MS)
    per_series = commits * per_commit
    head = Head(wal_write=_noop_wal)
    total = 0
    elapsed = 0.0
    for c in range(commits):
        start = time.perf_counter()
        app = head.appender()
        for i, labels in enumerate(work.labels):
            lo = i * per_series + c * per_commit
            app.append(labels, work.ts[lo:lo + per_commit], work.values[lo:lo + per_commit])
        total += app.commit().accepted
        elapsed += time.perf_counter() - start
    return total / elapsed


def bench_memory(n_series: int, samples: int = 121) -> tuple[float, float, Head]:
    """RSS bytes per series: with 1 sample each, then with ``samples`` samples each."""
    work = generate(n_series, samples * INTERVAL, seed=3, end_ms=END_MS)
    ts = work.ts.reshape(n_series, samples)
    values = work.values.reshape(n_series, samples)
    offsets = np.arange(n_series + 1, dtype=np.int64)
    gc.collect()
    before = _rss_bytes()
    head = Head(wal_write=_noop_wal)
    one = 0.0
    for c in range(samples):
        app = head.appender()
        app.append_batch(work.labels, offsets, np.ascontiguousarray(ts[:, c]), np.ascontiguousarray(values[:, c]))
        app.commit()
        if c == 0:
            gc.collect()
            one = (_rss_bytes() - before) / n_series
    gc.collect()
    full = (_rss_bytes() - before) / n_series
    return one, full, head


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="storage_append", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--series", type=int, default=100_000, help="series for the memory figure")
    parser.add_argument("--commits", type=int, default=200, help="commits per throughput figure")
    args = parser.parse_args(argv)
    bench_remote_write(2, per_series=False)  # compile / warm the kernels
    rw_batch = bench_remote_write(args.commits, per_series=False)
    rw_series = bench_remote_write(args.commits, per_series=True)
    backfill = bench_backfill(max(1, args.commits // 20))
    print(f"remote-write 2000x1, append_batch : {rw_batch / 1e6:8.2f} M samples/s")
    print(f"remote-write 2000x1, append/series: {rw_series / 1e6:8.2f} M samples/s")
    print(f"backfill 100x1000, append/series  : {backfill / 1e6:8.2f} M samples/s")
    one, full, head = bench_memory(args.series)
    stats = head.stats()
    encoded = int(head.chunk_count[: head.num_chunks].sum())
    print(f"memory at {args.series} series: {one:7.0f} B/series (1 sample), {full:7.0f} B/series (121 samples; "
          f"{stats.num_chunks} chunks, {stats.chunk_bytes / max(1, encoded):.2f} B/encoded sample)")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
