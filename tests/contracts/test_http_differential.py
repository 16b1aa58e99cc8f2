"""Differential test of the HTTP API: ``tsdb serve`` against a real Prometheus 2.42.

Both are fed the same samples by remote write; then the raw JSON bodies of query, query_range, series,
labels, label values and format_query (success and error responses) are compared. Successful bodies must be
byte-identical; for errors the status code and ``errorType`` must match (messages may differ and are not
compared). A second test points Prometheus's own ``remote_write`` at ``tsdb serve`` and checks its
self-scraped samples arrive.
"""

from __future__ import annotations

import json
import math
import signal
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.contracts.prometheus_peer import PrometheusPeer, http_get, remote_write
from tests.contracts.test_promql_differential import SPAN_MS, generate_data
from tests.integration.serve import ServeProcess
from tests.needs import needs_binary
from tsdb.server.json_format import format_value

pytestmark = [pytest.mark.external,
              needs_binary("prometheus", package="prometheus")]

Params = list[tuple[str, str]]


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrometheusPeer, ServeProcess, int]]:
    now_ms = int(time.time()) * 1000
    t0 = (now_ms - SPAN_MS - 120_000) // 60_000 * 60_000
    data = generate_data(7, t0)
    base = tmp_path_factory.mktemp("http-diff")
    peer = PrometheusPeer(base / "prom")
    serve: ServeProcess | None = None
    try:
        (base / "ours").mkdir()
        serve = ServeProcess(base / "ours" / "data")
        peer.write(data)
        remote_write(serve.url, "/api/v1/write", data)
        yield peer, serve, t0 // 1000
    finally:
        peer.stop()
        if serve is not None:
            serve.stop()


def success_cases(t0: int) -> list[tuple[str, Params]]:
    """Requests both servers must answer with byte-identical bodies."""
    mid, end = str(t0 + 1501), str(t0 + 2999)
    rng = [("start", str(t0 + 707)), ("end", str(t0 + 2900))]
    return [
        ("/api/v1/query", [("query", "node_temp"), ("time", mid)]),
        ("/api/v1/query", [("query", 'sum by (job) (rate(http_requests_total[5m]))'), ("time", mid)]),
        ("/api/v1/query", [("query", "node_temp > 1e300"), ("time", mid)]),
        ("/api/v1/query", [("query", "1e21"), ("time", mid)]),
        ("/api/v1/query", [("query", "node_temp * 1e25"), ("time", mid)]),
        ("/api/v1/query", [("query", "node_temp / 1e9"), ("time", end)]),
        ("/api/v1/query", [("query", "-node_temp / 0"), ("time", end)]),
        ("/api/v1/query", [("query", "0 / 0"), ("time", mid)]),
        ("/api/v1/query", [("query", "time()"), ("time", "1700000000.123")]),
        ("/api/v1/query", [("query", '"a string"'), ("time", mid)]),
        ("/api/v1/query", [("query", "node_temp[1m]"), ("time", mid)]),
        ("/api/v1/query", [("query", "histogram_quantile(0.9, rate(req_duration_seconds_bucket[5m]))"),
                           ("time", mid)]),
        ("/api/v1/query", [("query", "nonexistent"), ("time", mid)]),
        ("/api/v1/query_range", [("query", "node_temp"), *rng, ("step", "60")]),
        ("/api/v1/query_range", [("query", "rate(http_requests_total[5m])"), *rng, ("step", "45s")]),
        ("/api/v1/query_range", [("query", "scalar(max(node_temp))"), *rng, ("step", "300")]),
        ("/api/v1/query_range", [("query", "topk(2, node_temp)"), *rng, ("step", "1m")]),
        ("/api/v1/series", [("match[]", "node_temp")]),
        ("/api/v1/series", [("match[]", 'http_requests_total{job="api"}'), ("match[]", 'node_temp{zone="x"}')]),
        ("/api/v1/series", [("match[]", "node_temp"), *rng]),
        ("/api/v1/labels", []),
        ("/api/v1/labels", [("match[]", "node_temp")]),
        ("/api/v1/labels", [*rng]),
        ("/api/v1/label/job/values", []),
        ("/api/v1/label/__name__/values", []),
        ("/api/v1/label/method/values", [("match[]", "http_requests_total")]),
        ("/api/v1/label/zone/values", [("match[]", 'node_temp{job="web"}'), *rng]),
        ("/api/v1/label/nonexistent/values", []),
        ("/api/v1/format_query", [("query", "sum by(job)(rate(x[5m]))")]),
        ("/api/v1/format_query", [("query", 'foo{a="b",c=~"d"} offset 5m')]),
    ]


