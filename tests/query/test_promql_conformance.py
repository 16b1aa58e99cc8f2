"""Prometheus's own PromQL test scripts (``tests.needs.promql_corpus``) through our runner, one case per file.

The scripts are the ``*.test`` files of Prometheus's ``promql/promqltest/testdata`` (Apache-2.0), kept
outside this repository. Without them these tests are skipped (and marked ``corpus``: CI runs them in a
step of their own).

Every failing eval case must be listed in ``expected_failures.txt`` (``file:line<TAB>reason``), and every
listed case must still fail, so the list cannot go stale.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.needs import promql_corpus
from tsdb.labels import Labels
from tsdb.query.promqltest import (
    EvalCase,
    LoadCommand,
    almost_equal,
    compare_result,
    expand_values,
    parse_duration,
    parse_test_file,
    run_files,
    split_series_line,
)
from tsdb.query.value import ScalarValue, VectorValue
from tsdb.storage.interfaces import STALE_NAN

CORPUS = promql_corpus()
EXPECTED_FAILURES = Path(__file__).with_name("expected_failures.txt")
FILES = sorted(CORPUS.glob("*.test")) if CORPUS is not None else []


def _expected_failures() -> dict[str, str]:
    listed: dict[str, str] = {}
    for line in EXPECTED_FAILURES.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, _, reason = line.partition("\t")
        listed[key.strip()] = reason
    return listed


@pytest.mark.corpus
@pytest.mark.skipif(not FILES, reason="PromQL corpus absent or hidden (TSDB_PROMQL_CORPUS)")
@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_conformance_file(path: Path) -> None:
    results = run_files([path])
    listed = {k for k in _expected_failures() if k.split(":")[0] == path.name}
    failing = {f"{r.file}:{r.line}": r.reason for r in results if r.status == "failed"}
    unexpected = {k: v for k, v in failing.items() if k not in listed}
    fixed = sorted(listed - set(failing))
    assert not unexpected, f"new failures (fix them or list them in {EXPECTED_FAILURES.name}): {unexpected}"
    assert not fixed, f"these listed cases pass now; remove them from {EXPECTED_FAILURES.name}: {fixed}"
    for r in results:
        if r.status == "skipped":
            assert r.reason.startswith(("native histogram", "experimental:")), r


def test_expected_failures_file_is_well_formed() -> None:
    for key, reason in _expected_failures().items():
        name, _, line = key.partition(":")
        assert name.endswith(".test") and line.isdigit(), key
        assert reason.strip(), f"{key} has no reason"


# -- the runner's own pieces --------------------------------------------------------------------------
def test_durations() -> None:
    assert parse_duration("0") == 0
    assert parse_duration("1m30s") == 90_000
    assert parse_duration("20s500ms") == 20_500
    assert parse_duration("1y") == 365 * 86_400_000
    with pytest.raises(ValueError):
        parse_duration("1.5m")


def test_series_notation() -> None:
    assert [s.value for s in expand_values("0+10x3")] == [0.0, 10.0, 20.0, 30.0]
    assert [s.value for s in expand_values("-2+4x3 _ 1x0")] == [-2.0, 2.0, 6.0, 10.0, None, 1.0]
    assert [s.value for s in expand_values("_x2 5-1x1")] == [None, None, 5.0, 4.0]
    stale = expand_values("stale")[0].value
    assert stale is not None and np.float64(stale).view(np.uint64) == np.float64(STALE_NAN).view(np.uint64)
    hist = expand_values("{{schema:0 sum:1 count:1}}x2 3")
    assert [s.histogram is not None for s in hist] == [True, True, True, False]
    labels, suffix, rest = split_series_line('metric{a="x", b=\'y\\n\'}@st  1 2')
    assert labels == Labels({"__name__": "metric", "a": "x", "b": "y\n"}) and suffix == "@st" and rest == "1 2"


def test_float_comparison_rule() -> None:
    assert almost_equal(1.0, 1.0 + 1e-9)
    assert not almost_equal(1.0, 1.001)
    assert almost_equal(math.nan, math.nan)
    assert not almost_equal(math.nan, STALE_NAN)
    assert almost_equal(STALE_NAN, STALE_NAN)
    assert not almost_equal(0.0, 1e-300)
    assert almost_equal(math.inf, math.inf) and not almost_equal(math.inf, 1e308)


def test_parse_and_compare() -> None:
    text = """
load 1m
  x{job="a"} 0+10x5
  x{job="a"} 1 2

# a comment ends a block
eval instant at 1m x
  expect no_warn
  x{job="a"} 2

eval range from 0 to 2m step 1m x
  x{job="a"} 1 2 _

eval instant at 0 1 + 1
  2
"""
    commands = parse_test_file(text, "inline.test")
    load = commands[0]
    assert isinstance(load, LoadCommand) and len(load.series) == 1  # the later line replaced the earlier
    instant, ranged, scalar = commands[1:]
    assert isinstance(instant, EvalCase) and instant.no_warn and instant.start == 60_000
    assert isinstance(ranged, EvalCase) and not ranged.instant and ranged.step == 60_000
    assert isinstance(scalar, EvalCase) and scalar.scalar == 2.0
    lbls = Labels({"__name__": "x", "job": "a"})
    assert compare_result(instant, VectorValue([lbls], np.array([[2.0]]), np.array([[True]]))) == ""
    assert "expected 2.0" in compare_result(instant, VectorValue([lbls], np.array([[3.0]]), np.array([[True]])))
    assert compare_result(ranged, VectorValue([lbls], np.array([[1.0, 2.0, 0.0]]),
                                              np.array([[True, True, False]]))) == ""
    assert compare_result(scalar, ScalarValue(np.array([2.0]))) == ""
