"""Remote-write ingestion rate alone and while heavy queries run continuously: do queries starve writes?

1. ``--query-series`` node-exporter-like series over ``--query-hours`` (default 10,000 x 6 h) are written
   into a temporary data directory through the storage appender; ``tsdb serve`` starts on it with the default
   query limits (as many query slots as CPUs, the rest wait in the query queue) and background maintenance
   (head persistence, compaction) held off for the run, so every phase sees the same server.
2. Four remote-write workloads of ``--series`` new series over ``--ingest-hours`` (default 10,000 x 2 h,
   4.8 M samples; ``queue`` shape, 4 senders, 2,000 samples per request) are encoded before timing.
3. Phases alternate: ingestion alone, ingestion while ``--query-threads`` (default 4) client threads send
   heavy range queries over all the loaded data back to back (each with a distinct step, so the range result
   cache never answers), alone again, loaded again. The ratio of the mean loaded rate to the mean alone
   rate is printed (goal >= 90 %), with the queries completed and their median latency.

Figures are printed, never asserted. Everything binds 127.0.0.1; the server is stopped by its handle.
``python -m benchmarks ingest_under_queries [--series 10000] [--ingest-hours 2] [--query-series 10000]
[--query-hours 6] [--query-threads 4] [--query-concurrency N] [--query-niceness N] [--query-write-share X]
[--max-seconds 900]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tsdb.bench.encode import Plan, plan_requests
from tsdb.bench.ingest import IngestResult, ingest_http
from tsdb.bench.report import machine_description
from tsdb.bench.servers import LocalServer
from tsdb.bench.workload import generate
from tsdb.bench.write import write_workload
from tsdb.config import StorageOptions
from tsdb.storage.db import DB

HOUR = 3_600_000
STEP_MS = 15_000
HEAVY_QUERIES = (
    "sum by (instance) (rate(node_cpu_seconds_total[5m]))",
    "max by (instance) (quantile_over_time(0.9, node_memory_MemAvailable_bytes[30m]))",
    'count by (job) (avg_over_time({__name__=~"node_.+"}[10m]))',
    "sum by (job) (irate(node_disk_io_time_seconds_total[5m])) / on (job) group_left count by (job) (up)",
)
"""Range queries over every loaded series of their metrics; the results are small (aggregated)."""


def _write_base(path: Path, series: int, hours: int, end_ms: int, max_seconds: float) -> int:
    """The queried data, written through the appender in 2 h slices (blocks cut as it goes)."""
    work = generate(series, hours * HOUR, seed=3, end_ms=end_ms)
    with DB.open(path, StorageOptions(wal_fsync="never")) as db:
        write_workload(db, work, f"writing {series:,} x {hours} h", max_seconds,
                       f"writing took more than {max_seconds:.0f} s: use fewer --query-series", STEP_MS)
    return work.num_samples


class QueryLoad:
    """``threads`` client threads sending :data:`HEAVY_QUERIES` back to back until :meth:`stop`."""

    def __init__(self, url: str, threads: int, start_s: float, end_s: float) -> None:
        self.url = url
        self.start_s = start_s
        self.end_s = end_s
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._loop, args=(i,), name=f"bench-query-{i}", daemon=True)
                         for i in range(threads)]

    def _loop(self, index: int) -> None:
        n = 0
        while not self._stop.is_set() and n < 100_000:  # bounded: stop() ends it long before
            n += 1
            query = HEAVY_QUERIES[(index + n) % len(HEAVY_QUERIES)]
            # a distinct step per query (15 s plus a few ms): the range result cache never answers
            step = (STEP_MS + (index * 10_007 + n) % 997 + 1) / 1000
            params = urllib.parse.urlencode({"query": query, "start": f"{self.start_s:.3f}",
                                             "end": f"{self.end_s:.3f}", "step": f"{step:.3f}", "timeout": "60s"})
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/query_range?{params}", timeout=120) as response:
                    response.read()
            except (urllib.error.URLError, OSError) as err:
                with self._lock:
                    self.failures.append(str(err)[:200])
                self._stop.wait(0.5)
                continue
            with self._lock:
                self.latencies.append(time.perf_counter() - started)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=180)


def _plan(series: int, hours: int, end_ms: int, tag: str) -> Plan:
    work = generate(series, hours * HOUR, seed=5, end_ms=end_ms)
    return plan_requests(work, senders=4, shape="queue", samples_per_request=2000,
                         extra_labels={"bench_phase": tag}, keep_payloads=False)


def _line(name: str, result: IngestResult) -> str:
    cpu = f", server CPU {result.server_cpu_seconds:.1f} s" if result.server_cpu_seconds is not None else ""
    return (f"  {name:<22} {result.samples_per_second:>12,.0f} samples/s  ({result.accepted:,} accepted, "
            f"{result.rejected:,} rejected in {result.seconds:.1f} s; request p50 {result.latency_p50_ms:.0f} ms, "
            f"p99 {result.latency_p99_ms:.0f} ms{cpu})")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks ingest_under_queries")
    parser.add_argument("--series", type=int, default=10_000, help="remote-written series per phase")
    parser.add_argument("--ingest-hours", type=int, default=2, help="hours of 15 s samples per phase")
    parser.add_argument("--query-series", type=int, default=10_000, help="series loaded for the queries")
    parser.add_argument("--query-hours", type=int, default=6, help="hours loaded for the queries")
    parser.add_argument("--query-threads", type=int, default=4, help="heavy queries running at once")
    parser.add_argument("--query-concurrency", type=int, default=0,
                        help="the server's --query.max-concurrency (default 0: its default, the number of CPUs)")
    parser.add_argument("--query-niceness", type=int, default=None,
                        help="the server's query.thread_niceness (default: its default, 19)")
    parser.add_argument("--query-write-share", type=float, default=None,
                        help="the server's query.write_share (default: its default, 0.25; 1 = queries never pause)")
    parser.add_argument("--max-seconds", type=float, default=900, help="bound of each phase")
    args = parser.parse_args(argv)
    print(f"ingest_under_queries on {machine_description()}", flush=True)
    now_ms = int(time.time() * 1000) // STEP_MS * STEP_MS
    with tempfile.TemporaryDirectory(prefix="tsdb-bench-") as tmp:
        data = Path(tmp) / "data"
        base_end = now_ms - 3 * HOUR  # the queried data ends before the ingested data begins
        loaded = _write_base(data, args.query_series, args.query_hours, base_end, args.max_seconds)
        print(f"  queried data: {loaded:,} samples ({args.query_series:,} series x {args.query_hours} h)", flush=True)
        started = time.monotonic()
        phases = ("alone", "loaded", "alone again", "loaded again")
        plans = {tag: _plan(args.series, args.ingest_hours, now_ms, tag.replace(" ", "_")) for tag in phases}
        print(f"  encoded {len(plans)} x {plans['alone'].num_samples:,} samples in "
              f"{time.monotonic() - started:.1f} s", flush=True)
        config = Path(tmp) / "tsdb.yml"
        query_options = "".join(f"  {key}: {value}\n" for key, value in (
            ("thread_niceness", args.query_niceness), ("write_share", args.query_write_share)) if value is not None)
        config.write_text("storage:\n  compaction_interval: 24h\n"  # no maintenance during the phases
                          + (f"query:\n{query_options}" if query_options else ""))
        extra = ["--config", str(config)]
        if args.query_concurrency:
            extra += ["--query.max-concurrency", str(args.query_concurrency)]
        server = LocalServer("tsdb", data, extra_args=tuple(extra)).start()
        rates: dict[str, float] = {}
        latencies: list[float] = []
        failures: list[str] = []
        try:
            start_s, end_s = (base_end - args.query_hours * HOUR) / 1000, base_end / 1000
            for query in HEAVY_QUERIES:  # warm up: kernels compiled or loaded, blocks opened
                params = urllib.parse.urlencode({"query": query, "start": f"{start_s:.3f}", "end": f"{end_s:.3f}",
                                                 "step": "15"})
                with urllib.request.urlopen(f"{server.url}/api/v1/query_range?{params}", timeout=300) as response:
                    response.read()
            for tag in phases:
                load = QueryLoad(server.url, args.query_threads, start_s, end_s) if "loaded" in tag else None
                if load is not None:
                    load.start()
                    time.sleep(2)  # the queries are running
                try:
                    result = ingest_http(server.url, plans[tag], server.pid, args.max_seconds, show_progress=True)
                finally:
                    if load is not None:
                        load.stop()
                        latencies += load.latencies
                        failures += load.failures
                rates[tag] = result.samples_per_second
                name = f"{tag} ({args.query_threads} queries)" if load is not None else tag
                print(_line(name, result), flush=True)
        finally:
            server.stop()
    alone = (rates["alone"] + rates["alone again"]) / 2
    under = (rates["loaded"] + rates["loaded again"]) / 2
    median = statistics.median(latencies) if latencies else 0.0
    print(f"  queries completed while loaded: {len(latencies)} (median {median:.2f} s), failed: {len(failures)}"
          f"{' e.g. ' + failures[0] if failures else ''}")
    print(f"  ingestion under queries / alone: {under / alone if alone else 0.0:.1%} (goal >= 90%)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
