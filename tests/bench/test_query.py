"""Dashboard query set: parsing answers, cross-checks, and a smoke run against Prometheus."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tsdb.bench.encode import plan_requests
from tsdb.bench.ingest import ingest_http
from tsdb.bench.query import (
    INSTANT_QUERIES,
    RANGE_QUERIES,
    QueryReport,
    QueryTiming,
    compare,
    parse_result,
    query_plan,
    run_queries,
)
from tsdb.bench.servers import LocalServer, free_port
from tsdb.errors import InvalidArgumentError

from .conftest import END_MS


def test_parse_result_kinds() -> None:
    matrix = {"resultType": "matrix", "result": [{"metric": {"b": "2", "a": "1"}, "values": [[1.5, "2"], [3, "NaN"]]}]}
    parsed = parse_result(matrix)
    assert list(parsed) == [(("a", "1"), ("b", "2"))]
    assert parsed[(("a", "1"), ("b", "2"))][1500] == 2.0 and math.isnan(parsed[(("a", "1"), ("b", "2"))][3000])
    assert parse_result({"resultType": "vector", "result": [{"metric": {}, "value": [2, "+Inf"]}]}) == {
        (): {2000: math.inf}}
    assert parse_result({"resultType": "scalar", "result": [4, "1"]}) == {(): {4000: 1.0}}
    with pytest.raises(InvalidArgumentError, match="resultType"):
        parse_result({"resultType": "string", "result": [4, "x"]})


def test_query_plan_covers_both_shapes_and_instants() -> None:
    plan = query_plan(END_MS)
    assert len(plan) == 2 * len(RANGE_QUERIES) + len(INSTANT_QUERIES)
    day = [p for p in plan if p[2] == "24h"]
    assert day and all(float(p[3]["end"]) - float(p[3]["start"]) == 86_400 and p[3]["step"] == "60" for p in day)


def _report(answers: dict[str, Any]) -> QueryReport:
    return QueryReport("t", [QueryTiming(k.split("@")[0], "e", k.split("@")[1], [0.1]) for k in answers], answers)


def test_compare_finds_each_kind_of_disagreement() -> None:
    a = {(("x", "1"),): {0: 1.0, 1000: math.nan}, (("x", "2"),): {0: 5.0}}
    ref = _report({"q@1h": a, "r@1h": a, "s@1h": a})
    same = {(("x", "1"),): {0: 1.0 + 1e-12, 1000: math.nan}, (("x", "2"),): {0: 5.0}}
    other = _report({"q@1h": same, "r@1h": {(("x", "1"),): {0: 1.5, 1000: math.nan}, (("x", "3"),): {0: 1.0}}})
    items = {d.key: d for d in compare(ref, other)}
    assert set(items) == {"r@1h", "s@1h"}
    assert (items["r@1h"].missing, items["r@1h"].extra, items["r@1h"].differing_points) == (1, 1, 1)
    assert "1.5" in items["r@1h"].example
    assert items["s@1h"].example == "query failed on the other target"
    assert compare(ref, ref) == []


def test_set_totals_and_pass() -> None:
    report = QueryReport("t", [QueryTiming("a", "e", "24h", [0.5, 0.7, 0.6]), QueryTiming("b", "e", "24h", [1.0])])
    assert report.set_total_s("24h") == pytest.approx(1.6) and report.dashboard_pass()
    report.timings.append(QueryTiming("c", "e", "24h", [], error="boom"))
    assert math.isnan(report.set_total_s("24h")) and not report.dashboard_pass()


@pytest.mark.external
def test_dashboard_set_against_prometheus(prometheus: LocalServer, small_workload: Any) -> None:
    ingest_http(prometheus.url, plan_requests(small_workload, 2, "queue", 100))
    report = run_queries(prometheus.url, END_MS, runs=2)
    assert [t.error for t in report.timings if t.error] == []
    assert all(len(t.latencies_s) == 2 for t in report.timings)
    by_key = {t.key: t for t in report.timings}
    assert by_key["cpu_rate_by_instance@1h"].series >= 1 and by_key["count_by_name@instant"].series >= 5
    assert compare(report, report) == []
    with pytest.raises(InvalidArgumentError, match="runs"):
        run_queries(prometheus.url, END_MS, runs=0)


def test_unreachable_target_reports_errors() -> None:
    report = run_queries(f"http://127.0.0.1:{free_port()}", END_MS, runs=1, timeout_s=2)
    assert all(t.error and not t.latencies_s for t in report.timings)
    assert math.isnan(report.set_total_s("1h"))
