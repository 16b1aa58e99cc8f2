"""DataDog ingestion end to end: the ``datadog`` and ``datadog-api-client`` libraries and the agent's protobuf
payloads against an in-process server, read back with PromQL; compression, the probes, the shared
``POST /api/v1/series``, malformed bodies, write limits, roles and the self-metrics."""

from __future__ import annotations

import base64
import gzip
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server_thread import ServerThread
from tsdb.config import DatadogOptions, IngestOptions, ServerConfig
from tsdb.server.pb.datadog.agent_payload_pb2 import MetricPayload, SketchPayload

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    data = tmp_path_factory.mktemp("datadog") / "data"
    config = ServerConfig(data_dir=str(data), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          datadog=DatadogOptions(extra_labels={"source": "dd"}))
    with ServerThread(config) as thread:
        yield thread


def _base(thread: ServerThread) -> str:
    return f"http://127.0.0.1:{thread.server.http_port}"


def _query(thread: ServerThread, promql: str) -> dict[str, float]:
    """``{labels as sorted k=v text: value}`` of an instant query at now."""
    url = _base(thread) + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=10) as response:
        result = json.loads(response.read())["data"]["result"]
    return {",".join(f"{k}={v}" for k, v in sorted(r["metric"].items())): float(r["value"][1]) for r in result}


def _value(thread: ServerThread, promql: str) -> float:
    (value,) = _query(thread, promql).values()
    return value


