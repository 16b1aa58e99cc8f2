"""Dashboard load time in a real browser: navigation start to every panel settled, and where the time goes.

1. The benchmark workload (``tsdb.bench.workload``: ``--series`` node-exporter-like series over ``--hours``,
   15 s interval; default 10,000 x 24 h) is written into a temporary data directory through the storage
   appender (the embedded fast path; blocks cut as it goes), then ``tsdb serve`` starts on it.
2. A 12-panel host-overview-style dashboard (time series over all series with ``sum by (instance)`` and
   ``topk``, stat, gauge, bar gauge and an instant table) is created through ``POST /api/v1/dashboards``.
3. Headless Chromium (Debian's ``chromium`` and ``chromedriver``) opens ``/ui/d/<uid>``. The moment
   ``document.body`` gets ``data-dashboard-state="settled"`` is taken with ``performance.now()`` by a
   MutationObserver installed before any page script (CDP ``Page.addScriptToEvaluateOnNewDocument``),
   so the figure is the time from navigation start. After one unmeasured load (the server compiles its
   query kernels on first use), cold: a fresh browser profile, first load; warm: the same browser loading
   the page again. Median of ``--repeats`` each.
4. The Resource Timing entries of ``/api/v1/query_range`` and ``/api/v1/query`` split the time: *boot*
   (navigation start to the first query sent: HTML, bundle, dashboard JSON, variables), *server* (request
   sent to first response byte, per query: sum and max), *transfer* (first to last byte), *queued* (waiting
   for a browser connection) and *render* (last query answer to settled).
5. With ``--week-series`` > 0 the same is measured over a 7-day range on a second data directory
   (fewer series), written with blocks older than 40 h downsampled into the 5m tier as the server's
   maintenance does; the captured query URLs are then replayed with ``max_source_resolution=raw`` and
   ``auto`` to show what the tier saves.

Figures are printed, never asserted. Everything binds 127.0.0.1; the server and browsers are stopped by
their handles. ``python -m benchmarks dashboard [--series 10000] [--hours 24] [--repeats 5]
[--week-series 1000] [--max-seconds 1800]``.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tsdb.bench.report import machine_description
from tsdb.bench.workload import generate
from tsdb.bench.write import write_workload
from tsdb.config import StorageOptions
from tsdb.storage.db import DB

HOUR = 3_600_000
DAY = 24 * HOUR
ROOT = Path(__file__).resolve().parents[1]
SETTLE_TIMEOUT_S = 180.0

# Installed before any page script runs: records performance.now() when the dashboard first settles
# with all its panels on the page.
SETTLE_PROBE = """
(() => {
  const probe = window.__dashboardProbe = {settledAt: null, firstSettledAt: null, panels: 0};
  const expected = %d;
  const check = () => {
    const body = document.body;
    if (!body || probe.settledAt !== null) return;
    if (body.getAttribute('data-dashboard-state') !== 'settled') return;
    const now = performance.now();
    if (probe.firstSettledAt === null) probe.firstSettledAt = now;
    probe.panels = document.querySelectorAll('[data-panel-id]').length;
    if (probe.panels >= expected) probe.settledAt = now;
  };
  new MutationObserver(check).observe(document, {subtree: true, attributes: true,
                                                 attributeFilter: ['data-dashboard-state']});
  // the UI sends queries as POST forms: keep their bodies for the replay
  probe.bodies = [];
  const original = window.fetch;
  window.fetch = function (input, init) {
    try {
      const url = new URL(typeof input === 'string' ? input : input.url, location.href);
      if (url.pathname.startsWith('/api/v1/query')) {
        probe.bodies.push({path: url.pathname + url.search, body: init && init.body ? String(init.body) : ''});
      }
    } catch (e) { /* never break the page */ }
    return original.apply(this, arguments);
  };
})();
"""

RESOURCES_JS = """
return performance.getEntriesByType('resource')
  .filter(e => e.name.includes('/api/v1/query'))
  .map(e => ({name: e.name, start: e.startTime, requestStart: e.requestStart, responseStart: e.responseStart,
              responseEnd: e.responseEnd, bytes: e.encodedBodySize}));
