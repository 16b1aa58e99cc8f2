"""How long a clean stop takes with a day of data, how long the next start takes, and that nothing is lost.

1. ``tsdb serve`` starts on a fresh data directory and receives ``--series`` node-exporter-like series over
   ``--hours`` (default 10,000 x 24 h, 57.6 M samples, 15 s interval, ending now) by remote-write (4 senders,
   2,000 samples per request, ``queue`` shape).
2. Right after the last write is acknowledged (background maintenance is then busy persisting the head
   as blocks), the server gets SIGTERM; *stop* is the time until the process has exited.
3. The server starts again on the same directory; *start* is the time until ``/-/ready`` answers 200 (the
   WAL replayed). It is stopped again after ``--settle-seconds`` (maintenance running or done), and started
   a last time.
4. The stored samples are counted with ``sum(count_over_time({job="node"}[2h]))`` over the whole range, 2 h
   at a time, and compared with the samples acknowledged.

Figures are printed, never asserted. Everything binds 127.0.0.1; the server is stopped by its handle.
``python -m benchmarks shutdown [--series 10000] [--hours 24] [--settle-seconds 20] [--max-seconds 1800]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from tsdb.bench.encode import plan_requests
from tsdb.bench.ingest import ingest_http
from tsdb.bench.report import machine_description
from tsdb.bench.servers import LocalServer
from tsdb.bench.workload import generate

HOUR_MS = 3_600_000


def _timed_start(data: Path, extra: tuple[str, ...], timeout_s: float) -> tuple[LocalServer, float]:
    """A tsdb server started on ``data`` and the seconds until it was ready."""
    server = LocalServer("tsdb", data, ready_timeout_s=timeout_s, extra_args=extra)
    started = time.perf_counter()
    server.start()
    return server, time.perf_counter() - started


def _timed_stop(server: LocalServer, timeout_s: float) -> tuple[float, int | None]:
    """SIGTERM ``server``; the seconds until it exited and its exit code (SIGKILL after ``timeout_s``)."""
    started = time.perf_counter()
    code = server.stop(timeout_s)
    seconds = time.perf_counter() - started
    for line in server.log_tail(20_000).splitlines():  # the server names its slow stop steps
        if "slow stop step" in line or "slow to stop" in line:
            print(f"    server: {line.strip()}", flush=True)
    return seconds, code


def _stored_samples(url: str, start_ms: int, end_ms: int, slice_ms: int = 2 * HOUR_MS) -> int:
    """Samples of the workload's series stored between ``start_ms`` and ``end_ms`` (inclusive), counted in
    slices of ``slice_ms`` so that no query passes the server's sample limit."""
    total = 0
    for slice_end in range(end_ms, start_ms - 1, -slice_ms):
        # a selector [t - slice, t] is left-open: it holds the samples in (t - slice_ms, t]
        params = urllib.parse.urlencode({"query": f'sum(count_over_time({{job="node"}}[{slice_ms}ms]))',
                                         "time": f"{slice_end / 1000:.3f}"})
        with urllib.request.urlopen(f"{url}/api/v1/query?{params}", timeout=600) as response:
            result = json.loads(response.read())["data"]["result"]
        total += int(float(result[0]["value"][1])) if result else 0
    return total


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks shutdown")
    parser.add_argument("--series", type=int, default=10_000, help="remote-written series")
    parser.add_argument("--hours", type=int, default=24, help="hours of 15 s samples, ending now")
    parser.add_argument("--settle-seconds", type=float, default=20.0,
                        help="how long the second run serves before its stop")
    parser.add_argument("--max-seconds", type=float, default=1800, help="bound of the ingestion and of each wait")
    args = parser.parse_args(argv)
    print(f"shutdown on {machine_description()}", flush=True)
    end_ms = int(time.time() * 1000) // 15_000 * 15_000
    work = generate(args.series, args.hours * HOUR_MS, seed=7, end_ms=end_ms)
    plan = plan_requests(work, senders=4, shape="queue", samples_per_request=2000, keep_payloads=False)
    print(f"  encoded {plan.num_samples:,} samples ({args.series:,} series x {args.hours} h) in "
          f"{plan.encode_seconds:.1f} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="tsdb-bench-") as tmp:
        data = Path(tmp) / "data"
        server, first_start = _timed_start(data, (), args.max_seconds)
        try:
            result = ingest_http(server.url, plan, server.pid, args.max_seconds, show_progress=True)
        except BaseException:
            server.stop()
            raise
        print(f"  ingested {result.accepted:,} samples at {result.samples_per_second:,.0f}/s "
              f"({result.rejected:,} rejected, errors: {result.errors[:1] or 'none'})", flush=True)
        def record(name: str, seconds: float) -> None:
            print(f"  {name:<48} {seconds:8.2f} s", flush=True)

        record("start on an empty directory", first_start)
        stop_s, code = _timed_stop(server, args.max_seconds)
        record(f"stop right after the ingest (exit code {code})", stop_s)
        server, start_s = _timed_start(data, (), args.max_seconds)
        record("start: WAL replay", start_s)
        time.sleep(args.settle_seconds)
        stop_s, code = _timed_stop(server, args.max_seconds)
        record(f"stop after {args.settle_seconds:.0f} s of serving (exit code {code})", stop_s)
        server, start_s = _timed_start(data, (), args.max_seconds)
        record("start again", start_s)
        try:
            stored = _stored_samples(server.url, plan.mint, plan.maxt)
        finally:
            stop_s, code = _timed_stop(server, args.max_seconds)
        record(f"final stop (exit code {code})", stop_s)
    lost = result.accepted - stored
    print(f"  samples acknowledged {result.accepted:,}, stored after the restarts {stored:,}, lost {lost:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
