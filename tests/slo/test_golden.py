"""Generated rule files equal Sloth v0.16.0's own output for Sloth's specs: parsed, then byte for byte."""

from __future__ import annotations

import pytest
import yaml

from tests.slo.golden import CASES, Case


def _documents(text: str) -> list[object]:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.expected)
def test_parsed_equal_to_sloth(case: Case) -> None:
    got, expected = _documents(case.generated_text()), _documents(case.expected_text())
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected, strict=True):
        assert isinstance(mine, dict) and isinstance(theirs, dict)
        assert [g["name"] for g in mine["groups"]] == [g["name"] for g in theirs["groups"]]
        for group, reference in zip(mine["groups"], theirs["groups"], strict=True):
            assert group["rules"] == reference["rules"], group["name"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.expected)
def test_bytes_equal_to_sloth(case: Case) -> None:
    assert case.generated_text() == case.expected_text()


def test_cases_cover_the_brief() -> None:
    """Events and raw SLIs, custom labels/annotations, disabled alerts, the 28d period."""
    texts = {c.expected: (c.generated_text(), c) for c in CASES}
    base = texts["out-base.yaml.tpl"][0]
    assert "sli_error:ratio_rate5m" in base and "expr: |-\n      (sum(rate(" in base  # raw SLI, svc01-slo02
    assert "alert02k1: alert02k2" in base and "sloth-slo-alerts-svc01-slo02" not in base  # disabled alerts
    assert "ratio_rate4w" in texts["out-base-28d.yaml.tpl"][0]
    assert "13.44 * 0.0009999999999999432" in texts["out-base-28d.yaml.tpl"][0]
