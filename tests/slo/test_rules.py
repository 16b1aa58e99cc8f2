"""Generated rules load in tsdb's rule loader and pass promtool; Go number and duration printing."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tests.needs import needs_binary
from tests.slo.golden import CASES, DATA
from tsdb.rules.loader import load_rule_files, parse_rule_text
from tsdb.slo.render import render_file, sorted_keys
from tsdb.slo.sloth import Options, generate, generate_all
from tsdb.slo.spec import SpecError, parse_specs
from tsdb.slo.windows import DAY, DEFAULT_WINDOWS, parse_period, prom_duration

SPECS = sorted({case.spec for case in CASES})


def _rule_file(spec: str, options: Options | None = None) -> str:
    specs = parse_specs((DATA / spec).read_text(), spec)
    return render_file([g for doc in generate_all(specs, options) for g in doc], "# generated\n")


@pytest.mark.parametrize("spec", SPECS)
def test_generated_rules_load_in_tsdb(spec: str, tmp_path: Path) -> None:
    path = tmp_path / "slo.yml"
    path.write_text(_rule_file(spec))
    groups = load_rule_files([str(path)])
    kinds = {g.name.rsplit("-", 1)[0]: {r.kind for r in g.rules} for g in groups}
    assert all(g.name.startswith("sloth-slo-") for g in groups)
    sli = [g for g in groups if g.name.startswith("sloth-slo-sli-recordings-")]
    assert sli and all([r.name for r in g.rules][-1] == "slo:sli_error:ratio_rate30d" for g in sli)
    assert all(len(g.rules) == 8 for g in sli)  # 7 alert windows and the period
    assert {"recording"} <= set().union(*kinds.values())


@needs_binary("promtool", package="prometheus")
@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("period", ["30d", "28d"])
def test_generated_rules_pass_promtool(spec: str, period: str, tmp_path: Path) -> None:
    path = tmp_path / "slo.yml"
    path.write_text(_rule_file(spec, Options(period_s=parse_period(period), extra_labels={"env": "test"})))
    promtool = shutil.which("promtool")
    assert promtool is not None
    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    # the multifile examples give two SLOs the same alert name and labels (as Sloth's do): a lint warning only
    done = subprocess.run([promtool, "check", "rules", "--lint=none", str(path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "SUCCESS" in done.stdout, done.stdout + done.stderr


def test_duplicate_slo_ids_across_files_are_refused() -> None:
    text = (DATA / "examples/getting-started.yml").read_text()
    specs = parse_specs(text, "a.yml") + parse_specs(text, "b.yml")
    with pytest.raises(SpecError, match=re.escape("b.yml: slo 'requests-availability': SLO id "
                                                  "'myservice-requests-availability' is already defined in a.yml")):
        generate_all(specs)


BASE = parse_specs((DATA / "examples/getting-started.yml").read_text(), "getting-started.yml")[0]


@given(objective=st.floats(min_value=0, max_value=100, exclude_min=True, allow_nan=False),
       period=st.sampled_from([28 * DAY, 30 * DAY]))
def test_any_valid_objective_renders_and_loads(objective: float, period: int) -> None:
    slo = dataclasses.replace(BASE.slos[0], objective=objective)
    spec = dataclasses.replace(BASE, slos=(slo,))
    groups = parse_rule_text(render_file(generate(spec, Options(period_s=period)), ""), "slo.yml")
    meta = {r.name: r for g in groups if g.name.startswith("sloth-slo-meta-") for r in g.rules}
    objective_rule = meta["slo:objective:ratio"]
    assert float(objective_rule.expr_text.removeprefix("vector(").removesuffix(")")) == objective / 100
    assert float(meta["sloth_slo_info"].labels["sloth_objective"]) == objective
    alerts = [r for g in groups if g.name.startswith("sloth-slo-alerts-") for r in g.rules]
    assert [a.labels["sloth_severity"] for a in alerts] == ["page", "ticket"]
    assert all(f"* {(100 - objective) / 100!r}" in a.expr_text or "e-" in a.expr_text for a in alerts)


def test_objective_in_spec_text_round_trips() -> None:
    for text, ratio in (("99.9", "0.9990000000000001"), ("95", "0.95"), ("99.99", "0.9998999999999999"), ("100", "1"),
                        ("0.0001", "1e-06")):
        spec = (DATA / "examples/getting-started.yml").read_text().replace("objective: 99.9", f"objective: {text}")
        (groups,) = generate_all(parse_specs(spec, "s.yml"))
        meta = next(g for g in groups if "meta" in str(g["name"]))
        rules = meta["rules"]
        assert isinstance(rules, list) and rules[0]["expr"] == f"vector({ratio})"


def test_prom_durations() -> None:
    assert [prom_duration(s) for s in (300, 1800, 3600, 7200, DAY, 3 * DAY, 7 * DAY, 28 * DAY, 30 * DAY,
                                       365 * DAY, 90 * DAY, 0)] == \
        ["5m", "30m", "1h", "2h", "1d", "3d", "1w", "4w", "30d", "1y", "90d", "0s"]


def test_burn_rate_factors_as_go_prints_them() -> None:
    from tsdb.gotemplate.gofmt import format_float

    def factors(period: int) -> list[str]:
        w = DEFAULT_WINDOWS[period]
        return [format_float(w.burn_factor(x), "g", -1) for x in (w.page_quick, w.page_slow, w.ticket_quick,
                                                                   w.ticket_slow)]

    assert factors(30 * DAY) == ["14.4", "6", "3", "1"]
    assert factors(28 * DAY) == ["13.44", "5.6000000000000005", "2.8000000000000003", "0.9333333333333333"]


def test_periods() -> None:
    assert parse_period("30d") == 30 * DAY and parse_period("4w") == 28 * DAY
    for bad in ("7d", "30", "x", "1y"):
        with pytest.raises(ValueError):
            parse_period(bad)


def test_yaml_v2_key_order() -> None:
    assert sorted_keys(["a10", "a2", "B", "_x", "a"]) == ["_x", "B", "a", "a2", "a10"]
    assert sorted_keys(["tier", "sloth_window", "sloth_id", "owner"]) == ["owner", "sloth_id", "sloth_window", "tier"]


def test_strings_yaml_would_read_as_other_types_are_double_quoted() -> None:
    from tsdb.slo.render import render_groups

    labels = {"a": "2", "b": "true", "c": "y", "d": "1e3", "e": "", "f": "#x", "g": "plain", "h": "2001-12-14",
              "i": "{{ $value }}"}
    text = render_groups([{"name": "g", "rules": [{"record": "r", "expr": "vector(1)", "labels": labels}]}])
    assert text.splitlines()[6:] == ['      a: "2"', '      b: "true"', '      c: "y"', '      d: "1e3"', '      e: ""',
                                     "      f: '#x'", "      g: plain", '      h: "2001-12-14"',
                                     "      i: '{{ $value }}'"]
    assert yaml.safe_load(text)["groups"][0]["rules"][0]["labels"] == labels


def test_exponent_objective_reads_as_a_number() -> None:
    text = (DATA / "examples/getting-started.yml").read_text().replace("objective: 99.9", "objective: 9.99e1")
    (slo,) = parse_specs(text, "s.yml")[0].slos
    assert slo.objective == 99.9
