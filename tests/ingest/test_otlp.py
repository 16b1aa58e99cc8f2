"""OTLP -> Prometheus translation (tsdb.ingest.otlp and otlp_names): names, labels, job/instance,
target_info, each data type, stale markers, deltas and rejections, on hand-built protobuf requests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2

from tsdb.config import OtlpOptions, load_server_config
from tsdb.errors import ConfigError, InvalidArgumentError
from tsdb.ingest import otlp, otlp_names
from tsdb.labels import Labels
from tsdb.storage.interfaces import is_stale

T0 = 1_700_000_000_000_000_000  # ns
RESOURCE = {"service.name": "shop", "service.namespace": "prod", "service.instance.id": "i-1", "host.name": "h1"}


def _kv(attrs: dict[str, object]) -> list[KeyValue]:
    out = []
    for key, value in attrs.items():
        if isinstance(value, bool):
            v = AnyValue(bool_value=value)
        elif isinstance(value, int):
            v = AnyValue(int_value=value)
        elif isinstance(value, float):
            v = AnyValue(double_value=value)
        elif isinstance(value, list):
            v = AnyValue(array_value=ArrayValue(values=[AnyValue(string_value=str(x)) for x in value]))
        else:
            v = AnyValue(string_value=str(value))
        out.append(KeyValue(key=key, value=v))
    return out


def _request(*metrics: metrics_pb2.Metric, resource: dict[str, object] | None = None,
             scope: str = "app") -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    rm.resource.attributes.extend(_kv(RESOURCE if resource is None else resource))
    sm = rm.scope_metrics.add()
    sm.scope.name = scope
    sm.scope.version = "1.0"
    sm.metrics.extend(metrics)
    return request


def _sum(name: str, unit: str, values: list[float], monotonic: bool = True, temporality: int = otlp.CUMULATIVE,
         attrs: dict[str, object] | None = None, flags: int = 0) -> metrics_pb2.Metric:
    m = metrics_pb2.Metric(name=name, unit=unit, description="help text")
    m.sum.is_monotonic = monotonic
    m.sum.aggregation_temporality = temporality
    for i, v in enumerate(values):
        p = m.sum.data_points.add(time_unix_nano=T0 + i * 10**9, as_double=v, flags=flags)
        p.attributes.extend(_kv(attrs or {}))
    return m


def _gauge(name: str, unit: str, value: float, attrs: dict[str, object] | None = None) -> metrics_pb2.Metric:
    m = metrics_pb2.Metric(name=name, unit=unit)
    p = m.gauge.data_points.add(time_unix_nano=T0, as_int=int(value)) if value == int(value) else \
        m.gauge.data_points.add(time_unix_nano=T0, as_double=value)
    p.attributes.extend(_kv(attrs or {}))
    return m


def _series(t: otlp.Translation) -> dict[Labels, list[float]]:
    return {lb: t.values[t.offsets[i]:t.offsets[i + 1]].tolist() for i, lb in enumerate(t.labels)}


def _by_name(t: otlp.Translation, name: str) -> dict[Labels, list[float]]:
    return {lb: v for lb, v in _series(t).items() if lb.get("__name__") == name}


@pytest.mark.parametrize(("name", "unit", "kind", "expected"), [
    ("http.server.duration", "ms", "histogram", "http_server_duration_milliseconds"),
    ("http.requests", "{request}", "counter", "http_requests_total"),
    ("requests_total", "1", "counter", "requests_total"),
    ("cpu.utilization", "1", "gauge", "cpu_utilization_ratio"),
    ("system.network.io", "By", "counter", "system_network_io_bytes_total"),
    ("throughput", "By/s", "gauge", "throughput_bytes_per_second"),
    ("queue.size", "{item}", "sum", "queue_size"),
    ("latency_seconds", "s", "gauge", "latency_seconds"),
    ("memory", "MiBy", "gauge", "memory_mebibytes"),
    ("foo__bar", "", "gauge", "foo_bar"),
    ("0abc", "", "gauge", "_0abc"),
    ("temp", "Cel", "gauge", "temp_celsius"),
])
def test_metric_names_follow_prometheus(name: str, unit: str, kind: str, expected: str) -> None:
    assert otlp_names.metric_name(name, unit, kind) == expected


def test_metric_name_without_suffixes_and_invalid() -> None:
    assert otlp_names.metric_name("http.requests", "s", "counter", with_suffixes=False) == "http_requests"
    with pytest.raises(InvalidArgumentError, match="invalid name"):
        otlp_names.metric_name("...", "", "gauge")


@pytest.mark.parametrize(("name", "expected"), [
    ("host.name", "host_name"), ("service.instance.id", "service_instance_id"), ("0x", "key_0x"),
    ("_private", "key_private"), ("__reserved__", "__reserved__"), ("a__b", "a__b"), ("k8s-pod", "k8s_pod"),
])
def test_label_names_follow_prometheus(name: str, expected: str) -> None:
    assert otlp_names.label_name(name) == expected


def test_label_name_of_underscores_only_is_refused() -> None:
    with pytest.raises(InvalidArgumentError):
        otlp_names.label_name("...")
    with pytest.raises(InvalidArgumentError):
        otlp_names.label_name("")


def test_sum_job_instance_and_target_info() -> None:
    t = otlp.translate(_request(_sum("http.requests", "{request}", [5.0], attrs={"http.route": "/a"})))
    assert _by_name(t, "http_requests_total") == {Labels({
        "__name__": "http_requests_total", "job": "prod/shop", "instance": "i-1", "http_route": "/a"}): [5.0]}
    info = _by_name(t, "target_info")
    assert info == {Labels({"__name__": "target_info", "job": "prod/shop", "instance": "i-1",
                            "host_name": "h1"}): [1.0]}
    assert t.ts.tolist() == [T0 // 1_000_000] * 2
    meta = {m.metric: m for m in t.metadata}
    assert meta["http_requests_total"].type == "counter" and meta["http_requests_total"].help == "help text"
    assert meta["target_info"].type == "gauge"


def test_job_is_service_name_alone_without_namespace() -> None:
    t = otlp.translate(_request(_gauge("g", "", 1), resource={"service.name": "svc"}))
    assert {lb.get("job") for lb in t.labels} == {"svc"}
    assert not _by_name(t, "target_info")  # identifying attributes only: no target_info


def test_promoted_and_identifying_resource_attributes() -> None:
    options = OtlpOptions(promote_resource_attributes=("host.name",), keep_identifying_resource_attributes=True)
    t = otlp.translate(_request(_gauge("g", "", 2)), options)
    (g,) = _by_name(t, "g")
    assert g.get("host_name") == "h1"
    (info,) = _by_name(t, "target_info")
    assert info.get("service_name") == "shop" and info.get("service_instance_id") == "i-1"
    assert info.get("host_name") == "h1"


def test_scope_labels_only_when_asked() -> None:
    t = otlp.translate(_request(_gauge("g", "", 1)))
    assert all("otel_scope_name" not in lb for lb in t.labels)
    t = otlp.translate(_request(_gauge("g", "", 1)), OtlpOptions(promote_scope_metadata=True))
    (g,) = _by_name(t, "g")
    assert g.get("otel_scope_name") == "app" and g.get("otel_scope_version") == "1.0"


def test_attribute_values_and_collisions() -> None:
    t = otlp.translate(_request(_gauge("g", "", 1, attrs={"a.b": "x", "a_b": "y", "n": 3, "ok": True,
                                                         "f": 0.5, "list": ["p", "q"]})))
    (g,) = _by_name(t, "g")
    assert g.get("a_b") == "x;y"
    assert (g.get("n"), g.get("ok"), g.get("f"), g.get("list")) == ("3", "true", "0.5", '["p","q"]')


def test_unit_one_gauge_gets_ratio_and_updown_counter_no_total() -> None:
    t = otlp.translate(_request(_gauge("cpu.utilization", "1", 0.25),
                                _sum("queue.size", "{item}", [4.0], monotonic=False)))
    names = {lb.get("__name__") for lb in t.labels}
    assert {"cpu_utilization_ratio", "queue_size"} <= names
    assert {m.metric: m.type for m in t.metadata}["queue_size"] == "gauge"


def test_histogram_buckets_sum_count() -> None:
    m = metrics_pb2.Metric(name="http.server.duration", unit="ms")
    m.histogram.aggregation_temporality = otlp.CUMULATIVE
    m.histogram.data_points.add(time_unix_nano=T0, count=6, sum=123.0, explicit_bounds=[10, 100.5],
                                bucket_counts=[1, 2, 3])
    t = otlp.translate(_request(m))
    buckets = {lb.get("le"): v for lb, v in _by_name(t, "http_server_duration_milliseconds_bucket").items()}
    assert buckets == {"10": [1.0], "100.5": [3.0], "+Inf": [6.0]}
    assert list(_by_name(t, "http_server_duration_milliseconds_sum").values()) == [[123.0]]
    assert list(_by_name(t, "http_server_duration_milliseconds_count").values()) == [[6.0]]
    assert {m.metric: m.unit for m in t.metadata}["http_server_duration_milliseconds"] == "milliseconds"


def test_summary_quantiles() -> None:
    m = metrics_pb2.Metric(name="rpc.latency", unit="s")
    p = m.summary.data_points.add(time_unix_nano=T0, count=10, sum=2.5)
    p.quantile_values.add(quantile=0.5, value=0.2)
    p.quantile_values.add(quantile=0.99, value=0.9)
    t = otlp.translate(_request(m))
    q = {lb.get("quantile"): v for lb, v in _by_name(t, "rpc_latency_seconds").items()}
    assert q == {"0.5": [0.2], "0.99": [0.9]}
    assert list(_by_name(t, "rpc_latency_seconds_count").values()) == [[10.0]]


def test_no_recorded_value_is_a_stale_marker() -> None:
    t = otlp.translate(_request(_sum("c", "", [1.0], flags=otlp.NO_RECORDED_VALUE)))
    (values,) = _by_name(t, "c_total").values()
    assert is_stale(np.array(values)).all()


def test_exponential_histogram_is_rejected_by_name() -> None:
    m = metrics_pb2.Metric(name="latency")
    m.exponential_histogram.aggregation_temporality = otlp.CUMULATIVE
    m.exponential_histogram.data_points.add(time_unix_nano=T0, count=1)
    m.exponential_histogram.data_points.add(time_unix_nano=T0 + 1, count=2)
    t = otlp.translate(_request(m, _gauge("g", "", 1)))
    assert t.rejected == {otlp.NATIVE_HISTOGRAM: 2}
    assert "native histograms are not supported yet" in t.messages[0] and "latency" in t.messages[0]
    assert _by_name(t, "g")


def test_delta_sums_accumulate_or_are_rejected() -> None:
    request = _request(_sum("jobs", "", [2.0, 3.0], temporality=otlp.DELTA))
    assert otlp.has_delta(request) and not otlp.has_delta(_request(_gauge("g", "", 1)))
    acc = otlp.DeltaAccumulator()
    t = otlp.translate(request, delta=acc)
    assert list(_by_name(t, "jobs_total").values()) == [[2.0, 5.0]]
    # not applied (the store failed): the same export counts from the same totals again
    assert list(_by_name(otlp.translate(request, delta=acc), "jobs_total").values()) == [[2.0, 5.0]]
    assert t.deltas is not None
    acc.apply(t.deltas)
    later = _request(_sum("jobs", "", [0, 0, 4.0], temporality=otlp.DELTA))
    del later.resource_metrics[0].scope_metrics[0].metrics[0].sum.data_points[:2]
    t = otlp.translate(later, delta=acc)
    assert list(_by_name(t, "jobs_total").values()) == [[9.0]]
    assert t.deltas is not None
    acc.apply(t.deltas)
    # a resent (not newer) point is not counted twice
    assert not _by_name(otlp.translate(later, delta=acc), "jobs_total")
    off = otlp.translate(request, OtlpOptions(convert_delta_to_cumulative=False), acc)
    assert off.rejected == {otlp.TEMPORALITY: 2} and "delta temporality" in off.messages[0]
    assert otlp.translate(request).rejected == {otlp.TEMPORALITY: 2}  # no accumulator given


def test_accumulator_bounded() -> None:
    acc = otlp.DeltaAccumulator(max_series=2)
    for i in range(5):
        batch = otlp.DeltaBatch(acc)
        assert batch.add(Labels({"__name__": f"s{i}"}), 1, 1.0) == 1.0
        acc.apply(batch)
        assert len(acc) <= 2


def test_decode_protobuf_json_and_errors() -> None:
    request = _request(_gauge("g", "", 1))
    assert otlp.decode_request(request.SerializeToString(), "application/x-protobuf") == request
    body = ('{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"s"}}]},'
            '"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[{"timeUnixNano":"1700000000000000000",'
            '"asDouble":1.5}]}}],"unknownField":1}]}]}')
    decoded = otlp.decode_request(body.encode(), "application/json; charset=utf-8")
    assert decoded.resource_metrics[0].scope_metrics[0].metrics[0].gauge.data_points[0].as_double == 1.5
    with pytest.raises(InvalidArgumentError, match="protobuf"):
        otlp.decode_request(b"\xff\xff\xff", "application/x-protobuf")
    with pytest.raises(InvalidArgumentError, match="JSON"):
        otlp.decode_request(b"{not json", "application/json")
    with pytest.raises(InvalidArgumentError, match="Content-Type"):
        otlp.decode_request(b"", "text/plain")


def test_config_section_validates_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "tsdb.yml"
    path.write_text("otlp:\n  promote_resource_attributes: [host.name]\n  keep_identifying_resource_attributes: true\n")
    options = load_server_config(path).otlp
    assert options.promote_resource_attributes == ("host.name",) and options.keep_identifying_resource_attributes
    path.write_text("otlp:\n  bogus: 1\n")
    with pytest.raises(ConfigError, match="otlp: unknown key 'bogus'"):
        load_server_config(path)
    with pytest.raises(ConfigError, match=r"otlp\.promote_resource_attributes"):
        OtlpOptions(promote_resource_attributes="host.name")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"otlp\.keep_identifying_resource_attributes"):
        OtlpOptions(keep_identifying_resource_attributes="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"otlp\.translation_strategy"):
        OtlpOptions(translation_strategy="NoTranslation")


def test_json_mapping_of_otlp() -> None:
    """OTLP's JSON: enums as numbers, 64-bit integers as strings, hex trace and span ids in exemplars."""
    body = """{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"s"}}]},
      "scopeMetrics":[{"scope":{"name":"lib"},"metrics":[{"name":"hits","unit":"1","sum":{
        "aggregationTemporality":2,"isMonotonic":true,"dataPoints":[{"timeUnixNano":"1700000000000000000",
        "asInt":"5","attributes":[{"key":"code","value":{"intValue":"200"}}],
        "exemplars":[{"timeUnixNano":"1700000000000000000","asDouble":1,
          "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}]}]}}]}]}]}"""
    t = otlp.translate(otlp.decode_request(body.encode(), "application/json"))
    assert _series(t) == {Labels({"__name__": "hits_total", "job": "s", "code": "200"}): [5.0]}
