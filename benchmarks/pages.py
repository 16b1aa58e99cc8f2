"""First paint of every UI page in a real browser, with the 10k-series workload loaded.

1. The dashboard benchmark's workload (``--series`` x ``--hours``, 15 s interval) is written into a temporary
   data directory (or ``--data`` names one written earlier), and ``tsdb serve`` starts on it with a
   configuration that gives every page something to show: alerting rules over the workload (one alert per
   ``up`` series, so hundreds of firing alerts, plus recording rules), a webhook receiver (a local HTTP
   server answering 200) with an escalation policy, an on-call schedule, the server scraping its own
   ``/metrics``, and a silence.
2. Headless Chromium (Debian's ``chromium`` and ``chromedriver``) opens each page. The page counts as
   painted when its content element is on the page (for the explorer and dashboards: ``body`` with
   ``data-dashboard-state="settled"``), every ``fetch`` it started has answered, and two animation frames
   have passed since; that moment is taken with ``performance.now()`` by a script installed before any page
   script (CDP ``Page.addScriptToEvaluateOnNewDocument``), so the figure is the time from navigation start.
3. Per page: *first* is a fresh browser profile's first load of it (bundle not cached); *warm* is the median
   of ``--repeats`` loads in one browser after one unmeasured round over all pages.

Figures are printed, never asserted. Everything binds 127.0.0.1; the server, the receiver and the browsers
are stopped by their handles. ``python -m benchmarks pages [--series 10000] [--hours 24] [--repeats 5]
[--data DIR] [--max-seconds 1800]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchmarks.dashboard import Server, _free_port, dashboard_model, load, new_browser
from tsdb.bench.report import machine_description

PAINT_TIMEOUT_S = 120.0
EXPLORER_QUERY = "sum by (instance) (rate(node_cpu_seconds_total[5m]))"

# (name, path, CSS selector of the content that makes the page usable)
PAGES: list[tuple[str, str, str]] = [
    ("dashboards", "/ui/", "[data-testid=dashboard-list]"),
    ("dashboard", "/ui/d/bench-pages?from=now-24h&to=now", "body[data-dashboard-state=settled]"),
    ("explorer", "/graph?" + urllib.parse.urlencode({"g0.expr": EXPLORER_QUERY, "g0.tab": "0",
                                                    "g0.range_input": "1d"}), "body[data-dashboard-state=settled]"),
    ("metrics", "/ui/metrics", "[data-testid=metric]"),
    ("targets", "/ui/targets", "[data-testid=target]"),
    ("tsdb-status", "/ui/tsdb-status", "[data-testid=head-stats]"),
    ("config", "/ui/config", "[data-testid=config-yaml]"),
    ("alerts", "/ui/alerts", "[data-testid=alert-item]"),
    ("rules", "/ui/rules", "[data-testid=rule-query]"),
    ("silences", "/ui/silences", "[data-testid=silences-active]"),
    ("notifications", "/ui/notifications", "[data-testid=deliveries]"),
    ("escalations", "/ui/escalations", "[data-testid=escalations-page]"),
    ("oncall", "/ui/oncall", "[data-testid=oncall-now]"),
]

# Installed before any page script runs: counts the page's fetches in flight and records performance.now()
# two animation frames after the content selector is present with nothing in flight.
PAINT_PROBE = """
(() => {
  const probe = window.__paintProbe = {paintedAt: null, inflight: 0, fetches: 0, selector: null};
  const check = () => {
    if (probe.paintedAt !== null || probe.selector === null || probe.inflight > 0) return;
    if (!document.querySelector(probe.selector)) return;
    requestAnimationFrame(() => requestAnimationFrame(() => {
      if (probe.paintedAt === null && probe.inflight === 0 && document.querySelector(probe.selector)) {
        probe.paintedAt = performance.now();
      }
    }));
  };
  probe.check = check;
  const original = window.fetch;
  window.fetch = function () {
    probe.inflight += 1;
    probe.fetches += 1;
    const settle = () => { probe.inflight -= 1; setTimeout(check, 0); };
    const result = original.apply(this, arguments);
    result.then(settle, settle);
    return result;
  };
  const start = () => new MutationObserver(check).observe(document, {subtree: true, childList: true,
                                                                     attributes: true});
  start();
  try { probe.selector = sessionStorage.getItem('__paintSelector'); } catch (e) { /* no storage */ }
})();
"""


class Receiver:
    """A webhook receiver on 127.0.0.1 answering 200 to every POST (counts them)."""

    def __init__(self) -> None:
        count = [0]

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                count[0] += 1
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.count = count
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def write_config(root: Path, receiver_url: str, port: int, lookback: str) -> Path:
    """The tsdb.yml (and rules file) of the benchmark server."""
    rules = root / "rules.yml"
    rules.write_text(json.dumps({"groups": [
        {"name": "hosts", "interval": "30s", "rules": [
            {"alert": "TargetSeen", "expr": f"last_over_time(up[{lookback}]) >= 0",
             "labels": {"severity": "page"}, "annotations": {"summary": "{{ $labels.instance }} is reporting"}},
            {"alert": "LoadHigh", "expr": f"last_over_time(node_load1[{lookback}]) > 1e9",
             "labels": {"severity": "ticket"}}]},
        {"name": "recording", "interval": "1m", "rules": [
            {"record": "job:up:count", "expr": f"count by (job) (last_over_time(up[{lookback}]))"}]}]}))
    notifications = {
        "config": {"route": {"receiver": "pager", "group_by": ["alertname", "instance"], "group_wait": "0s",
                             "group_interval": "1h"},
                   "receivers": [{"name": "pager", "webhook_configs": [{"url": receiver_url + "/pager"}]},
                                 {"name": "lead", "webhook_configs": [{"url": receiver_url + "/lead"}]}]},
        "escalation": {"policies": {"p": {"steps": [{"wait": "10m", "notify": "lead"}]}}, "routes": {"pager": "p"}},
        "oncall": {"users": {"ann": {"email": "ann@example.com"}, "bob": {"email": "bob@example.com"}},
                   "schedules": {"primary": {"layers": [{"users": ["ann", "bob"], "shift": "1d",
                                                         "start": "2026-01-05", "handoff": "09:00"}]}}}}
    config = root / "tsdb.yml"
    config.write_text(json.dumps({
        "collect": {"host": False, "self": False},
        "scrape": {"scrape_configs": [{"job_name": "tsdb", "scrape_interval": "15s",
                                       "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}]},
        "rules": {"files": [str(rules)], "evaluation_interval": "30s"},
        "notifications": notifications}))
    return config


def data_lookback(server: Server) -> str:
    """A range reaching back from now past the end of the loaded workload by an hour (data written earlier)."""
    query = 'max(max_over_time(timestamp(up{job!="tsdb"})[30d:1h]))'
    result = server.request("GET", "/api/v1/query?" + urllib.parse.urlencode({"query": query}))["data"]["result"]
    latest_s = float(result[0]["value"][1]) if result else time.time()
    return f"{max(3600, int(time.time() - latest_s) + 3600)}s"


def prepare(server: Server) -> None:
    """A dashboard, a silence, and the wait until alerts fire and the target was scraped."""
    server.ensure_dashboard(dashboard_model("Benchmark pages", "bench-pages", "now-24h"))
    now = time.time()
    server.request("POST", "/api/v2/silences", {
        "matchers": [{"name": "alertname", "value": "LoadHigh", "isRegex": False, "isEqual": True}],
        "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 86_400)),
        "createdBy": "benchmark", "comment": "quiet the load alert"})
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        alerts = server.request("GET", "/api/v1/alerts")["data"]["alerts"]
        targets = server.request("GET", "/api/v1/targets")["data"]["activeTargets"]
        if alerts and any(t.get("health") == "up" for t in targets):
            print(f"  {len(alerts):,} alerts firing or pending; self-scrape up", flush=True)
            return
        time.sleep(1)
    raise TimeoutError("no alerts or no healthy target within 180 s")


def paint(driver: Any, base: str, path: str, selector: str) -> float:
    """Load ``path`` and wait (bounded) for its first usable paint; ms since navigation start."""
    driver.get(base + "/-/ready")
    driver.execute_script("sessionStorage.setItem('__paintSelector', arguments[0])", selector)
    driver.get(base + path)
    deadline = time.monotonic() + PAINT_TIMEOUT_S
    while True:
        probe = driver.execute_script("const p = window.__paintProbe; if (p) p.check(); return p || null;")
        if probe and probe.get("paintedAt") is not None:
            return float(probe["paintedAt"])
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} not painted within {PAINT_TIMEOUT_S:.0f} s ({selector}): {probe}")
        time.sleep(0.05)


def run(base: str, repeats: int, work: Path, deadline: float) -> dict[str, dict[str, list[float]]]:
    """First loads (a fresh profile per page) and warm loads (one browser) of every page."""
    out: dict[str, dict[str, list[float]]] = {name: {"first": [], "warm": []} for name, _, _ in PAGES}
    for name, path, selector in PAGES:
        driver = new_browser(work / f"profile-first-{name}", 0, PAINT_PROBE)
        try:
            out[name]["first"].append(paint(driver, base, path, selector))
        finally:
            driver.quit()
        print(f"  first {name}: {out[name]['first'][-1]:.0f} ms", flush=True)
    driver = new_browser(work / "profile-warm", 0, PAINT_PROBE)
    try:
        for _, path, selector in PAGES:
            paint(driver, base, path, selector)
        for i in range(repeats):
            if time.monotonic() > deadline:
                print("  time bound reached: fewer warm rounds", flush=True)
                break
            for name, path, selector in PAGES:
                out[name]["warm"].append(paint(driver, base, path, selector))
            print(f"  warm round {i + 1} done", flush=True)
    finally:
        driver.quit()
    return out


def main(argv: list[str]) -> int:
    """Run the benchmark and print the table; 0 on success."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks pages", description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=10_000, help="series of the workload (default 10000)")
    parser.add_argument("--hours", type=int, default=24, help="hours of data (default 24)")
    parser.add_argument("--repeats", type=int, default=5, help="warm loads of each page (default 5)")
    parser.add_argument("--max-seconds", type=float, default=1800, help="bound on the whole run (default 1800)")
    parser.add_argument("--data", type=Path, default=None,
                        help="use this data directory (written earlier) instead of writing the workload; it is "
                             "opened by the server and changed")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.max_seconds
    print(f"machine: {machine_description()}", flush=True)
    receiver = Receiver()
    with tempfile.TemporaryDirectory(prefix="tsdb-bench-pages-") as tmp:
        root = Path(tmp)
        data = args.data or root / "data"
        if args.data is None:
            print(f"{args.series:,} series x {args.hours} h", flush=True)
            load(data, args.series, args.hours, seed=11, max_seconds=args.max_seconds)
        port = _free_port()
        probe_server = Server(data, port=port)  # without rules first, to find where the data ends
        probe_server.start()
        try:
            lookback = data_lookback(probe_server)
        finally:
            probe_server.stop()
        server = Server(data, config=write_config(root, receiver.url, port, lookback), port=port)
        server.start()
        try:
            prepare(server)
            results = run(server.url, args.repeats, root, deadline)
        finally:
            server.stop()
            receiver.close()
    print("\nfirst usable paint per page (ms since navigation start; first = fresh browser profile, "
          "warm = median of the warm loads)")
    print(f"{'page':<15}{'first':>8}{'warm':>8}{'warm max':>10}")
    for name, _, _ in PAGES:
        first, warm = results[name]["first"], results[name]["warm"]
        print(f"{name:<15}{first[0] if first else float('nan'):>8.0f}"
              f"{statistics.median(warm) if warm else float('nan'):>8.0f}{max(warm, default=float('nan')):>10.0f}")
    print(f"webhook deliveries received: {receiver.count[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
