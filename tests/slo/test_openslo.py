"""OpenSLO specs: converted as Sloth converts them, equal to the same SLO written as a Sloth spec, errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.needs import needs_binary
from tests.slo.golden import DATA
from tsdb.cli.main import main
from tsdb.slo.render import render_file
from tsdb.slo.sloth import Options, generate_all
from tsdb.slo.spec import AlertMeta, BurnRateAlert, Calendar, SpecError, parse_sources, parse_specs
from tsdb.slo.windows import DAY

OPENSLO = DATA / "openslo"


def _files(*names: str) -> list[tuple[str, str]]:
    return [((OPENSLO / name).read_text(), name) for name in names]


def _rules(files: list[tuple[str, str]], options: Options) -> str:
    return render_file([g for doc in generate_all(parse_sources(files), options) for g in doc], "")


def _info(text: str) -> str:
    """The rules without the info series' spec and mode labels, which name the input format."""
    return "\n".join(line for line in text.splitlines() if "sloth_spec:" not in line and "sloth_mode:" not in line)


def test_bad_total_equals_the_sloth_events_spec() -> None:
    """indicatorRef to an SLI in another file; a Service document; bad/total is an events SLI."""
    options = Options(version="test")
    openslo = _rules(_files("checkout-slo.yaml", "checkout-slis.yaml"), options)
    sloth = _rules(_files("checkout-sloth.yaml"), options)
    assert _info(openslo) == _info(sloth)
    assert "sloth_spec: openslo/v1" in openslo and "sloth_mode: cli-gen-openslo" in openslo
    assert "sloth-slo-sli-recordings-checkout-requests-availability-0" in openslo
    assert "alert:" not in openslo


def test_good_total_equals_the_sloth_raw_spec_with_the_spec_window() -> None:
    """Inline indicator, two objectives (target and targetPercent), the spec's 28d window wins."""
    openslo = _rules(_files("latency-slo.yaml"), Options(version="test"))
    sloth = _rules(_files("latency-sloth.yaml"), Options(version="test", period_s=28 * 86400))
    assert _info(openslo) == _info(sloth)
    assert "slo:sli_error:ratio_rate4w" in openslo and "sloth_slo: latency-1" in openslo


def test_cli_generate_and_check_accept_both_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rules.yml"
    specs = [str(OPENSLO / n) for n in ("checkout-slo.yaml", "checkout-slis.yaml", "latency-slo.yaml")]
    assert main(["slo", "generate", *specs, str(DATA / "examples/getting-started.yml"), "-o", str(out)]) == 0
    text = out.read_text()
    assert "sloth-slo-alerts-myservice-requests-availability" in text and "checkout-latency-1" in text
    assert main(["check", "slo", *specs]) == 0
    assert "SUCCESS: 1 SLOs" in capsys.readouterr().out
    assert main(["check", "slo", specs[0]]) == 1  # the referenced SLI is not among the files
    assert "SLI 'checkout-errors' is not defined in the given files" in capsys.readouterr().err


V1 = """apiVersion: openslo/v1
kind: SLO
metadata:
  name: avail
spec:
  service: svc
  budgetingMethod: Occurrences
  timeWindow:
    - duration: 30d
      isRolling: true
  indicator:
    metadata:
      name: sli
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            type: Prometheus
            spec:
              query: sum(rate(ok[{{.window}}]))
        total:
          metricSource:
            type: Prometheus
            spec:
              query: sum(rate(all[{{.window}}]))
  objectives:
    - target: 0.999
"""

THRESHOLD = V1[:V1.index("      ratioMetric:")] + """      thresholdMetric:
        metricSource:
          type: Prometheus
          spec:
            query: latency_p99
  objectives:
    - target: 0.99
      op: lte
      value: 0.5
"""

POLICY = V1 + """  alertPolicies:
    - kind: AlertPolicy
      metadata:
        name: fast-burn
      spec:
        conditions:
          - kind: AlertCondition
            metadata:
              name: fast
            spec:
              severity: page
              condition:
                kind: burnrate
                op: gt
                threshold: 14.4
                lookbackWindow: 1h
"""

