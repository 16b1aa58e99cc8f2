"""A month of SLO data with hand-computable figures, written through the embedded API.

Two counters sampled every minute from a day before the month to an hour after it: requests (100 a
minute) and errors (flat, but +100 a minute during each outage, i.e. every request fails). The SLO
``shop-availability`` at 99.9% over them; ALERTS series for its page alert around each outage: pending
from 2 to 5 minutes after the outage starts, firing from 5 to 40 minutes after (one sample a minute).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from tsdb.embedded import open_db

MINUTE = 60
RATE = 100.0  # requests a minute

SPEC = """version: prometheus/v1
service: shop
labels: {team: web}
slos:
  - name: availability
    objective: %s
    description: Successful HTTP responses.
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
    alerting:
      name: ShopHighErrorRate
      page_alert: {labels: {severity: page}}
      ticket_alert: {disable: true}
  - name: latency
    objective: 99
    sli:
      raw:
        error_ratio_query: max_over_time(slow_ratio[{{.window}}])
    alerting:
      page_alert: {disable: true}
      ticket_alert: {disable: true}
"""


def utc(text: str) -> int:
    """Unix seconds of an ISO time (UTC unless it has an offset)."""
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp())


def write_spec(tmp: Path, objective: float = 99.9) -> Path:
    path = tmp / "shop.yml"
    path.write_text(SPEC % objective)
    return path


def write_month(data_dir: Path, start_s: int, end_s: int, outages: list[tuple[int, int]],
                slow: list[tuple[int, int]] = ()) -> None:  # type: ignore[assignment]
    """Requests, errors and ALERTS from a day before ``start_s`` to an hour after ``end_s``; ``outages``
    are ``[from, to)`` in Unix seconds on minute boundaries; ``slow`` marks ``slow_ratio`` 1 (else 0)."""
    ts_s = np.arange(start_s - 86400, end_s + 3600 + 1, MINUTE, dtype=np.int64)
    total = 1_000_000 + RATE * np.arange(len(ts_s))
    failing = np.zeros(len(ts_s))
    for lo, hi in outages:
        failing[(ts_s > lo) & (ts_s <= hi)] = RATE
    errors = 500 + np.cumsum(failing)
    ratio = np.zeros(len(ts_s))
    for lo, hi in slow:
        ratio[(ts_s > lo) & (ts_s <= hi)] = 1.0
    alert = {"__name__": "ALERTS", "alertname": "ShopHighErrorRate", "severity": "page",
             "sloth_id": "shop-availability", "sloth_service": "shop", "sloth_slo": "availability",
             "sloth_severity": "page", "team": "web"}
    batch = [({"__name__": "http_requests_total", "code": "200"}, ts_s * 1000, total - errors),
             ({"__name__": "http_requests_total", "code": "500"}, ts_s * 1000, errors),
             ({"__name__": "slow_ratio"}, ts_s * 1000, ratio)]
    for lo, _ in outages:
        pending = np.arange(lo + 2 * MINUTE, lo + 5 * MINUTE, MINUTE, dtype=np.int64)
        firing = np.arange(lo + 5 * MINUTE, lo + 40 * MINUTE, MINUTE, dtype=np.int64)
        batch.append(({**alert, "alertstate": "pending"}, pending * 1000, np.ones(len(pending))))
        batch.append(({**alert, "alertstate": "firing"}, firing * 1000, np.ones(len(firing))))
    with open_db(str(data_dir)) as db:
        db.append_many(batch)