"""


def dashboard_model(title: str, uid: str, time_from: str) -> dict[str, Any]:
    """A 12-panel dashboard in the style of a host overview, over every series of the workload."""
    rate = "[$__rate_interval]"

    def target(expr: str, legend: str = "", instant: bool = False) -> list[dict[str, Any]]:
        return [{"refId": "A", "expr": expr, "legendFormat": legend, "instant": instant}]

    def panel(pid: int, ptype: str, title: str, x: int, y: int, w: int, h: int, targets: list[dict[str, Any]],
              unit: str = "short", options: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"id": pid, "type": ptype, "title": title, "gridPos": {"x": x, "y": y, "w": w, "h": h},
                "targets": targets, "fieldConfig": {"unit": unit}, "options": options or {}}

    panels = [
        panel(1, "stat", "Series up", 0, 0, 6, 4, target("count(up)"), options={"reduce": "lastNotNull"}),
        panel(2, "stat", "Interrupts /s", 6, 0, 6, 4, target(f"sum(rate(node_intr_total{rate}))"), "ops",
              {"reduce": "lastNotNull", "graphMode": "area"}),
        panel(3, "gauge", "Hottest sensor", 12, 0, 6, 4, target("max(node_hwmon_temp_celsius)"), "celsius",
              {"reduce": "lastNotNull"}),
        panel(4, "bargauge", "Top 10 load1", 18, 0, 6, 4, target("topk(10, node_load1)", "{{instance}}",
                                                                     instant=True),
              options={"reduce": "lastNotNull", "orientation": "horizontal"}),
        panel(5, "timeseries", "CPU seconds by instance", 0, 4, 12, 8,
              target(f"sum by (instance) (rate(node_cpu_seconds_total{rate}))", "{{instance}}"), "s"),
        panel(6, "timeseries", "Top 10 packet receivers", 12, 4, 12, 8,
              target(f"topk(10, rate(node_network_receive_packets_total{rate}))", "{{instance}} {{id}}"), "pps"),
        panel(7, "timeseries", "Disk busy by instance", 0, 12, 12, 8,
              target(f"sum by (instance) (rate(node_disk_io_time_seconds_total{rate}))", "{{instance}}"),
              "percentunit"),
        panel(8, "timeseries", "Context switches", 12, 12, 12, 8,
              target(f"sum(rate(node_context_switches_total{rate}))", "all"), "ops"),
        panel(9, "timeseries", "Load1 by instance", 0, 20, 12, 8,
              target("avg by (instance) (node_load1)", "{{instance}}")),
        panel(10, "timeseries", "Memory available", 12, 20, 12, 8,
              target("sum by (instance) (node_memory_MemAvailable_bytes)", "{{instance}}"), "bytes",
              {"stacking": "normal", "fillOpacity": 20}),
        panel(11, "timeseries", "Filesystem free, top 10", 0, 28, 12, 8,
              target("topk(10, sum by (instance) (node_filesystem_avail_bytes))", "{{instance}}"), "bytes"),
        panel(12, "table", "Cached memory, top 10 instances", 12, 28, 12, 8,
              target("topk(10, sum by (instance) (node_memory_Cached_bytes))", "{{instance}}", instant=True),
              "bytes"),
    ]
    return {"uid": uid, "title": title, "tags": ["benchmark"], "time": {"from": time_from, "to": "now"},
            "refresh": "", "panels": panels, "schemaVersion": 1}


# -- data and server ------------------------------------------------------------------------------------


def load(path: Path, series: int, hours: int, seed: int, max_seconds: float) -> int:
    """Write ``series`` x ``hours`` of the workload, ending now, into a DB at ``path``; returns samples.

    Blocks are cut every 2 h of data and, at the end, blocks old enough are downsampled into tiers as the
    server's maintenance would (``DB.maintain``).
    """
    end_ms = int(time.time() * 1000) // 15_000 * 15_000
    work = generate(series, hours * HOUR, seed=seed, end_ms=end_ms)
    with DB.open(path, StorageOptions(wal_fsync="never")) as db:
        seconds = write_workload(db, work, f"writing {series:,} series x {hours} h", max_seconds,
                                 f"writing took more than {max_seconds:.0f} s: use fewer --series or --hours")
        db.maintain(now_ms=end_ms)
        tiers = {name: len(db.tiers.files(name)) for name in ("5m", "1h")} if db.tiers is not None else {}
    print(f"  written {work.num_samples:,} samples in {seconds:.1f} s; tier files "
          f"{tiers or 'none'}", flush=True)
    return work.num_samples


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A ``tsdb serve`` subprocess on 127.0.0.1."""

    data_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""
    log: Path | None = None
    config: Path | None = None
    port: int = 0

    def start(self, timeout_s: float = 600) -> None:
        port = self.port or _free_port()
        self.url = f"http://127.0.0.1:{port}"
        flags = ["--config", str(self.config)] if self.config is not None else []
        self.log = self.data_dir.parent / f"serve-{port}.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tsdb.cli", "serve", "--data-dir", str(self.data_dir), "--http-listen",
                 f"127.0.0.1:{port}", "--grpc-listen", f"127.0.0.1:{_free_port()}", "--no-collect", *flags],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tsdb serve exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        raise TimeoutError(f"tsdb serve not ready after {timeout_s:.0f} s")

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=600) as response:
            return json.loads(response.read())

    def ensure_dashboard(self, model: dict[str, Any]) -> None:
        """Create the dashboard; one with its uid left by an earlier run on the same data stays (409)."""
        try:
            self.request("POST", "/api/v1/dashboards", {"dashboard": model, "message": "benchmark"})
        except urllib.error.HTTPError as err:
            if err.code != 409:
                raise

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