def _post(thread: ServerThread, path: str, body: bytes, content_type: str = "application/json",
          method: str = "POST", **headers: str) -> tuple[int, Any, dict[str, str]]:
    request = urllib.request.Request(_base(thread) + path, data=body if method == "POST" else None, method=method,
                                     headers={"Content-Type": content_type, **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, data, got = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as err:
        status, data, got = err.code, err.read(), dict(err.headers)
    try:
        return status, json.loads(data), got
    except ValueError:
        return status, data, got


def _self_metric(thread: ServerThread, series: str) -> float:
    with urllib.request.urlopen(_base(thread) + "/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(float(line[len(series) + 1:]) for line in text.splitlines() if line.startswith(series + " "))


def _write_requests(thread: ServerThread, code: str) -> float:
    return _self_metric(thread, f'tsdb_write_requests_total{{code="{code}",protocol="datadog"}}')


# -- client libraries ------------------------------------------------------------------------------------
def test_datadog_library_v1(server: ServerThread) -> None:
    from datadog import api, initialize

    initialize(api_key="key", app_key="app", api_host=_base(server) + "/datadog")
    now = time.time()
    answer = api.Metric.send(metric="shop.orders", points=[(now - 10, 2), (now, 3)], host="web-1",
                             tags=["env:prod", "canary"], type="count")
    assert answer == {"status": "ok"}
    answer = api.Metric.send(metrics=[{"metric": "shop.queue", "points": 7, "tags": ["env:prod"]}],
                             compress_payload=True)  # zlib, Content-Encoding: deflate
    assert answer == {"status": "ok"}
    assert _query(server, "shop_orders") == {
        "__name__=shop_orders,canary=no_label_value,env=prod,host=web-1,source=dd": 3}
    assert _value(server, 'shop_queue{env="prod",source="dd"}') == 7
    # at DataDog's own path too (the API host without /datadog)
    initialize(api_key="key", app_key="app", api_host=_base(server))
    assert api.Metric.send(metric="shop.unprefixed", points=1.5) == {"status": "ok"}
    assert _value(server, "shop_unprefixed") == 1.5


def test_datadog_api_client_v2_and_v1(server: ServerThread) -> None:
    from datadog_api_client import ApiClient, Configuration
    from datadog_api_client.v1.api.metrics_api import MetricsApi as MetricsApiV1
    from datadog_api_client.v1.model.metrics_payload import MetricsPayload as MetricsPayloadV1
    from datadog_api_client.v1.model.point import Point
    from datadog_api_client.v1.model.series import Series as SeriesV1
    from datadog_api_client.v2.api.metrics_api import MetricsApi
    from datadog_api_client.v2.model.metric_intake_type import MetricIntakeType
    from datadog_api_client.v2.model.metric_payload import MetricPayload as MetricPayloadV2
    from datadog_api_client.v2.model.metric_point import MetricPoint
    from datadog_api_client.v2.model.metric_resource import MetricResource
    from datadog_api_client.v2.model.metric_series import MetricSeries

    configuration = Configuration(host=_base(server) + "/datadog")
    configuration.api_key["apiKeyAuth"] = "key"
    now = int(time.time())
    with ApiClient(configuration) as client:
        answer = MetricsApi(client).submit_metrics(body=MetricPayloadV2(series=[MetricSeries(
            metric="app.requests", type=MetricIntakeType.COUNT, tags=["service:api", "region:eu"],
            points=[MetricPoint(timestamp=now, value=42.0)],
            resources=[MetricResource(name="node-3", type="host")])]))
        assert answer.errors == []
        answer = MetricsApiV1(client).submit_metrics(body=MetricsPayloadV1(series=[SeriesV1(
            metric="app.latency", type="gauge", host="node-4", tags=["service:api"],
            points=[Point([float(now), 0.25])])]))
        assert answer.status == "ok"
    assert _query(server, "app_requests") == {
        "__name__=app_requests,host=node-3,region=eu,service=api,source=dd": 42}
    assert _value(server, 'app_latency{host="node-4",service="api"}') == 0.25


# -- protobuf payloads -----------------------------------------------------------------------------------
def _metric_payload(name: str, value: float, ts: int) -> bytes:
    payload = MetricPayload()
    series = payload.series.add(metric=name, type=MetricPayload.GAUGE, tags=["env:prod", "host:tagged"],
                                unit="byte", interval=10)
    series.resources.add(type="host", name="agent-1")
    series.resources.add(type="device", name="sda")
    series.points.add(timestamp=ts - 10, value=value - 1)
    series.points.add(timestamp=ts, value=value)
    return payload.SerializeToString()


@pytest.mark.parametrize("encoding", ["", "gzip", "deflate", "deflate-raw"])
def test_v2_protobuf_series(server: ServerThread, encoding: str) -> None:
    name = f"system.disk.used.{encoding.replace('-', '_') or 'plain'}"
    body = _metric_payload(name, 100.0, int(time.time()))
    headers = {}
    if encoding == "gzip":
        body, headers = gzip.compress(body), {"Content-Encoding": "gzip"}
    elif encoding == "deflate":
        body, headers = zlib.compress(body), {"Content-Encoding": "deflate"}
    elif encoding == "deflate-raw":
        squeeze = zlib.compressobj(wbits=-15)
        body, headers = squeeze.compress(body) + squeeze.flush(), {"Content-Encoding": "deflate"}
    status, answer, _ = _post(server, "/api/v2/series", body, "application/x-protobuf", **headers)
    assert (status, answer) == (202, {"errors": []})
    metric = name.replace(".", "_")
    assert _query(server, metric) == {
        f"__name__={metric},device=sda,env=prod,exported_host=tagged,host=agent-1,source=dd": 100}


def test_zstd_bodies_are_decoded(server: ServerThread) -> None:
    import cramjam

    body = _metric_payload("zstd.metric", 5.0, int(time.time()))
    status, _, _ = _post(server, "/api/v2/series", bytes(cramjam.zstd.compress(body)), "application/x-protobuf",
                         **{"Content-Encoding": "zstd"})
    assert status == 202 and _value(server, "zstd_metric") == 5


def _sketch_payload(name: str, ts: int) -> bytes:
    payload = SketchPayload()
    sketch = payload.sketches.add(metric=name, host="agent-2", tags=["env:prod", "quantile:x"])
    # 100 values: 50 in the bin of 1.0 (key 1339) and 50 in the bin of about 10 (key 1339 + 148)
    sketch.dogsketches.add(ts=ts, cnt=100, min=1.0, max=10.2, sum=550.0, avg=5.5, k=[1339, 1487], n=[50, 50])
    return payload.SerializeToString()


def test_sketches_become_summaries(server: ServerThread) -> None:
    body = gzip.compress(_sketch_payload("request.duration", int(time.time())))
    status, answer, _ = _post(server, "/datadog/api/beta/sketches", body, "application/x-protobuf",
                              **{"Content-Encoding": "gzip"})
    assert (status, answer) == (202, {"errors": []})
    quantiles = _query(server, "request_duration")
    assert sorted(k.split(",quantile=")[1].split(",")[0] for k in quantiles) == ["0.5", "0.75", "0.9", "0.95", "0.99"]
    by_q = {k.split(",quantile=")[1].split(",")[0]: v for k, v in quantiles.items()}
    assert 0.99 <= by_q["0.5"] <= 1.02 and 9.5 <= by_q["0.99"] <= 10.5
    assert all("exported_quantile=x" in k and "host=agent-2" in k for k in quantiles)
    assert _value(server, 'request_duration_sum{env="prod"}') == 550
    assert _value(server, 'request_duration_count{env="prod"}') == 100
    status, answer, _ = _post(server, "/api/beta/sketches", b"{}", "application/json")
    assert status == 415 and "application/x-protobuf" in answer["errors"][0]


# -- probes and routing ----------------------------------------------------------------------------------
@pytest.mark.parametrize("prefix", ["/datadog", ""])
def test_probes(server: ServerThread, prefix: str) -> None:
    assert _post(server, prefix + "/api/v1/validate", b"", method="GET")[:2] == (200, {"valid": True})
    assert _post(server, prefix + "/api/v1/check_run", b"[]")[:2] == (202, {"status": "ok"})
    assert _post(server, prefix + "/intake/", zlib.compress(b"{}"), **{"Content-Encoding": "deflate"})[:2] == (202, {})
    assert _post(server, prefix + "/api/v1/metadata", b"{}")[0] == 202


def test_prometheus_series_lookup_still_answers_on_the_shared_path(server: ServerThread) -> None:
    body = json.dumps({"series": [{"metric": "shared.path", "points": [[time.time(), 4]]}]}).encode()
    assert _post(server, "/api/v1/series", body)[:2] == (202, {"status": "ok"})
    form = urllib.parse.urlencode({"match[]": "shared_path"}).encode()
    status, answer, _ = _post(server, "/api/v1/series", form, "application/x-www-form-urlencoded")
    assert status == 200 and answer["data"] == [{"__name__": "shared_path", "source": "dd"}]
    status, answer, _ = _post(server, "/api/v1/series?match[]=shared_path", b"", method="GET")
    assert status == 200 and answer["data"] == [{"__name__": "shared_path", "source": "dd"}]


# -- malformed input -------------------------------------------------------------------------------------
def test_malformed_series_are_named_and_the_valid_ones_kept(server: ServerThread) -> None:
    now = time.time()
    before = _write_requests(server, "400")
    invalid_points = _self_metric(server, 'tsdb_samples_rejected_total{reason="datadog_invalid_point"}')
    body = json.dumps({"series": [
        {"metric": "mixed.good", "points": [[now, 1]]},
        {"metric": "", "points": [[now, 1]]},
        {"metric": "mixed.points", "points": [[now, 2], [now, "x"], [now], ["soon", 1]]},
        {"metric": "mixed.tags", "tags": "env:prod", "points": [[now, 3]]},
    ]}).encode()
    status, answer, _ = _post(server, "/datadog/api/v1/series", body)
    assert status == 400
    assert answer["errors"] == ["series[1].metric: missing or not a non-empty string",
                                "series[2].points[1]: value is not a number",
                                "series[2].points[2]: expected [timestamp, value]",
                                "series[2].points[3]: timestamp is not a number of seconds",
                                "series[3].tags: expected a list of strings"]
    assert _value(server, "mixed_good") == 1 and _value(server, "mixed_points") == 2
    assert _write_requests(server, "400") == before + 1
    assert _self_metric(server, 'tsdb_samples_rejected_total{reason="datadog_invalid_point"}') == invalid_points + 3
    v2 = json.dumps({"series": [{"metric": "v2.bad", "points": [{"timestamp": int(now), "value": None}]}]})
    status, answer, _ = _post(server, "/api/v2/series", v2.encode())
    assert (status, answer) == (400, {"errors": ["series[0].points[0]: value is not a number"]})


def test_many_malformed_points_are_named_up_to_ten_and_totalled(server: ServerThread) -> None:
    body = json.dumps({"series": [{"metric": "many.bad", "points": [[time.time(), "x"]] * 15 + [[time.time(), 1]]}]})
    status, answer, _ = _post(server, "/datadog/api/v1/series", body.encode())
    assert status == 400 and len(answer["errors"]) == 11
    assert answer["errors"][-1] == "15 points rejected in all, 1 samples stored"


def test_storage_refusals_are_listed_with_202(server: ServerThread) -> None:
    now = time.time()
    fresh = json.dumps({"series": [{"metric": "refused.old", "points": [[now, 1]]}]}).encode()
    assert _post(server, "/datadog/api/v1/series", fresh)[:2] == (202, {"status": "ok"})
    stale = json.dumps({"series": [{"metric": "refused.old", "points": [[now - 3600, 2]]}]}).encode()
    status, answer, _ = _post(server, "/datadog/api/v1/series", stale)
    assert status == 202 and answer["status"] == "ok"
    assert answer["errors"][0].startswith("1 samples not stored: 1 out_of_order")


@pytest.mark.parametrize(("path", "body", "content_type", "status", "part"), [
    ("/datadog/api/v1/series", b"not json", "application/json", 400, "invalid JSON body"),
    ("/datadog/api/v1/series", b"[1]", "application/json", 400, "\"series\" list"),
    ("/api/v2/series", b"\xff\xff\xff", "application/x-protobuf", 400, "invalid MetricPayload protobuf"),
    ("/api/v2/series", b"x", "text/plain", 415, "unsupported Content-Type 'text/plain'"),
    ("/api/beta/sketches", b"\x0a\x05\x0a", "application/x-protobuf", 400, "invalid SketchPayload protobuf"),
])
def test_bodies_that_are_not_payloads(server: ServerThread, path: str, body: bytes, content_type: str, status: int,
                                      part: str) -> None:
    got, answer, _ = _post(server, path, body, content_type)
    assert got == status and part in answer["errors"][0]


def test_a_body_that_does_not_inflate(server: ServerThread) -> None:
    status, _, _ = _post(server, "/api/v2/series", b"not gzip", "application/x-protobuf",
                         **{"Content-Encoding": "gzip"})
    assert status == 400


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=300), st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["series", "metric", "points", "tags", "host", "resources", "timestamp", "value", "type",
                         "name"]), inner, max_size=5), max_leaves=30).map(lambda doc: json.dumps(doc).encode())),
    path=st.sampled_from(["/api/v1/series", "/datadog/api/v1/series", "/api/v2/series", "/api/beta/sketches"]),
    content_type=st.sampled_from(["application/json", "application/x-protobuf"]))
