"""Error-budget status computed by the query engine over real samples (tests/slo/budget_data.py), for the
cases the server test does not reach: an overspent budget, a raw SLI, filters and sorting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.slo.budget_data import SPEC, write_requests
from tsdb.errors import ConfigError
from tsdb.labels import Labels
from tsdb.query.engine.engine import Engine
from tsdb.slo.config import SLOsConfig
from tsdb.slo.status import ConfiguredSLO, by_remaining_budget, load_slos, matches, parse_label_filters, status
from tsdb.storage.db import DB

END_MS = 1_800_000_000_000
DAY = 86400


@pytest.fixture
def setup(tmp_path: Path) -> tuple[list[ConfiguredSLO], Engine]:
    spec = tmp_path / "slos.yml"
    spec.write_text(SPEC.replace("objective: 99.95", "objective: 99.99"))
    write_requests(tmp_path / "data", END_MS)
    db = DB.open(tmp_path / "data")
    app = db.appender()  # the raw SLI: 0.5 % slow searches all day
    ts = END_MS - 15_000 * np.arange(5760, -1, -1, dtype=np.int64)
    app.append(Labels({"__name__": "search_slow_ratio", "job": "search"}), ts, np.full(len(ts), 0.005))
    app.commit()
    return load_slos(SLOsConfig.from_raw({"files": [str(spec)]})), Engine(db)


def test_overspent_budget_and_raw_sli(setup: tuple[list[ConfiguredSLO], Engine]) -> None:
    slos, engine = setup
    plain, strict, raw = (status(item, engine.instant, END_MS) for item in slos)
    assert plain["error_budget"]["remaining_ratio"] == pytest.approx(7 / 12, rel=1e-9)
    # 99.99 %: 1/2400 of the requests failed, four times the budget: overspent, exhausted now
    assert strict["error_budget"]["consumed_ratio"] == pytest.approx(25 / 6, rel=1e-9)
    assert strict["error_budget"]["remaining_ratio"] == pytest.approx(-19 / 6, rel=1e-9)
    assert strict["error_budget"]["remaining_seconds"] == pytest.approx(-19 / 6 * 259.2, rel=1e-6)
    assert strict["time_to_exhaustion_seconds"] == 0.0
    # raw SLI at 99 %: 0.5 % errors burn at 0.5; half the budget left lasts 30 days at that rate
    assert raw["sli"]["error_ratio"] == pytest.approx(0.005, rel=1e-9)
    assert raw["burn_rate"]["current"] == pytest.approx(0.5, rel=1e-9)
    assert raw["error_budget"]["remaining_ratio"] == pytest.approx(0.5, rel=1e-9)
    assert raw["time_to_exhaustion_seconds"] == pytest.approx(30 * DAY, rel=1e-9)
    assert raw["alerts"] == [] and raw["alert_state"] == "none"
    assert [s["id"] for s in by_remaining_budget([plain, raw, strict])] == [
        "shop-requests-strict", "search-latency", "shop-requests-availability"]
    # before any data: nulls, and no burn means no exhaustion time
    early = status(slos[0], engine.instant, END_MS - 2 * DAY * 1000, detail=True)
    assert early["availability"] is None and early["time_to_exhaustion_seconds"] is None
    assert early["queries"]["burn_rate"]["5m"].endswith("/ 0.0009999999999999432")


def test_filters_and_bad_input(setup: tuple[list[ConfiguredSLO], Engine], tmp_path: Path) -> None:
    slos, _ = setup
    assert parse_label_filters(["owner=web-team", "x=a=b"]) == {"owner": "web-team", "x": "a=b"}
    with pytest.raises(ValueError, match="'owner' is not of the form name=value"):
        parse_label_filters(["owner"])
    assert [s.slo.id for s in slos if matches(s, "SHOP tighter", {})] == ["shop-requests-strict"]
    assert [s.slo.id for s in slos if matches(s, "", {"owner": "search-team"})] == ["search-latency"]
    assert [s.slo.id for s in slos if matches(s, "web-team", {"owner": "search-team"})] == []
    with pytest.raises(ConfigError, match=r"missing\.yml: cannot read SLO spec"):
        load_slos(SLOsConfig.from_raw({"files": [str(tmp_path / "missing.yml")]}))


OPENSLO = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: slow-searches
spec:
  service: search
  indicator:
    metadata: {name: slow}
    spec:
      thresholdMetric:
        metricSource:
          type: Prometheus
          spec: {query: 'search_slow_ratio{job="search"}'}
  timeWindow:
    - duration: 1M
      isRolling: false
      calendar: {startTime: "2026-01-01 00:00:00", timeZone: UTC}
  objectives:
    - {target: 0.99, op: lte, value: 0.004}
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: slices
spec:
  service: shop
  budgetingMethod: Timeslices
  indicator:
    metadata: {name: errors}
    spec:
      ratioMetric:
        bad:
          metricSource:
            type: Prometheus
            spec: {query: 'sum(rate(http_requests_total{job="shop",code=~"5.."}[{{.window}}]))'}
        total:
          metricSource:
            type: Prometheus
            spec: {query: 'sum(rate(http_requests_total{job="shop"}[{{.window}}]))'}
  timeWindow:
    - {duration: 30d, isRolling: true}
  objectives:
    - {target: 0.99, timeSliceTarget: 0.995, timeSliceWindow: 5m}
"""


def test_openslo_threshold_calendar_and_timeslices(setup: tuple[list[ConfiguredSLO], Engine], tmp_path: Path) -> None:
    """A threshold SLO with a calendar month and a Timeslices SLO, over the same samples."""
    _, engine = setup
    spec = tmp_path / "openslo.yml"
    spec.write_text(OPENSLO)
    threshold, slices = (status(item, engine.instant, END_MS, detail=True)
                         for item in load_slos(SLOsConfig.from_raw({"files": [str(spec)]})))
    # every search_slow_ratio sample (0.5 %) misses the 0.4 % threshold: all the sampled time is bad
    assert threshold["sli"]["error_ratio"] == 1 and threshold["burn_rate"]["current"] == pytest.approx(100)
    # END_MS is 2027-01-15 08:00 UTC: the budget is the month's, spent for the 14 1/3 days elapsed
    calendar = threshold["period"]["calendar"]
    assert calendar == {"duration": "1M", "time_zone": "UTC", "start": "2027-01-01T00:00:00.000Z",
                        "end": "2027-02-01T00:00:00.000Z", "seconds": 31 * DAY,
                        "elapsed_seconds": 14 * DAY + 8 * 3600}
    assert threshold["period"]["duration"] == "30d"  # the rolling period of the burn-rate alerts
    assert threshold["error_budget"]["seconds"] == pytest.approx(0.01 * 31 * DAY)
    consumed = (14 + 1 / 3) / 31 / 0.01
    assert threshold["error_budget"]["consumed_ratio"] == pytest.approx(consumed, rel=1e-9)
    assert threshold["time_to_exhaustion_seconds"] == 0.0
    # 1 % errors in the last hour: each of its 5m slices misses the 99.5 % slice target, the others pass
    assert slices["sli"]["error_ratio"] == 1
    windows = {w["long_window"]: w["long"] for w in slices["windows"]}
    assert windows["1h"] == pytest.approx(1 / 0.01) and windows["6h"] == pytest.approx(1 / 6 / 0.01, rel=0.1)
    assert "calendar" not in slices["period"]
