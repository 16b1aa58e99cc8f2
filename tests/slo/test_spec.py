"""Spec parsing and every validation error, each naming the file, the SLO and the field."""

from __future__ import annotations

import pytest

from tsdb.errors import ConfigError
from tsdb.slo.spec import SpecError, parse_specs

EVENTS = """\
version: prometheus/v1
service: svc
labels: {team: a, tier: 2}
slos:
  - name: avail
    objective: 99.9
    labels: {tier: "1"}
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{ .window }}]))
    alerting:
      name: HighErrors
      labels: {category: availability}
      annotations: {runbook: http://runbooks/avail}
      page_alert: {labels: {severity: critical}}
      ticket_alert: {disable: true}
"""


def _one(text: str) -> object:
    (spec,) = parse_specs(text, "slo.yml")
    return spec


def test_events_spec_parses() -> None:
    (spec,) = parse_specs(EVENTS, "slo.yml")
    assert spec.service == "svc" and spec.source == "slo.yml"
    (slo,) = spec.slos
    assert slo.id == "svc-avail" and slo.objective == 99.9
    assert slo.labels == {"team": "a", "tier": "1"}  # the SLO's labels override the service's
    assert slo.error_query.startswith("sum(rate(") and slo.error_ratio_query == ""
    assert not slo.page.disable and slo.page.name == "HighErrors"
    assert slo.page.labels == {"category": "availability", "severity": "critical"}
    assert slo.page.annotations == {"runbook": "http://runbooks/avail"}
    assert slo.ticket.disable


def test_raw_spec_and_scalar_labels() -> None:
    text = EVENTS.replace("""      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{ .window }}]))""", """      raw:
        error_ratio_query: 1 - avg_over_time(up[{{.window}}])""").replace("labels: {team: a, tier: 2}",
                                                                         "labels: {team: a, enabled: true, le: 0.2}")
    (slo,) = parse_specs(text, "slo.yml")[0].slos
    assert slo.error_ratio_query.startswith("1 - avg") and slo.error_query == ""
    assert slo.labels["enabled"] == "true" and slo.labels["le"] == "0.2"  # as Sloth reads them: strings


def test_multi_document_file_names_each_document() -> None:
    specs = parse_specs(EVENTS + "---\n" + EVENTS.replace("service: svc", "service: other"), "many.yml")
    assert [s.source for s in specs] == ["many.yml (document 1)", "many.yml (document 2)"]
    assert [s.service for s in specs] == ["svc", "other"]


def _replace(old: str, new: str) -> str:
    assert old in EVENTS
    return EVENTS.replace(old, new)


