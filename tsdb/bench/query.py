"""Query benchmark: a fixed dashboard query set against any Prometheus HTTP API, and cross-checks.

Every range query runs at two shapes, 1 h at a 15 s step and 24 h at a 60 s step, ending at the
workload's end; instant queries run at the end. Each query runs once to warm up, then ``runs`` times; the
median latency (client side, whole HTTP round trip) is reported. :func:`compare` checks that two targets
returned the same series with the same timestamps and values within a relative tolerance.
"""

from __future__ import annotations

import json
import math
import statistics
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from tsdb.errors import InvalidArgumentError

# (name, expression); range queries run at both RANGE_SHAPES, instant queries at the end time.
RANGE_QUERIES: tuple[tuple[str, str], ...] = (
    ("cpu_rate_by_instance", "sum by (instance) (rate(node_cpu_seconds_total[5m]))"),
    ("net_rate_regex", 'sum by (job) (rate(node_network_receive_packets_total{instance=~"host-1.*"}[5m]))'),
    ("topk_ctx_switches", "topk(5, rate(node_context_switches_total[5m]))"),
    ("avg_over_time_load", "avg by (instance) (avg_over_time(node_load1[5m]))"),
    ("io_cpu_ratio", "sum(rate(node_disk_io_time_seconds_total[5m])) / sum(rate(node_cpu_seconds_total[5m]))"),
    ("mem_ratio_by_instance",
     "sum by (instance) (node_memory_MemAvailable_bytes) / sum by (instance) (node_memory_Cached_bytes)"),
    ("max_temp_negative_regex", 'max by (instance) (node_hwmon_temp_celsius{instance!~"host-(0|1):9100"})'),
)
INSTANT_QUERIES: tuple[tuple[str, str], ...] = (
    ("count_by_name", 'count by (__name__) ({job="node"})'),
    ("max_over_time_1h", "max_over_time(node_load1[1h])"),
    ("increase_1h_by_instance", "sum by (instance) (increase(node_intr_total[1h]))"),
)
# label, range length ms, step ms
RANGE_SHAPES: tuple[tuple[str, int, int], ...] = (("1h", 3_600_000, 15_000), ("24h", 86_400_000, 60_000))
DASHBOARD_24H_BUDGET_S = 2.0
"""The project's requirement: the whole 24 h dashboard query set answers in under 2 s (sum of medians)."""

Result = dict[tuple[tuple[str, str], ...], dict[int, float]]


@dataclass
class QueryTiming:
    """Latencies of one query on one target; ``error`` is set if it failed (then there are no timings)."""

    name: str
    expr: str
    shape: str  # "1h", "24h" or "instant"
    latencies_s: list[float] = field(default_factory=list)
    series: int = 0
    points: int = 0
    error: str = ""

    @property
    def key(self) -> str:
        return f"{self.name}@{self.shape}"

    @property
    def median_s(self) -> float:
        return statistics.median(self.latencies_s) if self.latencies_s else math.nan


@dataclass
class QueryReport:
    """All query timings of one target plus the parsed answers (kept for cross-checks)."""

    target: str
    timings: list[QueryTiming]
    answers: dict[str, Result] = field(default_factory=dict, repr=False)

    def set_total_s(self, shape: str) -> float:
        """Sum of median latencies of the queries of one shape (NaN if any failed)."""
        return sum(t.median_s for t in self.timings if t.shape == shape)

    def dashboard_pass(self) -> bool:
        """True if every 24 h query succeeded and the set's medians sum to under the 2 s budget."""
        total = self.set_total_s("24h")
        return not math.isnan(total) and total < DASHBOARD_24H_BUDGET_S


def http_query(url: str, path: str, params: dict[str, str], timeout_s: float = 60.0) -> Any:
    """GET ``url + path`` with form params; returns the ``data`` member, raises InvalidArgumentError on error."""
    full = url.rstrip("/") + path + "?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(full, timeout=timeout_s) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as err:
        text = err.read()[:300].decode(errors="replace")
        raise InvalidArgumentError(f"{url}{path} {params.get('query', '')!r}: HTTP {err.code}: {text}") from err
    except (OSError, ValueError) as err:
        raise InvalidArgumentError(f"{url}{path} {params.get('query', '')!r}: {err}") from err
    if body.get("status") != "success":
        raise InvalidArgumentError(f"{url}{path} {params.get('query', '')!r}: {body.get('error', body)}")
    return body["data"]


