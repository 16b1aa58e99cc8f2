"""Query latency benchmark: our engine (in-process and over HTTP) against Prometheus on the same data.

The benchmark workload (``tsdb.bench.workload``; default 2,000 series x 6 h, ``--series``/``--hours``) is
loaded into a tsdb DB and, through ``promtool tsdb create-blocks-from openmetrics``, into a Prometheus
data directory. A dashboard-style query set (rate + sum by over 1 h at 15 s and the whole span at 60 s,
regex matchers, topk, avg_over_time, a ratio of two aggregations, instant queries) is run ``--repeats``
times per target after one warm-up run; the median latency per query and the ratio to Prometheus are
printed. Times are reported, never asserted. Servers bind 127.0.0.1 and are killed by PID.

    python -m benchmarks query [--series 2000] [--hours 6] [--repeats 5] [--no-prometheus] [--no-http]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tsdb.bench.workload import Workload, generate
from tsdb.config import StorageOptions
from tsdb.query.engine.engine import Engine
from tsdb.storage.db import DB

HOUR = 3_600_000
ROOT = Path(__file__).resolve().parents[1]


def query_set(end_ms: int, span_ms: int) -> list[tuple[str, str, int, int, int]]:
    """(name, query, start_ms, end_ms, step_ms); step 0 means an instant query at end_ms."""
    h1 = (end_ms - HOUR, end_ms, 15_000)
    whole = (end_ms - span_ms + 10 * 60_000, end_ms, 60_000)
    return [
        ("sum-rate-1h@15s", "sum by (instance) (rate(node_cpu_seconds_total[5m]))", *h1),
        ("sum-rate-span@60s", "sum by (instance) (rate(node_cpu_seconds_total[5m]))", *whole),
        ("regex-rate-1h@15s", 'rate(node_network_receive_packets_total{instance=~"host-1.*"}[5m])', *h1),
        ("topk-rate-1h@15s", "topk(5, rate(node_context_switches_total[5m]))", *h1),
        ("avg_over_time-span@60s", "avg_over_time(node_load1[10m])", *whole),
        ("ratio-1h@15s", "sum by (instance) (rate(node_disk_io_time_seconds_total[5m])) / "
                         "sum by (instance) (rate(node_cpu_seconds_total[5m]))", *h1),
        ("instant-sum", "sum(node_memory_MemAvailable_bytes)", end_ms, end_ms, 0),
        ("instant-count-by-name", 'count by (__name__) ({job="node"})', end_ms, end_ms, 0),
        ("instant-max-regex", 'max by (instance) (node_hwmon_temp_celsius{instance!~"host-0.*"})',
         end_ms, end_ms, 0),
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _median_s(run: Callable[[], object], repeats: int, counts: dict[str, int] | None = None,
              key: str = "") -> float:
    first = run()  # warm-up (JIT compilation, caches)
    if counts is not None and isinstance(first, dict):
        counts[key] = len(first["data"]["result"])
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _http_query(base: str, query: str, start: int, end: int, step: int) -> Callable[[], object]:
    if step:
        params = {"query": query, "start": f"{start / 1000:.3f}", "end": f"{end / 1000:.3f}",
                  "step": f"{step / 1000:g}"}
        url = base + "/api/v1/query_range?" + urllib.parse.urlencode(params)
    else:
        url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": query, "time": f"{end / 1000:.3f}"})

    def run() -> object:
        with urllib.request.urlopen(url, timeout=600) as response:
            body = json.loads(response.read())
        if body.get("status") != "success":
            raise RuntimeError(f"{url}: {body}")
        return body

    return run


def _engine_query(engine: Engine, query: str, start: int, end: int, step: int) -> Callable[[], object]:
    def run() -> object:
        return engine.range(query, start, end, step) if step else engine.instant(query, end)

    return run


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/-/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {timeout_s}s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def load_db(work: Workload, path: Path) -> None:
    """Append the workload to a DB at ``path`` (40 scrapes per commit) and close it."""
    steps = work.num_samples // work.num_series
    ts = work.ts.reshape(work.num_series, steps)
    values = work.values.reshape(work.num_series, steps)
    with DB.open(path, StorageOptions()) as db:
        for c in range(0, steps, 40):
            hi = min(steps, c + 40)
            offsets = np.arange(work.num_series + 1, dtype=np.int64) * (hi - c)
            app = db.appender()
            app.append_batch(work.labels, offsets, np.ascontiguousarray(ts[:, c:hi]).reshape(-1),
                             np.ascontiguousarray(values[:, c:hi]).reshape(-1))
            app.commit()


def write_openmetrics(work: Workload, out: Path) -> None:
    """The workload as OpenMetrics text (every metric typed gauge) for promtool."""
    by_metric: dict[str, list[int]] = {}
    for i, labels in enumerate(work.labels):
        by_metric.setdefault(labels.metric_name, []).append(i)
    with out.open("w") as f:
        for metric, rows in sorted(by_metric.items()):
            f.write(f"# TYPE {metric} gauge\n")
            for i in rows:
                rest = ",".join(f'{n}="{v}"' for n, v in work.labels[i].items() if n != "__name__")
                ts, values = work.series(i)
                f.writelines(f"{metric}{{{rest}}} {v!r} {t // 1000}.{t % 1000:03d}\n"
                             for t, v in zip(ts.tolist(), values.tolist(), strict=True))
        f.write("# EOF\n")


def main(argv: list[str]) -> int:
    """Run the benchmark and print a table; 0 on success."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks query", description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=2000, help="number of series (default 2000)")
    parser.add_argument("--hours", type=int, default=6, help="time span in hours (default 6)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per query (default 5)")
    parser.add_argument("--no-prometheus", action="store_true", help="skip Prometheus")
    parser.add_argument("--no-http", action="store_true", help="skip our HTTP server")
    args = parser.parse_args(argv)

    end_ms = int(time.time() * 1000) // 60_000 * 60_000
    span = args.hours * HOUR
    work = generate(args.series, span, seed=11, end_ms=end_ms)
    queries = query_set(end_ms, span)
    results: dict[str, dict[str, float]] = {name: {} for name, *_ in queries}
    counts: dict[str, dict[str, int]] = {}
    print(f"workload: {work.num_series} series, {work.num_samples} samples over {args.hours} h", flush=True)
    with tempfile.TemporaryDirectory(prefix="tsdb-bench-query-") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        load_db(work, root / "tsdb")
        print(f"loaded tsdb DB in {time.perf_counter() - t:.1f} s", flush=True)
        with DB.open(root / "tsdb", StorageOptions()) as db:
            engine = Engine(db)
            for name, query, start, end, step in queries:
                results[name]["tsdb"] = _median_s(_engine_query(engine, query, start, end, step), args.repeats)
        if not args.no_http:
            port = _free_port()
            url = f"http://127.0.0.1:{port}"
            log = (root / "serve.log").open("wb")
            proc = subprocess.Popen([sys.executable, "-m", "tsdb.cli", "serve", "--data-dir", str(root / "tsdb"),
                                     "--http-listen", f"127.0.0.1:{port}", "--grpc-listen",
                                     f"127.0.0.1:{_free_port()}"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            try:
                _wait_ready(url, proc, 600)
                for name, query, start, end, step in queries:
                    results[name]["tsdb-http"] = _median_s(_http_query(url, query, start, end, step), args.repeats,
                                                           counts.setdefault(name, {}), "tsdb")
            finally:
                _stop(proc)
                log.close()
        prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
        if not args.no_prometheus and prometheus and promtool:
            om = root / "workload.om"
            write_openmetrics(work, om)
            data = root / "prom-data"
            t = time.perf_counter()
            subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(om), str(data)],
                           check=True, capture_output=True, timeout=1800)
            om.unlink()
            print(f"promtool blocks in {time.perf_counter() - t:.1f} s", flush=True)
            (root / "prometheus.yml").write_text("global:\n  scrape_interval: 1m\n")
            port = _free_port()
            url = f"http://127.0.0.1:{port}"
            log = (root / "prometheus.log").open("wb")
            proc = subprocess.Popen([prometheus, f"--config.file={root / 'prometheus.yml'}",
                                     f"--storage.tsdb.path={data}", f"--web.listen-address=127.0.0.1:{port}",
                                     "--storage.tsdb.retention.time=100y"],
                                    cwd=root, stdout=log, stderr=subprocess.STDOUT)
            try:
                _wait_ready(url, proc, 300)
                for name, query, start, end, step in queries:
                    results[name]["prometheus"] = _median_s(_http_query(url, query, start, end, step),
                                                            args.repeats, counts.setdefault(name, {}), "prom")
            finally:
                _stop(proc)
                log.close()
    print(f"\nmedian latency over {args.repeats} runs (ms); ratio = ours / prometheus; "
          "series = result series (tsdb/prometheus)")
    print(f"{'query':26} {'tsdb':>9} {'tsdb-http':>10} {'prometheus':>11} {'ratio':>7} {'ratio-http':>10} "
          f"{'series':>11}")
    for name, times in results.items():
        def ms(key: str, times: dict[str, float] = times) -> str:
            return f"{times[key] * 1000:.1f}" if key in times else "-"

        def ratio(key: str, times: dict[str, float] = times) -> str:
            return f"{times[key] / times['prometheus']:.1f}x" if key in times and "prometheus" in times else "-"

        print(f"{name:26} {ms('tsdb'):>9} {ms('tsdb-http'):>10} {ms('prometheus'):>11} {ratio('tsdb'):>7} "
              f"{ratio('tsdb-http'):>10} {'/'.join(str(v) for v in counts.get(name, {}).values()):>11}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
