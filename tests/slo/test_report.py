"""Compliance report arithmetic against hand-computed figures, in every format.

November 2026 (30 days) at 99.9%: 100 requests a minute, all failing during one 30-minute outage, so
attained = 1 - 30/43200 = 99.9306%, the allowance is 43.2 minutes (4,320 of 4,320,000 requests), 30
minutes of it are spent: 69.44% of the budget consumed, 30.56% remaining.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pypdf
import pytest

from tests.slo.report_data import utc, write_month, write_spec
from tsdb.alerting.matchers import parse_matchers
from tsdb.alerting.silences import Silence
from tsdb.alerting.timeintervals import parse_intervals
from tsdb.embedded import EmbeddedDB, open_db
from tsdb.errors import InvalidArgumentError
from tsdb.slo.report import Report, ReportInputs, build_report, engine_query
from tsdb.slo.report_period import month_period, period_from
from tsdb.slo.report_render import render
from tsdb.slo.spec import SLO, parse_specs

OUTAGE = utc("2026-11-10T12:00")


def _slos(tmp: Path, objective: float = 99.9) -> list[SLO]:
    return [s for spec in parse_specs(write_spec(tmp, objective).read_text(), "shop.yml") for s in spec.slos]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedDB:
    data = tmp_path_factory.mktemp("data")
    november = month_period("2026-11")
    write_month(data, november.start_s, november.end_s, [(OUTAGE, OUTAGE + 1800)],
                slow=[(OUTAGE, OUTAGE + 3600)])
    with open_db(str(data)) as opened:
        yield opened


def _report(db: EmbeddedDB, tmp: Path, objective: float = 99.9, month: str = "2026-11", tz: str = "UTC",
            **inputs: object) -> Report:
    return build_report(_slos(tmp, objective), ReportInputs(engine_query(db.engine.instant), **inputs),  # type: ignore[arg-type]
                        month_period(month, tz), trend_periods=1, now=utc("2026-12-01T06:00"))


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def test_pass_figures_in_every_format(db: EmbeddedDB, tmp_path: Path) -> None:
    report = _report(db, tmp_path)
    shop = report.slos[0]
    assert shop.total_events == pytest.approx(4_320_000, abs=0.01)
    assert shop.bad_events == pytest.approx(3000, abs=0.01)
    assert shop.attained == pytest.approx(1 - 30 / 43200, abs=1e-9)
    assert shop.status == "pass"
    assert shop.allowance_s == pytest.approx(43.2 * 60)
    assert shop.bad_s == pytest.approx(30 * 60, abs=0.01)
    assert shop.budget_remaining == pytest.approx(1 - 30 / 43.2, abs=1e-8)
    assert [(i.alert, i.start_s - OUTAGE, i.end_s - OUTAGE) for i in shop.incidents] == \
        [("ShopHighErrorRate", 300, 2400)]
    assert shop.mttd_s == 180 and shop.mttr_s == 2100
    assert [(t.label, t.status) for t in shop.trend] == [("2026-10", "pass")]

    data = json.loads(render(report, "json"))
    item = data["slos"][0]
    assert round(item["attained_percent"], 4) == 99.9306 and item["status"] == "pass"
    assert round(item["budget_remaining_percent"], 2) == 30.56
    assert round(item["bad_seconds"] / 60, 1) == 30.0 and round(item["allowance_seconds"] / 60, 1) == 43.2
    assert data["summary"] == {"slos": 2, "passed": 2, "breached": 0, "no_data": 0}
    assert data["period"]["seconds"] == 30 * 86400

    csv_rows = render(report, "csv").decode().splitlines()
    header, row = csv_rows[0].split(","), dict(zip(csv_rows[0].split(","), csv_rows[1].split(","), strict=False))
    assert header[0] == "period"
    assert (row["attained_percent"], row["status"], row["budget_remaining_percent"]) == ("99.9306", "pass", "30.56")
    assert (row["bad_minutes"], row["allowance_minutes"], row["bad_events"]) == ("30.0", "43.2", "3000")
    assert (row["mttd_minutes"], row["mttr_minutes"], row["incidents"]) == ("3.0", "35.0", "1")

    page = render(report, "html").decode()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "http" not in page.split("<body>")[0]
    for text in ("99.9306%", "30.56%", "30.0 min of 43.2 min", "PASS", "3,000 / 4,320,000", "35.0 min"):
        assert text in page
    pdf = _pdf_text(render(report, "pdf"))
    for text in ("Attained 99.9306%", "Budget remaining 30.56%", "30.0 min of 43.2 min", "Status PASS",
                 "MTTD 3.0 min", "MTTR 35.0 min"):
        assert text in pdf, text


def test_raw_sli_is_time_weighted(db: EmbeddedDB, tmp_path: Path) -> None:
    latency = _report(db, tmp_path).slos[1]
    assert latency.sli_type == "raw" and latency.total_events is None
    assert latency.attained == pytest.approx(1 - 60 / 43200)  # slow for one hour of 720
    assert latency.bad_s == pytest.approx(3600) and latency.allowance_s == pytest.approx(0.01 * 30 * 86400)


def test_breach(db: EmbeddedDB, tmp_path: Path) -> None:
    report = _report(db, tmp_path, objective=99.95)  # allowance 21.6 minutes, 30 spent
    shop = report.slos[0]
    assert shop.status == "breach"
    assert shop.budget_consumed == pytest.approx(30 / 21.6, abs=1e-8)
    assert report.summary()["breached"] == 1
    row = render(report, "csv").decode().splitlines()[1].split(",")
    assert "breach" in row and "-38.89" in row
    assert "Status BREACH" in _pdf_text(render(report, "pdf"))
    assert "21.6 min" in render(report, "html").decode()


def test_maintenance_silence_excludes_the_outage(db: EmbeddedDB, tmp_path: Path) -> None:
    def silence(sid: str, matchers: str, comment: str) -> Silence:
        return Silence(sid, parse_matchers(matchers), OUTAGE - 600, OUTAGE + 3000, "ops", comment)

    ignored = [silence("a", '{sloth_service="shop"}', "noisy"),  # not maintenance
               silence("b", '{service="other", maintenance="true"}', "")]  # another service
    report = _report(db, tmp_path, objective=99.95, silences=ignored)
    assert report.slos[0].status == "breach" and report.slos[0].maintenance == []

    marked = [silence("m1", '{sloth_service="shop"}', "Planned maintenance: DB upgrade")]
    shop = _report(db, tmp_path, objective=99.95, silences=marked).slos[0]
    assert shop.status == "pass" and shop.attained == 1.0 and shop.budget_remaining == 1.0
    assert shop.excluded_s == 3600 and shop.counted_s == 30 * 86400 - 3600
    assert shop.total_events == pytest.approx(4_320_000 - 6000, abs=0.01)
    assert shop.maintenance[0].source == "silence m1: Planned maintenance: DB upgrade"
    by_label = _report(db, tmp_path, silences=[silence("m2", '{maintenance="db"}', "")]).slos[0]
    assert by_label.attained == 1.0 and by_label.excluded_s == 3600
    text = _pdf_text(render(_report(db, tmp_path, silences=marked), "pdf"))
    assert "Maintenance excluded 60.0 min" in text and "Attained 100.0000%" in text


def test_maintenance_time_interval(db: EmbeddedDB, tmp_path: Path) -> None:
    intervals = parse_intervals({"maintenance-weekly": [{"days_of_month": ["10"],
                                                         "times": [{"start_time": "11:30", "end_time": "13:00"}]}],
                                 "business-hours": [{"weekdays": ["monday:friday"]}]})
    shop = _report(db, tmp_path, time_intervals=intervals).slos[0]
    assert shop.excluded_s == 5400 and shop.attained == 1.0
    assert shop.maintenance[0].source == "time interval maintenance-weekly"
    assert "time interval maintenance-weekly" in render(_report(db, tmp_path, time_intervals=intervals),
                                                        "html").decode()


def test_berlin_month_follows_dst(tmp_path: Path) -> None:
    october = month_period("2026-10", "Europe/Berlin")
    assert october.seconds == 31 * 86400 + 3600
    assert (october.start_s, october.end_s) == (utc("2026-09-30T22:00"), utc("2026-10-31T23:00"))
    assert month_period("2026-03", "Europe/Berlin").seconds == 31 * 86400 - 3600
    inside = utc("2026-10-15T10:00")
    after = utc("2026-10-31T23:10")  # 1 November 00:10 in Berlin, still October in UTC
    write_month(tmp_path / "d", october.start_s, october.end_s, [(inside, inside + 1800), (after, after + 1800)])
    with open_db(str(tmp_path / "d")) as db:
        berlin = _report(db, tmp_path, month="2026-10", tz="Europe/Berlin")
        utc_report = _report(db, tmp_path, month="2026-10")
    shop = berlin.slos[0]
    assert shop.attained == pytest.approx(1 - 1800 / (31 * 86400 + 3600), abs=1e-9)
    assert shop.allowance_s == pytest.approx(0.001 * (31 * 86400 + 3600))  # 44.7 minutes
    assert len(shop.incidents) == 1
    data = json.loads(render(berlin, "json"))
    assert data["period"]["start"] == "2026-10-01T00:00:00+02:00"
    assert data["period"]["end"] == "2026-11-01T00:00:00+01:00"
    assert round(data["slos"][0]["attained_percent"], 4) == 99.9329
    assert utc_report.slos[0].bad_events == pytest.approx(6000, abs=0.01)  # both outages in UTC's October
    assert "30.0 min of 44.7 min" in _pdf_text(render(berlin, "pdf"))


def test_bad_input_names_the_offending_part() -> None:
    with pytest.raises(InvalidArgumentError, match="bad month '2026-13'"):
        month_period("2026-13")
    with pytest.raises(InvalidArgumentError, match="unknown time zone 'Mars/Base'"):
        month_period("2026-11", "Mars/Base")
    with pytest.raises(InvalidArgumentError, match="bad start 'yesterday'"):
        period_from(None, "yesterday", "2026-11-02", "UTC")
    with pytest.raises(InvalidArgumentError, match="not after start"):
        period_from(None, "2026-11-02", "2026-11-01", "UTC")
    with pytest.raises(InvalidArgumentError, match="unknown report format 'docx'"):
        render(Report(month_period("2026-11"), [], 0), "docx")


OPENSLO = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: fast}
spec:
  service: shop
  indicator:
    metadata: {name: slow}
    spec:
      thresholdMetric:
        metricSource: {type: Prometheus, spec: {query: slow_ratio}}
  timeWindow: [{duration: 1M, isRolling: false, calendar: {timeZone: UTC}}]
  objectives: [{target: 0.999, op: lte, value: 0.5}]
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: slices}
spec:
  service: shop
  budgetingMethod: Timeslices
  indicator:
    metadata: {name: errors}
    spec:
      ratioMetric:
        bad:
          metricSource: {type: Prometheus, spec: {query: 'sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))'}}
        total: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(http_requests_total[{{.window}}]))'}}}
  objectives: [{target: 0.999, timeSliceTarget: 0.99, timeSliceWindow: 5m}]
"""


def test_openslo_threshold_and_timeslices_slos(db: EmbeddedDB) -> None:
    """The raw-SLI path: one slow hour is 60 bad minutes; the 30-minute outage is 6 bad 5-minute slices."""
    slos = [s for spec in parse_specs(OPENSLO, "openslo.yml") for s in spec.slos]
    report = build_report(slos, ReportInputs(engine_query(db.engine.instant)), month_period("2026-11"),
                          now=utc("2026-12-01T06:00"))
    threshold, slices = report.slos
    assert threshold.attained == pytest.approx(1 - 60 / 43200, abs=1e-9)
    assert threshold.status == "breach" and slices.status == "pass"
    assert slices.attained == pytest.approx(1 - 30 / 43200, abs=1e-9)
