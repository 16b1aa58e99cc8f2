"""Rule files: parsing, error messages, and verdicts equal to promtool's on the same files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.needs import needs_binary
from tsdb.cli.main import main
from tsdb.errors import ConfigError
from tsdb.rules.loader import load_rule_files, parse_rule_text

DATA = Path(__file__).parent / "data"


def test_good_file_loads() -> None:
    (group,) = load_rule_files([str(DATA / "good.yml")])
    assert group.name == "example" and group.interval_ms == 30_000
    record, alert = group.rules
    assert record.kind == "recording" and record.name == "job:up:sum"
    assert alert.kind == "alerting" and alert.for_ms == 60_000 and alert.keep_firing_for_ms == 120_000
    assert alert.labels == {"severity": "page"} and "summary" in alert.annotations


@pytest.mark.parametrize(("name", "message"), [
    ("bad_expr.yml", "group 'broken', rule 0 (Broken): could not parse expression"),
    ("bad_both.yml", "one of 'record' or 'alert' must be set"),
    ("bad_field.yml", "field 'colour' not found"),
    ("bad_dup_group.yml", "repeated in the same file"),
    ("bad_record_name.yml", "invalid recording rule name"),
    ("bad_yaml.yml", "invalid YAML"),
])
def test_bad_files_name_the_problem(name: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        load_rule_files([str(DATA / name)])
    assert name in str(info.value)


def test_group_labels_limit_and_offset() -> None:
    # group labels and query_offset are Prometheus 3 fields (Debian's 2.42 promtool rejects them)
    (group,) = parse_rule_text("groups: [{name: g, labels: {team: infra}, limit: 5, query_offset: 1m, "
                               "rules: [{record: r, expr: up}]}]", "x.yml")
    assert group.labels == {"team": "infra"} and group.limit == 5 and group.query_offset_ms == 60_000


def test_extensions_are_validated() -> None:
    text = "groups: [{name: g, rules: [{alert: A, expr: up, no_data: maybe}]}]"
    with pytest.raises(ConfigError, match="no_data must be one of"):
        parse_rule_text(text, "x.yml")
    text = "groups: [{name: g, rules: [{record: r, expr: up, for: 1m}]}]"
    with pytest.raises(ConfigError, match="invalid field 'for' in recording rule"):
        parse_rule_text(text, "x.yml")
    ok = parse_rule_text("groups: [{name: g, rules: [{alert: A, expr: up > 5, recovery_expr: up < 3, "
                         "no_data: keep_last}]}]", "x.yml")
    assert ok[0].rules[0].recovery_expr is not None


@needs_binary("promtool", package="prometheus")
def test_verdicts_equal_promtool(capsys: pytest.CaptureFixture[str]) -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None
    for path in sorted(DATA.glob("*.yml")):
        theirs = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, timeout=60).returncode
        ours = main(["check", "rules", str(path)])
        assert (ours == 0) == (theirs == 0), path.name
    out = capsys.readouterr()
    assert "SUCCESS: 2 rules found" in out.out and "FAILED" in out.err
