"""One global view over many nodes, with real ``tsdb serve`` processes (docs/global-view.md).

Three nodes each hold one shard of a workload (series split by label hash, no external labels), a querier
node lists them in ``query.stores``, and a reference node holds everything: PromQL (instant and range),
the label and series APIs, federation and remote read answer the same on the querier and on the reference,
and so do a real Prometheus with ``remote_read`` to the three shards, and a querier whose first store is a
real Prometheus holding that shard. Two replica nodes (``external_labels: {replica:
a|b}``), each missing a different quarter of an hour, are deduplicated by a querier with
``replica_labels: [replica]``; stopping one replica gives answers with a warning naming it, or a 422
naming it with ``partial_response: false``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.contracts.prometheus_peer import PrometheusPeer, SeriesData, remote_write
from tests.integration.serve import ServeProcess
from tests.needs import require_binary
from tsdb.config import StoreSpec
from tsdb.labels import Labels, Matcher, MatchType
from tsdb.storage.remote.client import StoreClient

STEP_MS = 15_000
MINUTES = 40


def _workload(now_ms: int) -> tuple[SeriesData, int, int]:
    """Counters, gauges and a histogram for three instances, sampled every 15 s over the last 40 minutes."""
    start = (now_ms - MINUTES * 60_000) // 60_000 * 60_000 + 7
    ts = np.arange(start, now_ms - 20_000, STEP_MS, dtype=np.int64)
    n = len(ts)
    rng = np.random.default_rng(11)
    data: SeriesData = []
    for instance in ("demo:10000", "demo:10001", "demo:10002"):
        for mode in ("idle", "user", "system"):
            data.append((Labels({"__name__": "demo_cpu_usage_seconds_total", "instance": instance, "mode": mode,
                                 "job": "demo"}), ts, np.cumsum(rng.uniform(0, 15, n))))
        for kind in ("free", "used", "cached"):
            data.append((Labels({"__name__": "demo_memory_usage_bytes", "instance": instance, "type": kind,
                                 "job": "demo"}), ts, rng.uniform(1e8, 4e9, n).round()))
        counts = np.cumsum(rng.integers(0, 40, (n, 5)), axis=0).cumsum(axis=1)  # cumulative over buckets
        for i, le in enumerate(("0.05", "0.1", "0.5", "1", "+Inf")):
            data.append((Labels({"__name__": "demo_api_request_duration_seconds_bucket", "instance": instance,
                                 "le": le, "path": "/api", "job": "demo"}), ts, counts[:, i].astype(np.float64)))
    return data, int(ts[0]), int(ts[-1])


QUERIES = [
    "demo_memory_usage_bytes",
    'demo_memory_usage_bytes{type!="free"}',
    '{__name__=~"demo_cpu.*", mode="idle"}',
    'demo_memory_usage_bytes{instance=~"demo:1000[12]"}',
    "rate(demo_cpu_usage_seconds_total[2m])",
    "sum by (mode) (rate(demo_cpu_usage_seconds_total[2m]))",
    "histogram_quantile(0.9, sum by (le) (rate(demo_api_request_duration_seconds_bucket[2m])))",
    "topk(3, demo_memory_usage_bytes)",
    "count(demo_memory_usage_bytes)",
    "count by (instance) (demo_cpu_usage_seconds_total)",
    "absent(nonexistent_metric)",
    "absent(demo_memory_usage_bytes)",
    "demo_memory_usage_bytes offset 2m",
    "max_over_time(rate(demo_cpu_usage_seconds_total[1m])[5m:30s])",
    "avg by (instance) (demo_memory_usage_bytes)",
    'demo_memory_usage_bytes / on (instance) group_left sum by (instance) (demo_memory_usage_bytes)',
    "increase(demo_api_request_duration_seconds_bucket[5m])",
]


def _node(base: Path, name: str, *args: str) -> ServeProcess:
    (base / name).mkdir()
    return ServeProcess(base / name / "data", *args, "--no-collect")


def _config(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("global-view")
    nodes: list[ServeProcess] = []
    try:
        shards = []
        for i in range(3):
            shards.append(_node(base, f"shard{i}"))
            nodes.append(shards[-1])
        reference = _node(base, "reference")
        nodes.append(reference)
        stores = "".join(f"    - {s.url}\n" for s in shards)
        rules = _config(base / "rules.yml", "groups:\n  - name: global\n    interval: 1s\n    rules:\n"
                        "      - record: job:demo_memory_usage_bytes:count\n"
                        "        expr: count by (job) (demo_memory_usage_bytes)\n")
        querier = _node(base, "querier", "--config", str(_config(
            base / "querier.yml", f"query:\n  stores:\n{stores}rules:\n  files: [{rules}]\n")))
        nodes.append(querier)
        data, first, last = _workload(int(time.time() * 1000))
        parts: list[SeriesData] = [[], [], []]
        for item in data:
            parts[item[0].stable_hash() % 3].append(item)
        assert all(parts), "every shard holds some series"
        for shard, part in zip(shards, parts, strict=True):
            remote_write(shard.url, "/api/v1/write", part)
        remote_write(reference.url, "/api/v1/write", data)
        yield {"shards": shards, "reference": reference, "querier": querier, "first": first, "last": last,
               "base": base, "data": data}
    finally:
        for node in nodes:
            node.stop()


def _answer(node: Any, path: str, params: dict[str, str]) -> dict[str, Any]:
    if isinstance(node, PrometheusPeer):
        status, body = node.get_json(path, params)
    else:
        status, body = node.get(path, **params)
    assert status == 200, (path, params, body)
    assert body["status"] == "success"
    return dict(body)


def _close(a: str, b: str) -> bool:
    if a == b:
        return True
    x, y = float(a), float(b)
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(x) and math.isnan(y))


def _same(ours: Any, theirs: Any, where: str, exact: bool = False) -> None:
    """Equal results: labels and timestamps exactly, values exactly (``exact``) or within 1e-9 (another
    engine may sum in another order)."""
    assert ours["resultType"] == theirs["resultType"], where
    if ours["resultType"] in ("scalar", "string"):
        assert ours["result"][0] == theirs["result"][0] and _close(ours["result"][1], theirs["result"][1]), where
        return
    key = lambda r: json.dumps(r["metric"], sort_keys=True)  # noqa: E731
    left, right = sorted(ours["result"], key=key), sorted(theirs["result"], key=key)
    assert [r["metric"] for r in left] == [r["metric"] for r in right], where
    for a, b in zip(left, right, strict=True):
        points_a = a.get("values") or [a["value"]]
        points_b = b.get("values") or [b["value"]]
        assert [p[0] for p in points_a] == [p[0] for p in points_b], where
        if exact:
            assert points_a == points_b, where
        assert all(_close(p[1], q[1]) for p, q in zip(points_a, points_b, strict=True)), (where, points_a, points_b)


def _battery(node: Any, reference: ServeProcess, first: int, last: int, exact: bool = False) -> None:
    # evaluation times 1 s after sample times: no window boundary falls on a sample (Prometheus 2.x closes
    # windows on the left, 3.x and tsdb leave them open)
    end = f"{(last + 1000) / 1000:.3f}"
    start = f"{(first + 10 * 60_000 + 1000) / 1000:.3f}"
    for query in QUERIES:
        instant = {"query": query, "time": end}
        _same(_answer(node, "/api/v1/query", instant)["data"], _answer(reference, "/api/v1/query", instant)["data"],
              f"instant {query}", exact)
        ranged = {"query": query, "start": start, "end": end, "step": "30"}
        _same(_answer(node, "/api/v1/query_range", ranged)["data"],
              _answer(reference, "/api/v1/query_range", ranged)["data"], f"range {query}", exact)


def test_querier_answers_as_one_node(cluster: dict[str, Any]) -> None:
    querier, reference = cluster["querier"], cluster["reference"]
    assert _answer(querier, "/api/v1/query", {"query": "count(demo_memory_usage_bytes)"})["data"]["result"][0][
        "value"][1] == "9"
    _battery(querier, reference, cluster["first"], cluster["last"], exact=True)  # the same engine, bit for bit
    assert "warnings" not in _answer(querier, "/api/v1/query", {"query": "demo_memory_usage_bytes"})
    status, metrics = querier.get("/metrics")
    assert status == 200
    for shard in cluster["shards"]:
        assert f'tsdb_store_requests_total{{outcome="success",store="{shard.url}"}}' in metrics
        assert f'tsdb_store_request_duration_seconds_count{{store="{shard.url}"}}' in metrics


def test_label_and_series_apis_as_one_node(cluster: dict[str, Any]) -> None:
    querier, reference = cluster["querier"], cluster["reference"]
    window = {"start": f"{cluster['first'] / 1000:.3f}", "end": f"{cluster['last'] / 1000:.3f}"}
    for path, params in [
        ("/api/v1/labels", {}),
        ("/api/v1/labels", {"match[]": "demo_memory_usage_bytes", **window}),
        ("/api/v1/label/__name__/values", {"match[]": '{__name__=~"demo_.*"}'}),  # not the querier's rule
        ("/api/v1/label/instance/values", {"match[]": '{mode="idle"}'}),
        ("/api/v1/series", {"match[]": '{__name__=~"demo_.*", instance="demo:10001"}', **window}),
        ("/api/v1/series", {"match[]": "demo_cpu_usage_seconds_total"}),
    ]:
        ours, theirs = _answer(querier, path, params), _answer(reference, path, params)
        key = lambda item: json.dumps(item, sort_keys=True)  # noqa: E731
        assert sorted(ours["data"], key=key) == sorted(theirs["data"], key=key), (path, params)
        assert ours["data"], (path, params)


def test_federation_remote_read_and_rules_see_the_global_view(cluster: dict[str, Any]) -> None:
    querier, reference = cluster["querier"], cluster["reference"]
    params = {"match[]": '{__name__=~"demo_(cpu|memory).*"}'}
    federated = querier.get("/federate", **params)
    assert federated[0] == 200 and federated[1].count("\n") > 18
    assert sorted(federated[1].splitlines()) == sorted(reference.get("/federate", **params)[1].splitlines())
    matchers = [Matcher(MatchType.REGEX, "__name__", "demo_.*")]
    first, last = cluster["first"], cluster["last"]
    ours = StoreClient(StoreSpec(querier.url), 60).read(matchers, first, last)
    theirs = StoreClient(StoreSpec(reference.url), 60).read(matchers, first, last)
    assert ours.labels == theirs.labels and len(ours.labels) == 33
    assert np.array_equal(ours.ts, theirs.ts) and np.array_equal(ours.values, theirs.values)
    deadline = time.monotonic() + 60  # the recording rule on the querier counts series of all shards
    while time.monotonic() < deadline:
        result = _answer(querier, "/api/v1/query", {"query": "job:demo_memory_usage_bytes:count"})["data"]["result"]
        if result:
            break
        time.sleep(0.5)
    assert [r["value"][1] for r in result] == ["9"]


@pytest.mark.external
def test_prometheus_remote_read_over_the_shards(cluster: dict[str, Any]) -> None:
    require_binary("prometheus", package="prometheus")
    remote = "".join(f"  - url: {s.url}/api/v1/read\n    read_recent: true\n" for s in cluster["shards"])
    config = f"global:\n  scrape_interval: 1m\nremote_read:\n{remote}"
    with PrometheusPeer(cluster["base"] / "prometheus", config) as prom:
        _battery(prom, cluster["reference"], cluster["first"], cluster["last"])


@pytest.mark.external
def test_prometheus_as_a_store(cluster: dict[str, Any]) -> None:
    """A Prometheus holding one shard (fed by remote write) serves as a store next to tsdb nodes."""
    require_binary("prometheus", package="prometheus")
    base: Path = cluster["base"]
    shard0 = [item for item in cluster["data"] if item[0].stable_hash() % 3 == 0]
    with PrometheusPeer(base / "prometheus-store") as prom:
        prom.write(shard0)
        stores = "".join(f"    - {url}\n" for url in [prom.url] + [s.url for s in cluster["shards"][1:]])
        querier = _node(base, "querier-prom", "--config", str(_config(base / "querier-prom.yml",
                                                                      f"query:\n  stores:\n{stores}")))
        try:
            _battery(querier, cluster["reference"], cluster["first"], cluster["last"], exact=True)
            params = {"match[]": "demo_memory_usage_bytes"}
            assert _answer(querier, "/api/v1/series", params)["data"] == _answer(
                cluster["reference"], "/api/v1/series", params)["data"]
            assert _answer(querier, "/api/v1/label/instance/values", {})["data"] == [
                "demo:10000", "demo:10001", "demo:10002"]
        finally:
            querier.stop()


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("replicas")
    nodes: list[ServeProcess] = []
    try:
        for name in ("a", "b"):
            config = _config(base / f"{name}.yml", f"external_labels:\n  replica: {name}\n")
            nodes.append(_node(base, name, "--config", str(config)))
        a, b = nodes
        stores = f"    - {a.url}\n    - url: {b.url}\n      name: replica-b\n"
        partial = _node(base, "q1", "--config", str(_config(
            base / "q1.yml", f"query:\n  replica_labels: [replica]\n  store_timeout: 5s\n  stores:\n{stores}")))
        nodes.append(partial)
        strict = _node(base, "q2", "--config", str(_config(
            base / "q2.yml", f"query:\n  replica_labels: [replica]\n  partial_response: false\n  stores:\n{stores}")))
        nodes.append(strict)
        now = int(time.time() * 1000)
        ts = np.arange((now - 60 * 60_000) // 60_000 * 60_000, now - 20_000, STEP_MS, dtype=np.int64)
        values = np.cumsum(np.random.default_rng(3).uniform(0, 10, len(ts)))
        quarter = len(ts) // 4
        labels = Labels({"__name__": "http_requests_total", "job": "api"})
        keep_a = np.ones(len(ts), bool)
        keep_a[quarter:2 * quarter] = False  # a misses the second quarter of the hour
        keep_b = np.ones(len(ts), bool)
        keep_b[3 * quarter:] = False  # b misses the last quarter
        remote_write(a.url, "/api/v1/write", [(labels, ts[keep_a], values[keep_a])])
        remote_write(b.url, "/api/v1/write", [(labels, ts[keep_b], values[keep_b])])
        yield {"a": a, "b": b, "partial": partial, "strict": strict, "ts": ts, "values": values}
    finally:
        for node in nodes:
            node.stop()


def _raw(node: ServeProcess, at_ms: int) -> dict[str, Any]:
    return _answer(node, "/api/v1/query", {"query": "http_requests_total[2h]", "time": f"{at_ms / 1000:.3f}"})


def test_replicas_deduplicated_then_one_stopped(replicas: dict[str, Any]) -> None:
    ts, values = replicas["ts"], replicas["values"]
    at = int(ts[-1])
    full = dict(zip(ts.tolist(), values.tolist(), strict=True))
    answer = _raw(replicas["partial"], at)
    [series] = answer["data"]["result"]
    assert series["metric"] == {"__name__": "http_requests_total", "job": "api"}  # no replica label
    got = [(round(float(t) * 1000), float(v)) for t, v in series["values"]]
    assert all(full[t] == v for t, v in got)  # every sample is one of the data's
    times = [t for t, _ in got]
    assert times[0] == ts[0] and times[-1] == ts[-1]
    # gap-free: at a switch of replica at most two scrape intervals are skipped (the penalty rule)
    assert max(np.diff(times)) <= 3 * STEP_MS
    assert len(times) >= len(ts) - 4
    # the whole series answers like the full data wherever a query looks back across the switch points
    for query in ("max_over_time(http_requests_total[2m])", "count_over_time(http_requests_total[20m]) > 0"):
        result = _answer(replicas["partial"], "/api/v1/query_range", {
            "query": query, "start": f"{ts[0] / 1000 + 300:.3f}", "end": f"{at / 1000:.3f}", "step": "60"})
        assert len(result["data"]["result"]) == 1, query
        assert "replica" not in result["data"]["result"][0]["metric"]
    assert _answer(replicas["strict"], "/api/v1/query", {"query": "http_requests_total"})["data"]["result"]

    replicas["b"].stop()  # by its process id
    answer = _raw(replicas["partial"], at)
    assert [w for w in answer.get("warnings", []) if "store replica-b failed" in w], answer.get("warnings")
    assert len(answer["data"]["result"]) == 1  # replica a's samples still answer
    labels = _answer(replicas["partial"], "/api/v1/labels", {})
    assert labels["data"] == ["__name__", "job"] and any("replica-b" in w for w in labels["warnings"])
    status, body = replicas["strict"].get("/api/v1/query", query="http_requests_total",
                                          time=f"{at / 1000:.3f}")
    assert status == 422 and body["errorType"] == "execution" and "store replica-b failed" in body["error"]
    status, body = replicas["strict"].get("/api/v1/series", **{"match[]": "http_requests_total"})
    assert status == 422 and "replica-b" in body["error"]
