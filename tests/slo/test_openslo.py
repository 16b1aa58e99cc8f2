"""OpenSLO specs: converted as Sloth converts them, equal to the same SLO written as a Sloth spec, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.slo.golden import DATA
from tsdb.cli.main import main
from tsdb.slo.render import render_file
from tsdb.slo.sloth import Options, generate_all
from tsdb.slo.spec import SpecError, parse_sources, parse_specs

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

WHERE = "slo.yml: SLO 'avail': "
CASES = [
    ("timeslices", V1.replace("Occurrences", "Timeslices"),
     WHERE + "spec.budgetingMethod: Timeslices is not supported yet; use Occurrences"),
    ("ratio timeslices", V1.replace("Occurrences", "RatioTimeslices"), "RatioTimeslices is not supported yet"),
    ("7d window", V1.replace("30d", "7d"),
     WHERE + "spec.timeWindow[0].duration: SLO period '7d' is not supported: 30d and 28d are"),
    ("calendar window", V1.replace("isRolling: true", "isRolling: false"),
     WHERE + "spec.timeWindow[0].isRolling: calendar-aligned time windows are not supported yet"),
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
    ("threshold", V1.replace("ratioMetric:", "thresholdMetric:"),
     WHERE + "spec.indicator.spec.thresholdMetric: threshold indicators are not supported yet"),
    ("missing ref", V1.replace("  indicator:\n", "  indicatorRef: nope\n  x:\n"),
     WHERE + "spec.indicatorRef: SLI 'nope' is not defined in the given files"),
    ("no service", V1.replace("  service: svc\n", ""), WHERE + "spec.service: the service is required"),
    ("bad name", V1.replace("name: avail", "name: 'a b'"), "slo.yml: SLO: metadata.name: 'a b' must start"),
    ("unknown kind", V1.replace("kind: SLO", "kind: AlertPolicy"),
     "slo.yml: kind: 'AlertPolicy' is not supported: SLO, SLI and Service are"),
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