WHERE = "slo.yml: SLO 'avail': "
CASES = [
    ("timeslices without window", V1.replace("Occurrences", "Timeslices"),
     WHERE + "spec.objectives[0].timeSliceWindow: the time slice window is required with Timeslices"),
    ("timeslices without target", V1.replace("Occurrences", "Timeslices").replace(
        "- target: 0.999", "- target: 0.999\n      timeSliceWindow: 1m"),
     WHERE + "spec.objectives[0].timeSliceTarget: the time slice target is required with Timeslices"),
    ("slice window too long", V1.replace("Occurrences", "RatioTimeslices").replace(
        "- target: 0.999", "- target: 0.999\n      timeSliceWindow: 10m"),
     WHERE + "spec.objectives[0].timeSliceWindow: must be whole minutes from 1m to 5m"),
    ("slice target out of range", V1.replace("Occurrences", "Timeslices").replace(
        "- target: 0.999", "- target: 0.999\n      timeSliceWindow: 1m\n      timeSliceTarget: 95"),
     WHERE + "spec.objectives[0].timeSliceTarget: must be a ratio > 0 and <= 1, got 95"),
    ("unknown budgeting", V1.replace("Occurrences", "Sometimes"),
     WHERE + "spec.budgetingMethod: unknown method 'Sometimes'; use Occurrences, Timeslices or RatioTimeslices"),
    ("7d window", V1.replace("30d", "7d"),
     WHERE + "spec.timeWindow[0].duration: SLO period '7d' is not supported: 30d and 28d are"),
    ("calendar week", V1.replace("30d", "1w").replace("isRolling: true", "isRolling: false"),
     WHERE + "spec.timeWindow[0].duration: calendar-aligned period '1w' is not supported: 1M, 4w (28d) and 30d are"),
    ("calendar time zone", V1.replace("30d", "1M").replace(
        "isRolling: true", "isRolling: false\n      calendar:\n        timeZone: Mars/Base"),
     WHERE + "spec.timeWindow[0].calendar.timeZone: unknown time zone 'Mars/Base'"),
    ("calendar start", V1.replace("30d", "1M").replace(
        "isRolling: true", "isRolling: false\n      calendar:\n        startTime: soon"),
     WHERE + "spec.timeWindow[0].calendar.startTime: 'soon' is not a time like 2024-01-01 00:00:00"),
    ("rolling or calendar", V1.replace("      isRolling: true\n", ""),
     WHERE + "spec.timeWindow[0].isRolling: true (a rolling window) or false with a calendar is required"),
    ("target out of range", V1.replace("0.999", "99.9"),
     WHERE + "spec.objectives[0].target: must be a ratio > 0 and <= 1, got 99.9"),
    ("target percent out of range", V1.replace("target: 0.999", "targetPercent: 101"),
     WHERE + "spec.objectives[0].targetPercent: must be > 0 and <= 100, got 101"),
    ("no target", V1.replace("target: 0.999", "displayName: x"),
     WHERE + "spec.objectives[0].target (or targetPercent): the target is required"),
    ("no objectives", V1.replace("  objectives:\n    - target: 0.999\n", ""),
     WHERE + "spec.objectives: at least one objective is required"),
    ("not prometheus", V1.replace("type: Prometheus", "type: Datadog", 1),
     WHERE + "spec.indicator.spec.ratioMetric.good.metricSource.type: 'Datadog' is not supported: Prometheus is"),
    ("no window variable", V1.replace("[{{.window}}]))\n        total", "[5m]))\n        total"),
     WHERE + "spec.indicator.spec.ratioMetric.good.metricSource.spec.query: the query must use the "
     "{{.window}} template variable"),
    ("bad PromQL", V1.replace("sum(rate(all", "sum(rate(all("),
     "ratioMetric.total.metricSource.spec.query: invalid PromQL"),
    ("good and bad", V1.replace("        good:", "        bad:\n          x: 1\n        good:"),
     WHERE + "spec.indicator.spec.ratioMetric: exactly one of good and bad is required, with total"),
    ("threshold without op", THRESHOLD.replace("      op: lte\n", ""),
     WHERE + "spec.objectives[0].op: the operator is required for a threshold indicator: lt, lte, gt or gte"),
    ("threshold unknown op", THRESHOLD.replace("op: lte", "op: le"),
     WHERE + "spec.objectives[0].op: unknown operator 'le' for a threshold indicator"),
    ("threshold without value", THRESHOLD.replace("      value: 0.5\n", ""),
     WHERE + "spec.objectives[0].value: must be a number, got nothing"),
    ("threshold not prometheus", THRESHOLD.replace("type: Prometheus", "type: CloudWatch"),
     WHERE + "spec.indicator.spec.thresholdMetric.metricSource.type: 'CloudWatch' is not supported: Prometheus is"),
    ("threshold bad PromQL", THRESHOLD.replace("query: latency_p99", "query: latency_p99("),
     WHERE + "spec.indicator.spec.thresholdMetric.metricSource.spec.query: invalid PromQL"),
    ("threshold and ratio",
     THRESHOLD.replace("      thresholdMetric:", "      ratioMetric: {}\n      thresholdMetric:"),
     WHERE + "spec.indicator.spec: thresholdMetric and ratioMetric: only one of them is allowed"),
    ("raw without type", V1.replace("        good:", "        raw:").replace("        total:", "        x:"),
     WHERE + "spec.indicator.spec.ratioMetric.rawType: success or failure is required with raw, got ''"),
    ("data source by reference", V1.replace("type: Prometheus", "metricSourceRef: dd", 1),
     WHERE + "spec.indicator.spec.ratioMetric.good.metricSource.metricSourceRef: DataSource 'dd' is not defined"),
    ("policy reference", V1 + "  alertPolicies:\n    - alertPolicyRef: nope\n",
     WHERE + "spec.alertPolicies[0].alertPolicyRef: AlertPolicy 'nope' is not defined in the given files"),
    ("policy neither", POLICY.replace("    - kind: AlertPolicy", "    - kind: AlertCondition"),
     WHERE + "spec.alertPolicies[0]: alertPolicyRef or an inline AlertPolicy (kind: AlertPolicy) is required"),
    ("policy two conditions",
     POLICY.replace("        conditions:\n", "        conditions:\n          - conditionRef: a\n"),
     WHERE + "spec.alertPolicies[0]: spec.conditions: exactly one condition is required"),
    ("condition reference", POLICY[:POLICY.index("          - kind:")] + "          - conditionRef: nope\n",
     WHERE + "spec.alertPolicies[0]: spec.conditions[0].conditionRef: AlertCondition 'nope' is not defined"),
    ("condition kind", POLICY.replace("kind: burnrate", "kind: threshold"),
     WHERE + "spec.alertPolicies[0]: spec.conditions[0].spec.condition.kind: 'threshold' is not supported"),
    ("condition severity", POLICY.replace("              severity: page\n", ""),
     WHERE + "spec.alertPolicies[0]: spec.conditions[0].spec.severity: the severity is required"),
    ("condition lookback", POLICY.replace("lookbackWindow: 1h", "lookbackWindow: 1 hour"),
     WHERE + "spec.alertPolicies[0]: spec.conditions[0].spec.condition.lookbackWindow: invalid duration '1 hour'"),
    ("condition no lookback", POLICY.replace("                lookbackWindow: 1h\n", ""),
     WHERE + "spec.alertPolicies[0]: spec.conditions[0].spec.condition.lookbackWindow: the lookback window is"),
    ("condition threshold", POLICY.replace("threshold: 14.4", "threshold: 0"),
     WHERE + "spec.alertPolicies[0]: spec.conditions[0].spec.condition.threshold: must be > 0, got 0"),
    ("condition op", POLICY.replace("op: gt", "op: above"),
     WHERE + "spec.alertPolicies[0]: spec.conditions[0].spec.condition.op: unknown operator 'above'"),
    ("no data alerts", POLICY.replace("        conditions:\n", "        alertWhenNoData: true\n        conditions:\n"),
     WHERE + "spec.alertPolicies[0]: spec.alertWhenNoData: alerting on missing data is not supported yet"),
    ("missing ref", V1.replace("  indicator:\n", "  indicatorRef: nope\n  x:\n"),
     WHERE + "spec.indicatorRef: SLI 'nope' is not defined in the given files"),
    ("no service", V1.replace("  service: svc\n", ""), WHERE + "spec.service: the service is required"),
    ("bad name", V1.replace("name: avail", "name: 'a b'"), "slo.yml: SLO: metadata.name: 'a b' must start"),
    ("unknown kind", V1.replace("kind: SLO", "kind: Budget"),
     "slo.yml: kind: 'Budget' is not supported: SLO, SLI, AlertPolicy, AlertCondition, DataSource, Service, "
     "AlertNotificationTarget are"),
    ("unknown version", V1.replace("openslo/v1", "openslo/v2"),
     "slo.yml: apiVersion: unknown OpenSLO version 'openslo/v2', expected 'openslo/v1' or 'openslo/v1alpha'"),
    ("only an SLI", V1.replace("kind: SLO", "kind: SLI"), "no SLO found"),
]


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_validation_errors(text: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_specs(text, "slo.yml")
    assert message in str(info.value)


def test_v1alpha_28_day_window_and_sloth_errors() -> None:
    text = (DATA / "in-bad-openslo.yaml").read_text()  # Sloth refuses it: its default period is 30 days
    assert parse_specs(text, "x")[0].slos[0].period_s == 28 * 86400
    with pytest.raises(SpecError, match=r"x: SLO 'slo1': spec.timeWindows\[0\].unit: only days"):
        parse_specs(text.replace("unit: Day", "unit: Week"), "x")
    with pytest.raises(SpecError, match=r"ratioMetrics.good.queryType: unsupported query type 'sql'"):
        parse_specs(text.replace("queryType: promql", "queryType: sql", 1), "x")


BEHAVIOUR = DATA / "behaviour" / "openslo-slo.yaml"


def test_threshold_timeslices_calendar_and_alert_policies() -> None:
    """The behaviour tests' spec: an AlertPolicy and its AlertCondition by reference, and one inline."""
    latency, slices = (spec.slos[0] for spec in parse_sources([(BEHAVIOUR.read_text(), "o.yaml")]))
    assert latency.error_ratio_query == \
        "1 - avg_over_time((((checkout_latency_p99_seconds) >= -Inf) <= bool 0.5)[{{.window}}:1m])"
    assert latency.period_s == 30 * DAY  # a calendar month alerts as 30 rolling days
    assert latency.calendar == Calendar("1M", "Europe/Berlin", "2026-01-01 00:00:00")
    # fast-burn is Sloth's page alert (14.4 over 1h); slow-burn (>= 2 over 2h, after 10m) is not Sloth's
    assert latency.page == AlertMeta(False, "FastBurn", {"severity": "page"},
                                     {"description": "2 % of the error budget burns in an hour."})
    assert latency.ticket.disable
    assert latency.burn_alerts == (BurnRateAlert("SlowBurn", "ticket", ">=", 2, 7200, 600, {"severity": "ticket"}),)
    assert slices.error_ratio_query == (
        "1 - avg_over_time((((1 - ((sum(rate(checkout_errors_total[2m]))) / (sum(rate(checkout_requests_total[2m])))))"
        " >= 0) >= bool 0.95)[{{.window}}:2m])")
    assert slices.calendar is None and slices.burn_alerts == () and slices.page.name == "FastBurn"


RAW = V1.replace("Occurrences", "RatioTimeslices").replace(
    "        good:", "        rawType: success\n        raw:").replace("        total:", "        x:").replace(
    "- target: 0.999", "- target: 0.999\n      timeSliceWindow: 5m").replace(
    "duration: 30d\n      isRolling: true", "duration: 4w\n      isRolling: false\n      calendar: {timeZone: UTC}"
) + """  alertPolicies:
    - kind: AlertPolicy
      metadata:
        name: 1-slow-burn
      spec:
        conditions:
          - kind: AlertCondition
            metadata:
              name: slow
            spec:
              severity: sev2
              condition:
                kind: burnrate
                threshold: 4
                lookbackWindow: 90m
                alertAfter: 5m
"""


def test_raw_ratio_timeslices_with_an_extra_lookback_window() -> None:
    (slo,) = parse_specs(RAW, "raw.yml")[0].slos
    assert slo.error_ratio_query == "1 - avg_over_time(((sum(rate(ok[5m]))) >= 0)[{{.window}}:5m])"
    assert slo.period_s == 28 * DAY and slo.calendar == Calendar("4w", "UTC", "")
    (alert,) = slo.burn_alerts
    assert (alert.name, alert.op, alert.lookback_s, alert.for_s) == ("SLO1SlowBurn", ">", 5400, 300)
    groups = yaml.safe_load(_rules([(RAW, "raw.yml")], Options(version="test")))["groups"]
    sli = [r for g in groups for r in g["rules"] if g["name"].startswith("sloth-slo-sli-")]
    assert [r["record"] for r in sli][-2:] == ["slo:sli_error:ratio_rate4w", "slo:sli_error:ratio_rate1h30m"]
    rule = next(r for g in groups for r in g["rules"] if "alert" in r)
    assert rule["for"] == "5m" and rule["labels"] == {"severity": "sev2"}
    assert rule["expr"] == ('max(slo:sli_error:ratio_rate1h30m{sloth_id="svc-avail-0", sloth_service="svc", '
                            'sloth_slo="avail-0"} > (4 * 0.0009999999999999432)) without (sloth_window)\n')


def _policy(threshold: str, lookback: str, extra: str = "") -> str:
    return POLICY.replace("threshold: 14.4", f"threshold: {threshold}").replace(
        "lookbackWindow: 1h", f"lookbackWindow: {lookback}{extra}")


@pytest.mark.parametrize(("text", "page", "ticket", "plain"), [
    (_policy("14.4", "1h"), "FastBurn", "", 0),
    (_policy("6", "6h"), "FastBurn", "", 0),  # the page alert's slow window: the whole page alert
    (_policy("1", "3d"), "", "FastBurn", 0),  # the ticket alert's
    (_policy("14.4", "1h").replace("30d", "28d"), "", "", 1),  # 28 days: the factor is 13.44
    (_policy("13.44", "1h").replace("30d", "28d"), "FastBurn", "", 0),
    (_policy("14.4", "1h").replace("op: gt", "op: gte"), "", "", 1),
    (_policy("14.4", "1h", "\n                alertAfter: 2m"), "", "", 1),
    (_policy("14.4", "5m"), "", "", 1),  # a short window alone is not Sloth's
])
def test_conditions_map_to_sloth_alerts_when_they_are_sloths_windows(text: str, page: str, ticket: str,
                                                                     plain: int) -> None:
    (slo,) = parse_specs(text, "slo.yml")[0].slos
    assert (slo.page.name, slo.ticket.name, len(slo.burn_alerts)) == (page, ticket, plain)


def test_two_policies_for_one_sloth_alert() -> None:
    second = POLICY[POLICY.index("    - kind: AlertPolicy"):]
    same = POLICY + second.replace("threshold: 14.4", "threshold: 6").replace("lookbackWindow: 1h",
                                                                               "lookbackWindow: 6h")
    assert parse_specs(same, "slo.yml")[0].slos[0].page.name == "FastBurn"
    with pytest.raises(SpecError, match=r"slo.yml: SLO 'avail': spec.alertPolicies\[1\]: its condition is Sloth's "
                                        r"page alert, already given by alert policy 'fast-burn'"):
        parse_specs(POLICY + second.replace("fast-burn", "other"), "slo.yml")


def test_new_shapes_load_in_tsdb_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, text in (("raw.yml", RAW), ("threshold.yml", THRESHOLD), ("policy.yml", POLICY)):
        (tmp_path / name).write_text(text)
        assert main(["check", "slo", str(tmp_path / name)]) == 0, capsys.readouterr()
    assert main(["check", "slo", str(BEHAVIOUR)]) == 0
    assert "SUCCESS: 2 SLOs" in capsys.readouterr().out


@needs_binary("promtool", package="prometheus")
def test_new_shapes_pass_promtool(tmp_path: Path) -> None:
    files = [(BEHAVIOUR.read_text(), "b.yaml"), (RAW, "raw.yml"), (THRESHOLD.replace("avail", "thr"), "t.yml"),
             (POLICY.replace("avail", "pol"), "p.yml")]
    path = tmp_path / "rules.yml"
    path.write_text(_rules(files, Options(version="test")))
    done = subprocess.run(["promtool", "check", "rules", "--lint=none", str(path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "SUCCESS" in done.stdout, done.stdout + done.stderr