ERROR_CASES: list[tuple[str, Params]] = [
    ("/api/v1/query", [("query", "node_temp"), ("time", "not-a-time")]),
    ("/api/v1/query", []),
    ("/api/v1/query", [("query", "sum(")]),
    ("/api/v1/query", [("query", "rate(node_temp)")]),
    ("/api/v1/query", [("query", '{__name__=~".*"}')]),
    ("/api/v1/query", [("query", "node_temp"), ("timeout", "xyz")]),
    ("/api/v1/query_range", [("query", "node_temp"), ("start", "100"), ("end", "50"), ("step", "10")]),
    ("/api/v1/query_range", [("query", "node_temp"), ("start", "100"), ("end", "200"), ("step", "0")]),
    ("/api/v1/query_range", [("query", "node_temp"), ("start", "100"), ("end", "200"), ("step", "bad")]),
    ("/api/v1/query_range", [("query", "node_temp"), ("start", "100"), ("end", "200")]),
    ("/api/v1/query_range", [("query", "node_temp"), ("start", "0"), ("end", "1000000"), ("step", "1")]),
    ("/api/v1/query_range", [("query", "node_temp"), ("start", "x"), ("end", "200"), ("step", "10")]),
    ("/api/v1/series", []),
    ("/api/v1/series", [("match[]", "sum(")]),
    ("/api/v1/series", [("match[]", "node_temp"), ("start", "bad")]),
    ("/api/v1/labels", [("match[]", "{")]),
    ("/api/v1/label/job/values", [("end", "nope")]),
    ("/api/v1/format_query", [("query", "sum(")]),
    ("/api/v1/format_query", []),
]


def _get(url: str, path: str, params: Params) -> tuple[int, bytes]:
    return http_get(url + path + ("?" + urllib.parse.urlencode(params) if params else ""))