def test_arbitrary_bodies_never_fail_the_server(server: ServerThread, body: bytes, path: str,
                                                content_type: str) -> None:
    status, _, _ = _post(server, path, body, content_type)
    assert 200 <= status < 300 or 400 <= status < 500


# -- limits and roles ------------------------------------------------------------------------------------
def test_body_limit_and_write_limits(tmp_path: Path) -> None:
    config = ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          ingest=IngestOptions(max_inflight_bytes=1), max_body_bytes=1000)
    body = json.dumps({"series": [{"metric": "limited", "points": [[time.time(), 1]]}]}).encode()
    with ServerThread(config) as thread:
        limiter = thread.server.context.backend.write_limiter  # type: ignore[union-attr]
        assert limiter is not None
        ticket = limiter.admit(10)  # another request in flight holds the bytes
        try:
            status, answer, headers = _post(thread, "/datadog/api/v1/series", body)
        finally:
            ticket.release()  # type: ignore[union-attr]
        assert status == 429 and headers["Retry-After"] == "5" and "server busy" in answer["errors"][0]
        assert _post(thread, "/datadog/api/v1/series", body)[0] == 202
        status, answer, _ = _post(thread, "/datadog/api/v2/series", b"{" + b" " * 2000 + b"}")
        assert status == 413 and "larger than the limit" in answer["errors"][0]
        assert _post(thread, "/intake/", b" " * 2000)[0] == 413