CASES = [
    ("objective zero", _replace("objective: 99.9", "objective: 0"),
     "slo.yml: slo 'avail': objective: must be > 0 and <= 100, got 0"),
    ("objective above 100", _replace("objective: 99.9", "objective: 100.5"),
     "slo.yml: slo 'avail': objective: must be > 0 and <= 100, got 100.5"),
    ("objective negative", _replace("objective: 99.9", "objective: -1"), "objective: must be > 0 and <= 100"),
    ("objective missing", _replace("    objective: 99.9\n", ""), "objective: must be > 0 and <= 100, got 0"),
    ("objective text", _replace("objective: 99.9", "objective: high"),
     "slo 'avail': objective: must be a number, got 'high'"),
    ("objective nan", _replace("objective: 99.9", "objective: .nan"), "objective: must be > 0 and <= 100"),
    ("no window", _replace("[{{ .window }}]", "[5m]"),
     "slo 'avail': sli.events.total_query: the query must use the {{.window}} template variable"),
    ("raw no window", _replace("""      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{ .window }}]))""", """      raw:
        error_ratio_query: 1 - avg_over_time(up[5m])"""),
     "slo 'avail': sli.raw.error_ratio_query: the query must use the {{.window}} template variable"),
    ("other template variable", _replace("[{{ .window }}]", "[{{ .window }}] offset {{.offset}}"),
     "slo 'avail': sli.events.total_query: invalid template:"),
    ("bad promql", _replace("sum(rate(http_requests_total[{{ .window }}]))",
                            "sum(rate(http_requests_total[{{ .window }}])"),
     "slo 'avail': sli.events.total_query: invalid PromQL (with {{.window}} as 1m)"),
    ("same queries", _replace("sum(rate(http_requests_total[{{ .window }}]))",
                              'sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))'),
     "slo 'avail': sli.events: error_query and total_query can't be the same"),
    ("missing query", _replace("        total_query: sum(rate(http_requests_total[{{ .window }}]))\n", ""),
     "slo 'avail': sli.events.total_query: the query is required"),
    ("both events and raw", _replace("    sli:\n", "    sli:\n      raw: {error_ratio_query: 'up[{{.window}}]'}\n"),
     "slo 'avail': sli: only one SLI type is allowed, got both events and raw"),
    ("neither", _replace("""    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{ .window }}]))
""", "    sli: {}\n"), "slo 'avail': sli: one SLI type is required: events or raw"),
    ("sli plugin", _replace("    sli:\n", "    sli:\n      plugin: {id: sloth-common/availability}\n"),
     "slo 'avail': sli.plugin: SLI plugins are not supported by tsdb"),
    ("slo plugins", _replace("    objective: 99.9\n", "    objective: 99.9\n    plugins: {chain: [{id: x}]}\n"),
     "slo 'avail'.plugins: SLO plugins are not supported by tsdb"),
    ("unknown version", _replace("version: prometheus/v1", "version: prometheus/v2"),
     "slo.yml: version: unknown spec version 'prometheus/v2', expected 'prometheus/v1'"),
    ("kubernetes spec", "apiVersion: sloth.slok.dev/v1\nkind: PrometheusServiceLevel\n",
     "Kubernetes PrometheusServiceLevel specs are not supported yet"),
    ("duplicate names", EVENTS + EVENTS[EVENTS.index("  - name: avail"):],
     "slo.yml: slo 'avail': name: repeated in service 'svc'"),
    ("no slos", _replace(EVENTS[EVENTS.index("slos:"):], "slos: []\n"), "slo.yml: slos: at least one SLO is required"),
    ("bad slo name", _replace("name: avail", "name: -avail"), "slo '-avail': name: must start and end with"),
    ("missing slo name", _replace("  - name: avail\n", "  - description: x\n"),
     "slos[0].name: the SLO name is required"),
    ("bad service", _replace("service: svc", "service: 'my svc'"), "slo.yml: service: 'my svc' must start"),
    ("bad label name", _replace("labels: {tier: \"1\"}", "labels: {tier-x: \"1\"}"),
     "slo 'avail': labels: invalid label name 'tier-x'"),
    ("empty label value", _replace("labels: {tier: \"1\"}", "labels: {tier: \"\"}"),
     "slo 'avail': labels: label 'tier': the value is required"),
    ("alert without name", _replace("      name: HighErrors\n", ""),
     "slo 'avail': alerting.name: the alert name is required (or set page_alert.disable: true)"),
    ("bad alert label", _replace("{severity: critical}", "{severity: ''}"),
     "slo 'avail': alerting.page_alert.labels: label 'severity': the value is required"),
    ("invalid yaml", "version: [", "slo.yml: invalid YAML"),
    ("empty file", "# nothing\n", "slo.yml: no SLO spec found"),
    ("not a mapping", "- a\n- b\n", "slo.yml: a spec must be a mapping"),
]


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_validation_errors(text: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_specs(text, "slo.yml")
    assert message in str(info.value)
    assert isinstance(info.value, ConfigError)


def test_disabled_alerts_need_no_name() -> None:
    text = _replace("      name: HighErrors\n", "").replace("page_alert: {labels: {severity: critical}}",
                                                             "page_alert: {disable: true}")
    (slo,) = parse_specs(text, "slo.yml")[0].slos
    assert slo.page.disable and slo.ticket.disable