# -- browser ----------------------------------------------------------------------------------------------


@dataclass
class Load:
    """One page load: settle time and the query requests' timings (ms since navigation start)."""

    settled_ms: float
    queries: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)

    @property
    def boot_ms(self) -> float:
        return min((q["start"] for q in self.queries), default=self.settled_ms)

    @property
    def server_ms(self) -> list[float]:
        return [q["responseStart"] - q["requestStart"] for q in self.queries]

    @property
    def transfer_ms(self) -> list[float]:
        return [q["responseEnd"] - q["responseStart"] for q in self.queries]

    @property
    def queued_ms(self) -> list[float]:
        return [q["requestStart"] - q["start"] for q in self.queries]

    @property
    def render_ms(self) -> float:
        return self.settled_ms - max((q["responseEnd"] for q in self.queries), default=self.boot_ms)

    @property
    def bytes(self) -> int:
        return int(sum(q["bytes"] for q in self.queries))


def new_browser(profile: Path, expected_panels: int, probe: str | None = None) -> Any:
    """Headless Chromium with the settle probe (or ``probe``, a script) installed for every new document."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        raise SystemExit("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    options = Options()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-features=Translate", "--window-size=1400,1000",
                f"--user-data-dir={profile}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(chromedriver))
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": probe or SETTLE_PROBE % expected_panels})
    return driver


def measure(driver: Any, url: str) -> Load:
    """Navigate to ``url`` and wait (bounded) for the probe to see the dashboard settle."""
    driver.get("about:blank")
    driver.get(url)
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        probe = driver.execute_script("return window.__dashboardProbe || null")
        if probe and probe.get("settledAt") is not None:
            break
        if time.monotonic() > deadline:
            state = driver.execute_script("return document.body && document.body.dataset.dashboardState")
            raise TimeoutError(f"{url} did not settle within {SETTLE_TIMEOUT_S:.0f} s: {probe}; body state {state}")
        time.sleep(0.05)
    errors = driver.execute_script("return [...document.querySelectorAll('[data-state=error]')]"
                                   ".map(e => e.getAttribute('data-panel-id'))")
    if errors:
        print(f"  warning: panels in error: {errors}", flush=True)
    bodies = driver.execute_script("return window.__dashboardProbe.bodies")
    return Load(float(probe["settledAt"]), list(driver.execute_script(RESOURCES_JS)), list(bodies))


def run_browser(url: str, repeats: int, expected_panels: int, work: Path, deadline: float) -> dict[str, list[Load]]:
    """Cold loads (a fresh profile each) and warm loads (one browser, after one unmeasured load)."""
    loads: dict[str, list[Load]] = {"cold": [], "warm": []}
    # one unmeasured load first: the server compiles its query kernels on the first queries, which is not
    # what a browser's cold start is about
    driver = new_browser(work / "profile-server-warm-up", expected_panels)
    try:
        print(f"  server warm-up load: {measure(driver, url).settled_ms:.0f} ms", flush=True)
    finally:
        driver.quit()
    for i in range(repeats):
        if time.monotonic() > deadline:
            print("  time bound reached: fewer cold runs", flush=True)
            break
        driver = new_browser(work / f"profile-cold-{i}", expected_panels)
        try:
            loads["cold"].append(measure(driver, url))
        finally:
            driver.quit()
        print(f"  cold {i + 1}: {loads['cold'][-1].settled_ms:.0f} ms", flush=True)
    driver = new_browser(work / "profile-warm", expected_panels)
    try:
        measure(driver, url)
        for i in range(repeats):
            if time.monotonic() > deadline:
                print("  time bound reached: fewer warm runs", flush=True)
                break
            loads["warm"].append(measure(driver, url))
            print(f"  warm {i + 1}: {loads['warm'][-1].settled_ms:.0f} ms", flush=True)
    finally:
        driver.quit()
    return loads


# -- report -----------------------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summary_rows(name: str, loads: dict[str, list[Load]]) -> list[list[str]]:
    rows = []
    for kind, runs in loads.items():
        if not runs:
            continue
        rows.append([
            f"{name} {kind}", str(len(runs)), f"{_median([r.settled_ms for r in runs]):.0f}",
            f"{_median([r.boot_ms for r in runs]):.0f}",
            f"{_median([sum(r.server_ms) for r in runs]):.0f}",
            f"{_median([max(r.server_ms, default=0) for r in runs]):.0f}",
            f"{_median([sum(r.transfer_ms) for r in runs]):.0f}",
            f"{_median([max(r.queued_ms, default=0) for r in runs]):.0f}",
            f"{_median([r.render_ms for r in runs]):.0f}",
            str(int(_median([len(r.queries) for r in runs]))),
            f"{_median([r.bytes / 1024 for r in runs]):.0f}",
        ])
    return rows


HEADER = ["range", "runs", "settled ms", "boot ms", "server sum", "server max", "transfer sum", "queued max",
          "render ms", "queries", "KiB"]


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADER)]
    print("  ".join(h.rjust(w) for h, w in zip(HEADER, widths, strict=True)))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))


def dominant(loads: dict[str, list[Load]]) -> str:
    """Which part of the median cold load is the largest: boot, server (critical path), transfer, render."""
    runs = loads["cold"] or loads["warm"]
    if not runs:
        return "-"
    parts = {
        "boot (page, bundle, dashboard JSON)": _median([r.boot_ms for r in runs]),
        "server query time (slowest query)": _median([max(r.server_ms, default=0) for r in runs]),
        "transfer": _median([max(r.transfer_ms, default=0) for r in runs]),
        "render after the last answer": _median([r.render_ms for r in runs]),
    }
    name, value = max(parts.items(), key=lambda kv: kv[1])
    total = _median([r.settled_ms for r in runs])
    return f"{name}: {value:.0f} of {total:.0f} ms"


def replay(server: Server, loads: dict[str, list[Load]], repeats: int) -> list[tuple[str, float, float]]:
    """Replay the query URLs of one load with max_source_resolution=raw and auto: (query, raw s, auto s)."""
    runs = loads["warm"] or loads["cold"]
    if not runs:
        return []
    out = []
    for request in runs[-1].requests:
        parts = urllib.parse.urlsplit(request["path"])
        params = dict(urllib.parse.parse_qsl(parts.query))
        params.update(urllib.parse.parse_qsl(request["body"]))
        timings = {}
        for mode in ("raw", "auto"):
            form = urllib.parse.urlencode({**params, "max_source_resolution": mode}).encode()
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                with urllib.request.urlopen(server.url + parts.path, data=form, timeout=600) as response:
                    response.read()
                times.append(time.perf_counter() - started)
            timings[mode] = statistics.median(times)
        out.append((params.get("query", "")[:70], timings["raw"], timings["auto"]))
    return out


def run_case(name: str, root: Path, series: int, hours: int, time_from: str, repeats: int, deadline: float,
             max_seconds: float, existing: Path | None = None) -> tuple[list[list[str]], dict[str, list[Load]], Server]:
    data = root / name / "data"
    data.parent.mkdir(parents=True)
    if existing is not None:
        print(f"{name}: the data directory given with --data", flush=True)
        data = existing
    else:
        print(f"{name}: {series:,} series x {hours} h", flush=True)
        load(data, series, hours, seed=11, max_seconds=max_seconds)
    server = Server(data)
    server.start()
    uid = f"bench-{name}"
    model = dashboard_model(f"Benchmark {name}", uid, time_from)
    url = f"{server.url}/ui/d/{uid}?from={time_from}&to=now"
    try:
        server.ensure_dashboard(model)
        loads = run_browser(url, repeats, len(model["panels"]), root / name, deadline)
    except BaseException:
        server.stop()
        raise
    return summary_rows(name, loads), loads, server


def main(argv: list[str]) -> int:
    """Run the benchmark and print the tables; 0 on success."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks dashboard", description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=10_000, help="series of the 24 h case (default 10000)")
    parser.add_argument("--hours", type=int, default=24, help="hours of data of that case (default 24)")
    parser.add_argument("--week-series", type=int, default=1000,
                        help="series of the 7-day case (default 1000; 0 skips it)")
    parser.add_argument("--repeats", type=int, default=5, help="cold and warm loads each (default 5)")
    parser.add_argument("--max-seconds", type=float, default=1800, help="bound on the whole run (default 1800)")
    parser.add_argument("--data", type=Path, default=None,
                        help="use this data directory (written earlier, e.g. by a previous run's loader) for the "
                             "first case instead of writing the workload; it is opened by the server and changed")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.max_seconds
    print(f"machine: {machine_description()}", flush=True)
    all_rows: list[list[str]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tsdb-bench-dashboard-") as tmp:
        root = Path(tmp)
        rows, loads, server = run_case(f"{args.hours}h", root, args.series, args.hours, f"now-{args.hours}h",
                                       args.repeats, deadline, args.max_seconds, args.data)
        server.stop()
        all_rows += rows
        notes.append(f"{args.hours}h ({args.series:,} series): largest part of a cold load: {dominant(loads)}")
        replayed: list[tuple[str, float, float]] = []
        if args.week_series > 0 and time.monotonic() < deadline:
            rows, loads, server = run_case("7d", root, args.week_series, 7 * 24, "now-7d", args.repeats, deadline,
                                           max(60.0, deadline - time.monotonic()))
            try:
                replayed = replay(server, loads, 3)
            finally:
                server.stop()
            all_rows += rows
            notes.append(f"7d ({args.week_series:,} series): largest part of a cold load: {dominant(loads)}")
    print("\nmedian per load (ms since navigation start; server = request sent to first byte, per query;"
          " queued = waiting for a browser connection)")
    print_table(all_rows)
    for note in notes:
        print(note)
    if replayed:
        print("\n7-day queries replayed (median of 3, s): raw blocks only vs auto (tiers where the step allows)")
        for query, raw_s, auto_s in replayed:
            print(f"  {raw_s:7.3f} {auto_s:7.3f}  {query}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
