"""The generated alerts behave as multiwindow multi-burn-rate alerts should, checked in promtool's rule
unit-test format (tests/slo/data/behaviour) by Prometheus's promtool and by tsdb test-rules: a 1.5 % error
rate for 2 hours pages (and resolves when the 5m window recovers), 0.2 % for 3 days only opens a ticket
(shop-tests.yml); an OpenSLO threshold SLO and a Timeslices SLO page on a bad hour through an alert policy,
and a single-window policy opens a ticket after its ``alertAfter`` (openslo-tests.yml)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.needs import require_binary
from tests.slo.golden import DATA
from tsdb.cli.main import main

BEHAVIOUR = DATA / "behaviour"
CASES = [("shop-slo.yaml", "shop-rules.yml", "shop-tests.yml"),
         ("openslo-slo.yaml", "openslo-rules.yml", "openslo-tests.yml")]


def _body(text: str) -> str:
    """The rule file without what names the tsdb version (header, ``sloth_version``)."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("#") and "sloth_version" not in line)


@pytest.mark.parametrize(("spec", "rules"), [c[:2] for c in CASES])
def test_rule_file_is_what_slo_generate_writes(spec: str, rules: str, tmp_path: Path) -> None:
    out = tmp_path / "rules.yml"
    assert main(["slo", "generate", str(BEHAVIOUR / spec), "-o", str(out)]) == 0
    assert _body(out.read_text()) == _body((BEHAVIOUR / rules).read_text())


@pytest.mark.external
@pytest.mark.parametrize("tests", [c[2] for c in CASES])
def test_promtool_passes_the_behaviour_tests(tests: str) -> None:
    promtool = require_binary("promtool", package="prometheus")
    done = subprocess.run([promtool, "test", "rules", tests], cwd=BEHAVIOUR, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@pytest.mark.parametrize("tests", [c[2] for c in CASES])
def test_tsdb_test_rules_passes_the_behaviour_tests(tests: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test-rules", str(BEHAVIOUR / tests)]) == 0, capsys.readouterr()
    assert "SUCCESS" in capsys.readouterr().out