def parse_result(data: Any) -> Result:
    """Normalise a ``query``/``query_range`` data member: labels -> {timestamp ms: value}."""
    kind = data.get("resultType")
    out: Result = {}
    if kind == "matrix":
        for item in data["result"]:
            out[tuple(sorted(item["metric"].items()))] = {round(float(t) * 1000): float(v) for t, v in item["values"]}
    elif kind == "vector":
        for item in data["result"]:
            t, v = item["value"]
            out[tuple(sorted(item["metric"].items()))] = {round(float(t) * 1000): float(v)}
    elif kind == "scalar":
        t, v = data["result"]
        out[()] = {round(float(t) * 1000): float(v)}
    else:
        raise InvalidArgumentError(f"unexpected resultType {kind!r}")
    return out


def query_plan(end_ms: int) -> list[tuple[str, str, str, dict[str, str]]]:
    """(name, expr, shape, params without 'query') of every query of the set, ending at ``end_ms``."""
    plan = []
    end_s = f"{end_ms / 1000:.3f}"
    for label, length_ms, step_ms in RANGE_SHAPES:
        for name, expr in RANGE_QUERIES:
            params = {"start": f"{(end_ms - length_ms) / 1000:.3f}", "end": end_s, "step": f"{step_ms / 1000:g}"}
            plan.append((name, expr, label, params))
    for name, expr in INSTANT_QUERIES:
        plan.append((name, expr, "instant", {"time": end_s}))
    return plan


def run_queries(url: str, end_ms: int, runs: int = 3, timeout_s: float = 60.0,
                max_seconds: float = 600.0) -> QueryReport:
    """Run the dashboard set against ``url``: one warm-up and ``runs`` timed runs per query."""
    if runs < 1:
        raise InvalidArgumentError(f"runs must be >= 1, got {runs}")
    deadline = time.monotonic() + max_seconds
    report = QueryReport(target=url, timings=[])
    for name, expr, shape, params in query_plan(end_ms):
        timing = QueryTiming(name, expr, shape)
        report.timings.append(timing)
        path = "/api/v1/query" if shape == "instant" else "/api/v1/query_range"
        try:
            for i in range(runs + 1):
                if time.monotonic() > deadline:
                    timing.error = timing.error or "skipped: --max-seconds reached"
                    break
                started = time.perf_counter()
                data = http_query(url, path, {"query": expr, **params}, timeout_s)
                elapsed = time.perf_counter() - started
                if i == 0:
                    result = parse_result(data)
                    report.answers[timing.key] = result
                    timing.series = len(result)
                    timing.points = sum(len(v) for v in result.values())
                else:
                    timing.latencies_s.append(elapsed)
        except InvalidArgumentError as err:
            timing.error = str(err)
            timing.latencies_s.clear()
    return report


@dataclass
class Disagreement:
    """One query whose answers differ between two targets: what differs, with an example."""

    key: str
    missing: int  # series only in the reference
    extra: int  # series only in the other target
    differing_points: int
    example: str


def compare(reference: QueryReport, other: QueryReport, rel_tol: float = 1e-6,
            abs_tol: float = 1e-9) -> list[Disagreement]:
    """Queries where ``other`` disagrees with ``reference`` (series sets, timestamps or values)."""
    out = []
    for key, ref in reference.answers.items():
        got = other.answers.get(key)
        if got is None:
            out.append(Disagreement(key, len(ref), 0, 0, "query failed on the other target"))
            continue
        missing = [k for k in ref if k not in got]
        extra = [k for k in got if k not in ref]
        differing = 0
        example = ""
        for k in ref.keys() & got.keys():
            a, b = ref[k], got[k]
            for t in a.keys() | b.keys():
                va, vb = a.get(t), b.get(t)
                if va is None or vb is None or not _close(va, vb, rel_tol, abs_tol):
                    differing += 1
                    if not example:
                        example = f"{_fmt_labels(k)} @ {t / 1000:.3f}: {va} vs {vb}"
        if missing and not example:
            example = f"missing {_fmt_labels(missing[0])}"
        if extra and not example:
            example = f"extra {_fmt_labels(extra[0])}"
        if missing or extra or differing:
            out.append(Disagreement(key, len(missing), len(extra), differing, example))
    return out


def _close(a: float, b: float, rel_tol: float, abs_tol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)


def _fmt_labels(key: tuple[tuple[str, str], ...]) -> str:
    return "{" + ", ".join(f'{n}="{v}"' for n, v in key) + "}"
