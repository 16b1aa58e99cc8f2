"""The alerts page with many alerts: API latency and first paint of ``/ui/alerts`` in a real browser.

1. ``--alerts`` series ``probe_up`` = 0 (default 10,000 instances, the last ten minutes) are written into a
   temporary data directory through the embedded API; ``tsdb serve`` starts on it with one rule
   ``ProbeDown: probe_up == 0`` (with a templated annotation), so that every series fires an alert.
2. Once all alerts fire: median latency and size of ``GET /api/v1/rules?type=alert`` and ``/api/v1/alerts``
   over ``--repeats`` requests.
3. Headless Chromium (Debian's ``chromium`` and ``chromedriver``) opens ``/ui/alerts``. A MutationObserver
   installed before any page script (CDP ``Page.addScriptToEvaluateOnNewDocument``) takes
   ``performance.now()`` when the first alert row appears (*first rows*: the figure) and when the firing
   count shows every alert (*count*); the browser's ``first-contentful-paint`` (the page shell) and the
   number of alert rows in the DOM are reported alongside. Cold: a fresh browser profile each load; warm:
   the same browser loading the page again. Medians of ``--repeats``. Then, on the open page, the time from
   typing a label filter to the one matching row (*filter*) and from scrolling to the bottom to the last
   alert drawn (*scroll*).

Figures are printed, never asserted. Everything binds 127.0.0.1; the server and browsers are stopped by
their handles. ``python -m benchmarks alerts_page [--alerts 10000] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.dashboard import Server
from tsdb.bench.report import machine_description

FIRE_TIMEOUT_S = 300.0
LOAD_TIMEOUT_S = 120.0

PROBE = """
(() => {
  const probe = window.__alertsProbe = {firstRows: null, count: null, rows: 0};
  const expected = String(%d);
  const check = () => {
    const now = performance.now();
    if (probe.firstRows === null && document.querySelector('[data-testid=alert-item]')) probe.firstRows = now;
    const count = document.querySelector('[data-testid=count-firing]');
    if (probe.count === null && count && count.textContent === expected) probe.count = now;
    probe.rows = document.querySelectorAll('[data-testid=alert-item]').length;
  };
  new MutationObserver(check).observe(document, {subtree: true, childList: true, characterData: true});
})();
"""

# Types a filter (or scrolls) and resolves with the ms until the condition holds, checked every frame.
FILTER_JS = """
const [text, done] = [arguments[0], arguments[arguments.length - 1]];
const box = document.querySelector('[data-testid=alerts-filter]');
const t0 = performance.now();
box.value = text; box.dispatchEvent(new Event('input', {bubbles: true}));
const tick = () => {
  const rows = document.querySelectorAll('[data-testid=alert-item]');
  if (rows.length === 1 && rows[0].textContent.includes(text)) done(performance.now() - t0);
  else if (performance.now() - t0 > 30000) done(-1); else requestAnimationFrame(tick);
};
requestAnimationFrame(tick);
"""

SCROLL_JS = """
const [needle, done] = [arguments[0], arguments[arguments.length - 1]];
const list = document.querySelector('[data-testid=alerts-list]');
const t0 = performance.now();
list.scrollTop = list.scrollHeight;
const tick = () => {
  const rows = [...document.querySelectorAll('[data-testid=alert-item]')];
  if (rows.some((r) => r.textContent.includes(needle))) done(performance.now() - t0);
  else if (performance.now() - t0 > 30000) done(-1); else requestAnimationFrame(tick);
};
requestAnimationFrame(tick);
"""


def write_data(root: Path, alerts: int, interval: str = "5s") -> Path:
    """``probe_up`` = 0 for ``alerts`` instances over the last ten minutes in ``root/data`` and the rule
    ``ProbeDown: probe_up == 0`` evaluated every ``interval``; returns the config file (also used by the
    browser test of the alerts page at this scale)."""
    import tsdb

    end_ms = int(time.time() * 1000) // 15_000 * 15_000
    ts = end_ms - np.arange(40, dtype=np.int64)[::-1] * 15_000
    zeros = np.zeros(len(ts))
    series = [({"__name__": "probe_up", "instance": f"host-{i:05d}:9100", "job": "probe", "zone": f"z{i % 7}"},
               ts, zeros) for i in range(alerts)]
    with tsdb.open(str(root / "data"), wal_fsync="never") as db:
        for lo in range(0, alerts, 1000):
            db.append_many(series[lo:lo + 1000])
    (root / "rules.yml").write_text(
        f"groups:\n  - name: probes\n    interval: {interval}\n    rules:\n"
        "      - alert: ProbeDown\n        expr: probe_up == 0\n        labels: {severity: page}\n"
        "        annotations: {summary: '{{ $labels.instance }} does not answer'}\n")
    config = root / "tsdb.yml"
    config.write_text(json.dumps({"rules": {"files": [str(root / "rules.yml")], "evaluation_interval": interval}}))
    return config


def timed_get(url: str) -> tuple[float, int]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        size = len(response.read())
    return (time.perf_counter() - started) * 1000, size


def new_browser(profile: Path, alerts: int) -> Any:
    from benchmarks.dashboard import new_browser as dashboard_browser

    driver = dashboard_browser(profile, 0)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE % alerts})
    driver.set_script_timeout(60)
    return driver


def load(driver: Any, url: str) -> dict[str, float]:
    """One load of the page: ms from navigation start to first rows and to the full count."""
    driver.get("about:blank")
    driver.get(url)
    deadline = time.monotonic() + LOAD_TIMEOUT_S
    while True:
        probe = driver.execute_script("return window.__alertsProbe || null")
        if probe and probe["firstRows"] is not None and probe["count"] is not None:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url}: no alert rows within {LOAD_TIMEOUT_S:.0f} s: {probe}")
        time.sleep(0.05)
    fcp = driver.execute_script(
        "const e = performance.getEntriesByName('first-contentful-paint')[0]; return e ? e.startTime : null")
    return {"first rows": probe["firstRows"], "count": probe["count"], "fcp": fcp or float("nan"),
            "rows in DOM": driver.execute_script("return document.querySelectorAll('[data-testid=alert-item]').length")}


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks alerts_page", description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(machine_description(), flush=True)
    with tempfile.TemporaryDirectory(prefix="tsdb-bench-alerts-") as tmp:
        root = Path(tmp)
        config = write_data(root, args.alerts)
        server = Server(root / "data", config=config)
        server.start()
        try:
            deadline = time.monotonic() + FIRE_TIMEOUT_S
            while len(server.request("GET", "/api/v1/alerts")["data"]["alerts"]) < args.alerts:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"fewer than {args.alerts} alerts after {FIRE_TIMEOUT_S:.0f} s")
                time.sleep(1)
            print(f"\n{args.alerts} firing alerts; API (median of {args.repeats}):")
            for path in ("/api/v1/rules?type=alert", "/api/v1/alerts"):
                runs = [timed_get(server.url + path) for _ in range(args.repeats)]
                print(f"  GET {path}: {_median([ms for ms, _ in runs]):.0f} ms, {runs[0][1] / 1024:.0f} KiB")
            url = server.url + "/ui/alerts"
            results: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
            for i in range(args.repeats):
                driver = new_browser(root / f"profile-cold-{i}", args.alerts)
                try:
                    results["cold"].append(load(driver, url))
                finally:
                    driver.quit()
            driver = new_browser(root / "profile-warm", args.alerts)
            try:
                load(driver, url)
                for _ in range(args.repeats):
                    results["warm"].append(load(driver, url))
                filter_ms = driver.execute_async_script(FILTER_JS, 'instance="host-04242:9100"')
                driver.execute_async_script(FILTER_JS, "")
                load(driver, url)
                last = f"host-{args.alerts - 1:05d}:9100"
                scroll_ms = driver.execute_async_script(SCROLL_JS, last)
            finally:
                driver.quit()
            print(f"\n/ui/alerts, {args.alerts} alerts (ms from navigation start, median of {args.repeats}):")
            print("| load | first rows | count shown | first contentful paint | alert rows in DOM |")
            print("|---|---|---|---|---|")
            for name, runs in results.items():
                print(f"| {name} | {_median([r['first rows'] for r in runs]):.0f} | "
                      f"{_median([r['count'] for r in runs]):.0f} | {_median([r['fcp'] for r in runs]):.0f} | "
                      f"{max(int(r['rows in DOM']) for r in runs)} |")
            print(f"\nfilter to one alert: {filter_ms:.0f} ms; scroll to the last alert: {scroll_ms:.0f} ms")
        finally:
            server.stop()
    return 0