def test_writes_need_the_write_role(tmp_path: Path) -> None:
    from tests.server.test_webauth import ROLES, USERS, _config, _web_yml

    web = _web_yml(tmp_path / "web.yml", None, USERS)
    body = json.dumps({"series": [{"metric": "guarded", "points": [[time.time(), 1]]}]}).encode()
    v2 = json.dumps({"series": [{"metric": "guarded", "points": [{"timestamp": int(time.time()), "value": 1}]}]})
    with ServerThread(_config(tmp_path, web, web_roles=ROLES)) as thread:
        def post_as(user: str, path: str, data: bytes, content_type: str = "application/json") -> int:
            token = base64.b64encode(f"{user}:{USERS[user]}".encode()).decode()
            return _post(thread, path, data, content_type, Authorization=f"Basic {token}")[0]

        for path, data in (("/api/v1/series", body), ("/datadog/api/v1/series", body), ("/api/v2/series", v2.encode())):
            assert post_as("reader", path, data) == 403
            assert post_as("writer", path, data) == 202
        form = urllib.parse.urlencode({"match[]": "guarded"}).encode()
        assert post_as("reader", "/api/v1/series", form, "application/x-www-form-urlencoded") == 200


# -- documentation and options ---------------------------------------------------------------------------
def _doc_snippets() -> list[str]:
    text = (Path(__file__).resolve().parents[2] / "docs" / "integrations.md").read_text()
    section = text.split("\n## DataDog\n", 1)[1].split("### Clients", 1)[1]
    return [part.split("```", 1)[0] for part in section.split("```python\n")[1:]]


