"""WAL write throughput and replay rate (bytes + SAMPLES records).

Write: commits of ``--batch`` samples (one SAMPLES record per commit) of node-exporter-like series (the
``tsdb bench`` workload, in time order as remote-write delivers them) through :meth:`WAL.log` with the chosen
fsync policy and WAL compression; prints MB/s, samples/s and bytes per sample, and with ``--compression
both`` (the default) the snappy/none ratios of size and write time.
Replay: reads the WAL back (whole segments, fragment scan + CRC in numba) and decodes every record;
prints MB/s, records/s and samples/s, the decode-only rate, and the replay rate of SERIES records
(``--series`` series, 2 labels each). Never asserts times.

Run: ``python -m benchmarks.storage_wal [--samples 5000000] [--batch 2000] [--fsync never]
[--compression both|snappy|none]``
(or ``python -m benchmarks storage_wal ...``).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from tsdb.bench.workload import generate
from tsdb.labels import Labels
from tsdb.storage.wal import records
from tsdb.storage.wal.checkpoint import replay
from tsdb.storage.wal.reader import read_records
from tsdb.storage.wal.writer import WAL

START_MS = 1_700_000_000_000
INTERVAL = 15_000


def _batches(total: int, batch: int, n_series: int) -> list[bytes]:
    """SAMPLES records of ``batch`` samples: every series' sample of one scrape, then the next scrape's."""
    per_series = max(1, -(-total // n_series))
    workload = generate(n_series, per_series * INTERVAL, INTERVAL, seed=42, end_ms=START_MS + per_series * INTERVAL)
    ts = workload.ts.reshape(n_series, per_series).T.reshape(-1)[:total]  # time-major, as senders send
    values = workload.values.reshape(n_series, per_series).T.reshape(-1)[:total]
    refs = np.tile(np.arange(n_series, dtype=np.int64), per_series)[:total]
    return [records.encode_samples(refs[i:i + batch], ts[i:i + batch], values[i:i + batch])
            for i in range(0, total, batch)]


def _write(wal_dir: Path, sample_records: list[bytes], fsync: str | float, compression: str) -> tuple[int, float]:
    """Write every record, one commit each; ``(bytes on disk, seconds)``."""
    wal = WAL.open(wal_dir, fsync=fsync, compression=compression)
    t0 = time.perf_counter()
    for rec in sample_records:
        wal.log(rec)
    wal.close()
    return sum(p.stat().st_size for p in wal_dir.iterdir()), time.perf_counter() - t0


def main(argv: list[str]) -> int:
    """Run the benchmark; returns 0."""
    parser = argparse.ArgumentParser(prog="storage_wal", description=__doc__)
    parser.add_argument("--samples", type=int, default=5_000_000)
    parser.add_argument("--batch", type=int, default=2_000, help="samples per commit (record)")
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--fsync", default="never", help="always | never | seconds")
    parser.add_argument("--dir", default=None, help="where to write (default: a temporary directory)")
    parser.add_argument("--compression", default="both", choices=["both", "snappy", "none"],
                        help="WAL record compression to measure (default both; reads use the last)")
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
        written: dict[str, tuple[int, float]] = {}
        for compression in (["none", "snappy"] if args.compression == "both" else [args.compression]):
            shutil.rmtree(wal_dir, ignore_errors=True)
            size, write_s = written[compression] = _write(wal_dir, sample_records, fsync, compression)
            print(f"write  ({args.fsync}, {args.batch} samples/commit, {compression}): "
                  f"{size / write_s / 1e6:7.1f} MB/s  {args.samples / write_s / 1e6:6.2f}M samples/s  "
                  f"{len(sample_records) / write_s:8.0f} commits/s  ({size / 1e6:.1f} MB, "
                  f"{size / args.samples:.2f} B/sample)")
        if len(written) == 2:
            print(f"snappy/none: size {written['snappy'][0] / written['none'][0]:.2f}x, "
                  f"write time {written['snappy'][1] / written['none'][1]:.2f}x")

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
            for series_rec in series_records:
                series_wal.log(series_rec)
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
