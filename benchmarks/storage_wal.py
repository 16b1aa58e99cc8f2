"""WAL write throughput and replay rate (bytes + SAMPLES records).

Write: commits of ``--batch`` samples (one SAMPLES record per commit) through :meth:`WAL.log` with
the chosen fsync policy; prints MB/s and samples/s.
Replay: reads the WAL back (whole segments, fragment scan + CRC in numba) and decodes every record;
prints MB/s, records/s and samples/s, the decode-only rate, and the replay rate of SERIES records
(``--series`` series, 2 labels each). Never asserts times.

Run: ``python -m benchmarks.storage_wal [--samples 5000000] [--batch 2000] [--fsync never]``
(or ``python -m benchmarks storage_wal ...``).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from tsdb.labels import Labels
from tsdb.storage.wal import records
from tsdb.storage.wal.checkpoint import replay
from tsdb.storage.wal.reader import read_records
from tsdb.storage.wal.writer import WAL

START_MS = 1_700_000_000_000
INTERVAL = 15_000


def _batches(total: int, batch: int, n_series: int) -> list[bytes]:
    rng = np.random.default_rng(42)
    out = []
    done = 0
    step = 0
    while done < total:
        n = min(batch, total - done)
        first = (step * batch) % n_series
        refs = (first + np.arange(n, dtype=np.int64)) % n_series
        ts = np.full(n, START_MS + step * INTERVAL, dtype=np.int64) + rng.integers(0, 50, n)
        values = np.round(rng.random(n) * 1000, 2)
        out.append(records.encode_samples(refs, ts, values))
        done += n
        step += 1
    return out


def main(argv: list[str]) -> int:
    """Run the benchmark; returns 0."""
    parser = argparse.ArgumentParser(prog="storage_wal", description=__doc__)
    parser.add_argument("--samples", type=int, default=5_000_000)
    parser.add_argument("--batch", type=int, default=2_000, help="samples per commit (record)")
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--fsync", default="never", help="always | never | seconds")
    parser.add_argument("--dir", default=None, help="where to write (default: a temporary directory)")
    args = parser.parse_args(argv)
    fsync: str | float = args.fsync if args.fsync in ("always", "never") else float(args.fsync)

    sample_records = _batches(args.samples, args.batch, args.series)
    series_records = [records.encode_series(list(range(i, min(i + 1000, args.series))),
                                            [Labels({"__name__": "node_metric", "instance": f"host-{r}"})
                                             for r in range(i, min(i + 1000, args.series))])
                      for i in range(0, args.series, 1000)]
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="tsdb-wal-bench-"))
    wal_dir = base / "wal"
    series_dir = base / "wal-series"
    try:
        wal = WAL.open(wal_dir, fsync=fsync)
        t0 = time.perf_counter()
        for rec in sample_records:
            wal.log(rec)
        wal.close()
        write_s = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in wal_dir.iterdir())
        print(f"write  ({args.fsync}, {args.batch} samples/commit): {size / write_s / 1e6:7.1f} MB/s  "
              f"{args.samples / write_s / 1e6:6.2f}M samples/s  {len(sample_records) / write_s:8.0f} commits/s  "
              f"({size / 1e6:.1f} MB, {size / args.samples:.1f} B/sample)")

        list(read_records(wal_dir, to_segment=0))  # warm up: load the compiled kernel from numba's cache
        t0 = time.perf_counter()
        raw = list(read_records(wal_dir))
        read_s = time.perf_counter() - t0
        print(f"read   (segments -> records, CRC checked): {size / read_s / 1e6:7.1f} MB/s  "
              f"{len(raw) / read_s:8.0f} records/s")

        t0 = time.perf_counter()
        n = 0
        for rec in replay(wal_dir):
            if isinstance(rec, records.SamplesRecord):
                n += rec.refs.shape[0]
        replay_s = time.perf_counter() - t0
        print(f"replay samples (read + decode): {size / replay_s / 1e6:7.1f} MB/s  "
              f"{n / replay_s / 1e6:6.2f}M samples/s")

        t0 = time.perf_counter()
        for rec_bytes in sample_records:
            records.decode_samples(rec_bytes)
        decode_s = time.perf_counter() - t0
        print(f"decode SAMPLES records only: {args.samples / decode_s / 1e6:6.1f}M samples/s")

        with WAL.open(series_dir, fsync="never") as series_wal:
            for rec in series_records:
                series_wal.log(rec)
        t0 = time.perf_counter()
        n_series = sum(len(rec.labels) for rec in replay(series_dir) if isinstance(rec, records.SeriesRecord))
        series_s = time.perf_counter() - t0
        print(f"replay series (read + decode labels): {n_series / series_s / 1e3:7.0f}K series/s")
    finally:
        if args.dir is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