def test_the_documented_snippets_work(tmp_path: Path) -> None:
    config = ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0")
    with ServerThread(config) as thread:
        snippets = _doc_snippets()
        assert len(snippets) == 2
        for code in snippets:
            exec(code.replace("127.0.0.1:9201", f"127.0.0.1:{thread.server.http_port}"), {})
        assert _query(thread, "shop_orders") == {"__name__=shop_orders,canary=no_label_value,env=prod,host=web-1": 3}
        assert _value(thread, 'shop_queue{env="prod"}') == 7
        assert _query(thread, "app_requests") == {"__name__=app_requests,host=node-3,service=api": 42}


def test_reload_applies_the_datadog_section(tmp_path: Path) -> None:
    import dataclasses

    config = ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0")
    dotted = dataclasses.replace(config, datadog=DatadogOptions(dots_to_underscores=False))
    with ServerThread(config, reload_config=lambda: dotted) as thread:
        def send(name: str) -> None:
            body = json.dumps({"series": [{"metric": name, "points": [[time.time(), 1]], "host": "h1"}]})
            assert _post(thread, "/datadog/api/v1/series", body.encode())[0] == 202

        send("before.reload")
        thread.call(thread.server.reload())
        send("after.reload")
        assert _value(thread, "before_reload") == 1
        assert _value(thread, '{"after.reload", host="h1"}') == 1
