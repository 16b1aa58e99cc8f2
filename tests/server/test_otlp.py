"""OTLP ingestion end to end: the OpenTelemetry SDK's own exporters (HTTP and gRPC) against an in-process
server, read back with PromQL; JSON and gzip bodies, malformed bodies, partial success, write limits and
the self-metrics."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpExporter
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, ObservableGauge, UpDownCounter
from opentelemetry.sdk.metrics.export import AggregationTemporality, MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from tests.server_thread import ServerThread
from tsdb.config import IngestOptions, OtlpOptions, ServerConfig
from tsdb.server.otlp_api import PATH, SERVICE

pytestmark = pytest.mark.timeout(60)

RESOURCE = {"service.name": "checkout", "service.namespace": "shop", "service.instance.id": "pod-1",
            "host.name": "node-7"}
DELTA = {Counter: AggregationTemporality.DELTA, UpDownCounter: AggregationTemporality.CUMULATIVE,
         Histogram: AggregationTemporality.DELTA, ObservableGauge: AggregationTemporality.CUMULATIVE}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    config = ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          otlp=OtlpOptions(promote_resource_attributes=("host.name",)))
    with ServerThread(config) as st:
        yield st


def _base(st: ServerThread) -> str:
    return f"http://127.0.0.1:{st.server.http_port}"


def _query(st: ServerThread, promql: str) -> dict[str, float]:
    """``{labels as sorted k=v text: value}`` of an instant query at now."""
    url = _base(st) + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=10) as response:
        result = json.loads(response.read())["data"]["result"]
    return {",".join(f"{k}={v}" for k, v in sorted(r["metric"].items())): float(r["value"][1]) for r in result}


def _value(st: ServerThread, promql: str) -> float:
    (value,) = _query(st, promql).values()
    return value


def _record(exporter: MetricExporter, rounds: int = 1) -> None:
    """Counter, up-down counter, histogram and observable gauge recorded and flushed ``rounds`` times."""
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=Resource.create(RESOURCE), metric_readers=[reader])
    meter = provider.get_meter("checkout.instrumentation", "2.1")
    orders = meter.create_counter("orders", unit="{order}", description="Orders placed")
    inflight = meter.create_up_down_counter("http.server.active_requests", unit="{request}")
    duration = meter.create_histogram("http.server.request.duration", unit="ms")

    def memory(_: CallbackOptions) -> list[Observation]:
        return [Observation(0.5, {"state": "used"})]

    meter.create_observable_gauge("process.memory.utilization", [memory], unit="1")
    for _ in range(rounds):
        orders.add(3, {"payment.method": "card"})
        inflight.add(2)
        duration.record(7, {"http.route": "/pay"})
        duration.record(70, {"http.route": "/pay"})
        assert provider.force_flush(10_000)
    provider.shutdown()


def _check_sdk_data(st: ServerThread, rounds: int) -> None:
    base = 'job="shop/checkout",instance="pod-1"'
    assert _value(st, f"orders_total{{{base},payment_method=\"card\"}}") == 3 * rounds
    assert _value(st, f"http_server_active_requests{{{base}}}") == 2 * rounds
    assert _value(st, f"process_memory_utilization_ratio{{{base},state=\"used\"}}") == 0.5
    buckets = _query(st, f"http_server_request_duration_milliseconds_bucket{{{base}}}")
    by_le = {k.split("le=")[1].split(",")[0]: v for k, v in buckets.items()}
    assert by_le["10"] == rounds and by_le["100"] == 2 * rounds and by_le["+Inf"] == 2 * rounds
    assert by_le["5"] == 0
    assert _value(st, f"http_server_request_duration_milliseconds_count{{{base}}}") == 2 * rounds
    assert _value(st, f"http_server_request_duration_milliseconds_sum{{{base}}}") == 77 * rounds
    # promoted host.name on every series, and target_info with the other resource attributes
    assert _query(st, 'count by (host_name) ({host_name="node-7"})')
    info = _query(st, "target_info")
    (labels,) = info
    assert "host_name=node-7" in labels and "job=shop/checkout" in labels and "instance=pod-1" in labels
    assert "telemetry_sdk_language=python" in labels and "service_name" not in labels
    assert all("otel_scope_name" not in k for k in _query(st, "orders_total"))


def _metadata(st: ServerThread) -> dict[str, Any]:
    with urllib.request.urlopen(_base(st) + "/api/v1/metadata", timeout=10) as response:
        return json.loads(response.read())["data"]  # type: ignore[no-any-return]


def test_http_exporter_cumulative(server: ServerThread) -> None:
    _record(HttpExporter(endpoint=_base(server) + PATH, timeout=10), rounds=2)
    _check_sdk_data(server, rounds=2)
    meta = _metadata(server)
    assert meta["orders_total"] == [{"type": "counter", "help": "Orders placed", "unit": ""}]
    assert meta["http_server_request_duration_milliseconds"][0]["type"] == "histogram"
    assert meta["http_server_request_duration_milliseconds"][0]["unit"] == "milliseconds"


def test_http_exporter_delta_is_accumulated(server: ServerThread) -> None:
    _record(HttpExporter(endpoint=_base(server) + PATH, timeout=10, preferred_temporality=DELTA), rounds=2)
    _check_sdk_data(server, rounds=2)


def test_grpc_exporter(server: ServerThread) -> None:
    _record(GrpcExporter(endpoint=f"127.0.0.1:{server.server.grpc_port}", insecure=True, timeout=10))
    _check_sdk_data(server, rounds=1)


def _gauge_request(name: str = "room.temperature", exponential: bool = False) -> ExportMetricsServiceRequest:
    import time

    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    rm.resource.attributes.add(key="service.name", value={"string_value": "sensor"})
    metrics = rm.scope_metrics.add().metrics
    metric = metrics.add(name=name, unit="Cel")
    metric.gauge.data_points.add(time_unix_nano=time.time_ns(), as_double=21.5)
    if exponential:
        eh = metrics.add(name="latency")
        eh.exponential_histogram.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
        eh.exponential_histogram.data_points.add(time_unix_nano=time.time_ns(), count=3)
    return request


def _post(st: ServerThread, body: bytes, content_type: str, **headers: str) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(_base(st) + PATH, data=body, method="POST",
                                     headers={"Content-Type": content_type, **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


def test_json_and_gzip_bodies(server: ServerThread) -> None:
    from google.protobuf import json_format

    body = json_format.MessageToJson(_gauge_request()).encode()
    status, data, headers = _post(server, body, "application/json")
    assert status == 200 and headers["Content-Type"] == "application/json" and json.loads(data) == {}
    assert _value(server, 'room_temperature_celsius{job="sensor"}') == 21.5
    status, data, _ = _post(server, gzip.compress(_gauge_request("humidity").SerializeToString()),
                            "application/x-protobuf", **{"Content-Encoding": "gzip"})
    assert status == 200 and ExportMetricsServiceResponse.FromString(data) == ExportMetricsServiceResponse()
    assert _value(server, "humidity_celsius") == 21.5


def test_malformed_bodies_answer_400_naming_the_problem(server: ServerThread) -> None:
    status, data, headers = _post(server, b"{\"resourceMetrics\": [", "application/json")
    assert status == 400 and headers["Content-Type"] == "application/json"
    assert json.loads(data)["code"] == 3 and "invalid ExportMetricsServiceRequest JSON" in json.loads(data)["message"]
    status, data, _ = _post(server, b"\x0a\xff\xff\xff\x0f", "application/x-protobuf")
    assert status == 400 and b"invalid ExportMetricsServiceRequest protobuf" in data
    status, data, _ = _post(server, b"not gzip", "application/x-protobuf", **{"Content-Encoding": "gzip"})
    assert status == 400
    status, data, _ = _post(server, b"x", "text/plain")
    assert status == 415 and b"Content-Type" in data


def test_partial_success_names_native_histograms(server: ServerThread) -> None:
    status, data, _ = _post(server, _gauge_request(exponential=True).SerializeToString(), "application/x-protobuf")
    assert status == 200
    partial = ExportMetricsServiceResponse.FromString(data).partial_success
    assert partial.rejected_data_points == 1
    assert "native histograms are not supported yet" in partial.error_message
    assert _value(server, "room_temperature_celsius") == 21.5  # the rest is stored
    with urllib.request.urlopen(_base(server) + "/metrics", timeout=10) as response:
        text = response.read().decode()
    assert 'protocol="otlp"' in text and "otlp_native_histogram_unsupported" in text


def test_grpc_partial_success_and_invalid_argument(server: ServerThread) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{server.server.grpc_port}") as channel:
        export = channel.unary_unary(f"/{SERVICE}/Export", request_serializer=lambda b: b,
                                     response_deserializer=ExportMetricsServiceResponse.FromString)
        answer = export(_gauge_request(exponential=True).SerializeToString(), timeout=10)
        assert answer.partial_success.rejected_data_points == 1
        with pytest.raises(grpc.RpcError) as raised:
            export(b"\x0a\xff\xff\xff\x0f", timeout=10)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "ExportMetricsServiceRequest" in (raised.value.details() or "")


def test_write_limits_answer_429(tmp_path: Path) -> None:
    config = ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          ingest=IngestOptions(max_inflight_bytes=1))
    with ServerThread(config) as st:
        limiter = st.server.context.backend.write_limiter  # type: ignore[union-attr]
        assert limiter is not None
        ticket = limiter.admit(10)  # another request in flight holds the bytes
        try:
            status, data, headers = _post(st, _gauge_request().SerializeToString(), "application/x-protobuf")
        finally:
            ticket.release()  # type: ignore[union-attr]
        assert status == 429 and headers["Retry-After"] == "5" and b"server busy" in data
        status, _, _ = _post(st, _gauge_request().SerializeToString(), "application/x-protobuf")
        assert status == 200


def test_grpc_export_needs_the_write_role(tmp_path: Path) -> None:
    import base64

    from tests.server.test_webauth import ROLES, USERS, _config, _web_yml
    from tests.tls_certs import make_certs

    certs = make_certs(tmp_path)
    web = _web_yml(tmp_path / "web.yml", certs, USERS)
    with ServerThread(_config(tmp_path, web, web_roles=ROLES)) as st:
        credentials = grpc.ssl_channel_credentials(root_certificates=certs.ca.read_bytes())
        with grpc.secure_channel(f"127.0.0.1:{st.server.grpc_port}", credentials) as channel:
            export = channel.unary_unary(f"/{SERVICE}/Export", request_serializer=lambda b: b,
                                         response_deserializer=ExportMetricsServiceResponse.FromString)
            body = _gauge_request().SerializeToString()

            def auth(user: str) -> list[tuple[str, str]]:
                token = base64.b64encode(f"{user}:{USERS[user]}".encode()).decode()
                return [("authorization", f"Basic {token}")]

            assert export(body, timeout=10, metadata=auth("writer")) == ExportMetricsServiceResponse()
            with pytest.raises(grpc.RpcError) as raised:
                export(body, timeout=10, metadata=auth("reader"))
            assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_the_documented_snippet_works(server: ServerThread) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "integrations.md").read_text()
    section = text.split("### Sending from an application", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(code.replace("127.0.0.1:9201", f"127.0.0.1:{server.server.http_port}"), namespace)
    namespace["provider"].shutdown()
    assert _value(server, 'orders_total{job="shop/checkout",instance="pod-1",payment_method="card"}') == 3
    assert _value(server, 'http_server_request_duration_milliseconds_bucket{le="100"}') == 1
    (info,) = _query(server, "target_info")
    assert "host_name=node-7" in info


def test_reload_applies_the_otlp_section(tmp_path: Path) -> None:
    import dataclasses
    import time

    config = ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0")
    promoted = dataclasses.replace(config, otlp=OtlpOptions(promote_resource_attributes=("host.name",)))
    with ServerThread(config, reload_config=lambda: promoted) as st:
        def send(name: str) -> None:
            request = _gauge_request(name)
            request.resource_metrics[0].resource.attributes.add(key="host.name", value={"string_value": "h9"})
            request.resource_metrics[0].scope_metrics[0].metrics[0].gauge.data_points[0].time_unix_nano = \
                time.time_ns()
            assert _post(st, request.SerializeToString(), "application/x-protobuf")[0] == 200

        send("before")
        st.call(st.server.reload())
        send("after")
        assert list(_query(st, "before_celsius")) == ["__name__=before_celsius,job=sensor"]
        assert list(_query(st, "after_celsius")) == ["__name__=after_celsius,host_name=h9,job=sensor"]


def test_http_export_needs_the_write_role(tmp_path: Path) -> None:
    import base64

    from tests.server.test_webauth import ROLES, USERS, _config, _web_yml

    web = _web_yml(tmp_path / "web.yml", None, USERS)
    with ServerThread(_config(tmp_path, web, web_roles=ROLES)) as st:
        body = _gauge_request().SerializeToString()

        def post_as(user: str) -> int:
            token = base64.b64encode(f"{user}:{USERS[user]}".encode()).decode()
            return _post(st, body, "application/x-protobuf", Authorization=f"Basic {token}")[0]

        assert post_as("reader") == 403
        assert post_as("writer") == 200
