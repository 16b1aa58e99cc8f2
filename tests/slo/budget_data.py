"""Samples and specs with hand-computable error budgets, for the error-budget API and the SLO pages.

``write_requests`` writes 24 h of ``http_requests_total`` ending at ``end_ms``, one sample every 15 s:
1000 requests a minute, of which 1 % fail (``code="500"``) in the last hour only. So at ``end_ms``:

- the 5m, 30m and 1h error ratios are 1 % (burn rate 10 at 99.9 %, 20 at 99.95 %), the 2h one 0.5 %,
  the 6h one 1/600, the 1d, 3d and 30d ones 600 / 1 440 000 = 1/2400;
- at 99.9 % (budget 0.1 % of 30d = 2592 s): consumed 5/12 (1080 s), remaining 7/12 (1512 s), availability
  1 - 1/2400, time to exhaustion 7/12 x 30d / 10 = 151 200 s; no alert fires (5m/1h burn 10 < 14.4);
- at 99.95 % (budget 1296 s): consumed 5/6, remaining 1/6, time to exhaustion 1/6 x 30d / 20 = 21 600 s;
  the page alert fires (5m and 1h burn 20 > 14.4), the ticket alert does not (1d burn 5/6 < 3, 3d < 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tsdb.labels import Labels
from tsdb.storage.db import DB

STEP_MS = 15_000
HOURS = 24
ERROR_HOURS = 1

SPEC = """\
version: "prometheus/v1"
service: "shop"
labels:
  owner: "web-team"
slos:
  - name: "requests-availability"
    objective: 99.9
    description: "Checkout requests answered without a server error."
    sli:
      events:
        error_query: sum(rate(http_requests_total{job="shop",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{job="shop"}[{{.window}}]))
    alerting:
      name: ShopHighErrorRate
      page_alert:
        labels: {severity: page}
      ticket_alert:
        labels: {severity: ticket}
  - name: "requests-strict"
    objective: 99.95
    description: "The same requests against a tighter objective."
    sli:
      events:
        error_query: sum(rate(http_requests_total{job="shop",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{job="shop"}[{{.window}}]))
    alerting:
      name: ShopStrictErrorRate
      page_alert:
        labels: {severity: page}
      ticket_alert:
        labels: {severity: ticket}
---
version: "prometheus/v1"
service: "search"
labels:
  owner: "search-team"
slos:
  - name: "latency"
    objective: 99
    description: "Search answers within 300 ms (no traffic yet)."
    sli:
      raw:
        error_ratio_query: avg_over_time(search_slow_ratio{job="search"}[{{.window}}])
    alerting:
      page_alert: {disable: true}
      ticket_alert: {disable: true}
"""


def write_requests(data_dir: Path, end_ms: int) -> None:
    """The request counters described in the module docstring, into the DB at ``data_dir`` (closed after)."""
    steps = HOURS * 3600_000 // STEP_MS
    ts = end_ms - STEP_MS * np.arange(steps, -1, -1, dtype=np.int64)
    k = np.arange(steps + 1, dtype=np.float64)
    errors = 2.5 * np.maximum(0.0, k - (steps - ERROR_HOURS * 3600_000 // STEP_MS))
    ok = 250.0 * k - errors
    db = DB.open(data_dir)
    try:
        app = db.appender()
        app.append(Labels({"__name__": "http_requests_total", "code": "200", "job": "shop"}), ts, ok)
        app.append(Labels({"__name__": "http_requests_total", "code": "500", "job": "shop"}), ts, errors)
        app.commit()
    finally:
        db.close()