def expected_differences() -> dict[str, str]:
    """Request key -> reason, from ``expected_differences.txt``."""
    out = {}
    for line in (Path(__file__).parent / "expected_differences.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, reason = line.split(" | ", 1)
            out[key.strip()] = reason
    return out


def request_key(path: str, params: Params) -> str:
    return f"{path} {dict(params).get('query', '')}"


def _values_close(ours: Any, theirs: Any) -> bool:
    """Same JSON structure; value strings equal, or both canonical renderings of floats within 1e-12."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return ours.keys() == theirs.keys() and all(_values_close(ours[k], theirs[k]) for k in ours)
    if isinstance(ours, list) and isinstance(theirs, list):
        return len(ours) == len(theirs) and all(_values_close(a, b) for a, b in zip(ours, theirs, strict=True))
    if isinstance(ours, str) and isinstance(theirs, str) and ours != theirs:
        try:
            x, y = float(ours), float(theirs)
        except ValueError:
            return False
        # summation order (3.x compensated sums vs 2.42 plain) may change the last bits, never the format
        return format_value(x) == ours and math.isclose(x, y, rel_tol=1e-12)
    return bool(ours == theirs)


def _canonical(body: bytes, params: Params) -> Any:
    """The JSON document; an instant vector's series sorted by labels unless the query sorts them itself
    (Prometheus leaves their order undefined: it follows its hash maps, e.g. for histogram_quantile)."""
    doc = json.loads(body)
    data = doc.get("data") if isinstance(doc, dict) else None
    if isinstance(data, dict) and data.get("resultType") == "vector" and "sort" not in dict(params).get("query", ""):
        data["result"] = sorted(data["result"], key=lambda item: json.dumps(item["metric"], sort_keys=True))
    return doc


def test_success_bodies_identical(peers: tuple[PrometheusPeer, ServeProcess, int]) -> None:
    peer, serve, t0 = peers
    known = expected_differences()
    diffs = []
    compared = 0
    for path, params in success_cases(t0):
        theirs, ours = _get(peer.url, path, params), _get(serve.url, path, params)
        if request_key(path, params) in known:
            assert theirs[0] == ours[0] == 200
            continue
        compared += 1
        if theirs == ours:
            continue
        if theirs[0] == ours[0] == 200 and _values_close(_canonical(ours[1], params), _canonical(theirs[1], params)):
            continue
        diffs.append(f"{path} {params}:\n  prometheus {theirs[0]} {theirs[1][:300]!r}\n"
                     f"  tsdb       {ours[0]} {ours[1][:300]!r}")
    assert compared >= 25
    assert not diffs, "\n".join(diffs)


def test_error_status_and_type(peers: tuple[PrometheusPeer, ServeProcess, int]) -> None:
    peer, serve, _ = peers
    diffs = []
    for path, params in ERROR_CASES:
        (s1, b1), (s2, b2) = _get(peer.url, path, params), _get(serve.url, path, params)
        j1: dict[str, Any] = json.loads(b1)
        j2: dict[str, Any] = json.loads(b2)
        if (s1, j1.get("status"), j1.get("errorType")) != (s2, j2.get("status"), j2.get("errorType")):
            diffs.append(f"{path} {params}: prometheus {s1} {j1.get('errorType')} {j1.get('error')!r}; "
                         f"tsdb {s2} {j2.get('errorType')} {j2.get('error')!r}")
        # the envelope is compact JSON with keys in Prometheus's order
        assert b2.startswith(b'{"status":"error","errorType":"'), b2[:100]
        if j1.get("error") != j2.get("error"):
            print(f"message differs for {path} {params}: prometheus {j1.get('error')!r} tsdb {j2.get('error')!r}")
    assert not diffs, "\n".join(diffs)


def test_buildinfo_shape(peers: tuple[PrometheusPeer, ServeProcess, int]) -> None:
    peer, serve, _ = peers
    (s1, b1), (s2, b2) = _get(peer.url, "/api/v1/status/buildinfo", []), _get(serve.url,
                                                                              "/api/v1/status/buildinfo", [])
    assert s1 == s2 == 200
    j1, j2 = json.loads(b1), json.loads(b2)
    assert set(j1) == set(j2)
    assert set(j1["data"]) == set(j2["data"])


def test_prometheus_remote_writes_to_tsdb(tmp_path: Path) -> None:
    serve = ServeProcess(tmp_path / "data")
    peer: PrometheusPeer | None = None
    try:
        port_holder = "127.0.0.1:{port}"
        config = ("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                  "scrape_configs:\n  - job_name: prometheus\n    static_configs:\n"
                  f"      - targets: ['{port_holder}']\n"
                  f"remote_write:\n  - url: {serve.url}/api/v1/write\n"
                  "    queue_config:\n      batch_send_deadline: 1s\n")
        peer = PrometheusPeer(tmp_path / "prom", config.replace("{port}", "0"))
        # the scrape target must be Prometheus's own port, known only after start: rewrite and reload
        peer.config_path.write_text(config.replace("{port}", str(peer.port)))
        peer.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        found: list[Any] = []
        while time.monotonic() < deadline and not found:
            status, body = serve.get("/api/v1/query", query='up{job="prometheus"}')
            if status == 200:
                found = body["data"]["result"]
            if not found:
                time.sleep(0.5)
        assert found, f"no samples arrived from prometheus; its log:\n{peer.log_text()[-2000:]}"
        assert found[0]["metric"]["job"] == "prometheus"
        assert found[0]["value"][1] == "1"
        status, body = serve.get("/api/v1/query", query="prometheus_build_info")
        assert status == 200
    finally:
        if peer is not None:
            peer.stop()
        serve.stop()
