"""DataDog payloads -> series: names, tags, resources, timestamps, sketches, and malformed parts named."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsdb.config import DatadogOptions
from tsdb.errors import ConfigError, InvalidArgumentError
from tsdb.ingest import datadog
from tsdb.labels import Labels
from tsdb.server.auth import required_role
from tsdb.server.pb.datadog.agent_payload_pb2 import MetricPayload, SketchPayload

OPTIONS = DatadogOptions()


def _samples(translation: datadog.Translation) -> dict[Labels, list[tuple[int, float]]]:
    out: dict[Labels, list[tuple[int, float]]] = {}
    bounds = translation.offsets.tolist()
    for i, labels in enumerate(translation.labels):
        lo, hi = bounds[i], bounds[i + 1]
        out[labels] = list(zip(translation.ts[lo:hi].tolist(), translation.values[lo:hi].tolist(), strict=True))
    return out


def _v1(*series: Any, options: DatadogOptions = OPTIONS) -> datadog.Translation:
    return datadog.decode_v1_json(json.dumps({"series": list(series)}).encode(), options)


def test_v1_mapping() -> None:
    translation = _v1({"metric": "system.load.1", "points": [[1700000000.25, 1.5], [1700000010, 2]],
                       "host": "web-1", "device": "sda", "type": "gauge", "interval": 10,
                       "tags": ["env:prod", "canary", "url:http://x:1", "role:db", "role:web", "role:db",
                                "host:other", "__name__:x", "team-name:core", ":empty", "9lives:yes", "blank:"]})
    assert _samples(translation) == {Labels({
        "__name__": "system_load_1", "host": "web-1", "device": "sda", "env": "prod", "canary": "no_label_value",
        "url": "http://x:1", "role": "db;web", "exported_host": "other", "exported___name__": "x",
        "team_name": "core", "_9lives": "yes"}): [(1700000000250, 1.5), (1700000010000, 2.0)]}
    assert translation.rejected == {} and translation.errors == []


def test_dots_kept_and_extra_labels() -> None:
    options = DatadogOptions(dots_to_underscores=False, extra_labels={"source": "dd", "env": "test"})
    translation = _v1({"metric": "my-app.req count", "points": [[1, 1]], "tags": ["env:prod"]}, options=options)
    assert list(_samples(translation)) == [Labels({"__name__": "my_app.req_count", "source": "dd", "env": "test",
                                                   "exported_env": "prod"})]
    assert datadog.decode_v1_json(b'{"series":[{"metric":"1m","points":[[1,1]]}]}', options).labels[0] == \
        Labels({"__name__": "_1m", "source": "dd", "env": "test"})


def test_series_sent_twice_are_merged_in_time_order() -> None:
    translation = _v1({"metric": "a", "points": [[3, 3], [1, 1]]}, {"metric": "a", "points": [[2, 2]]})
    assert _samples(translation) == {Labels({"__name__": "a"}): [(1000, 1.0), (2000, 2.0), (3000, 3.0)]}


@pytest.mark.parametrize(("series", "error", "reason", "count"), [
    ("x", "series[0]: expected an object", datadog.INVALID_SERIES, 1),
    ({"points": [[1, 1], [2, 2]]}, "series[0].metric: missing or not a non-empty string", datadog.INVALID_SERIES, 2),
    ({"metric": "a"}, "series[0].points: expected a list", datadog.INVALID_SERIES, 1),
    ({"metric": "a", "points": [[1, 1]], "host": 3}, "series[0].host: expected a string", datadog.INVALID_SERIES, 1),
    ({"metric": "a", "points": [[1, 1]], "tags": [1]}, "series[0].tags: expected a list of strings",
     datadog.INVALID_SERIES, 1),
    ({"metric": "a", "points": [5]}, "series[0].points[0]: expected [timestamp, value]", datadog.INVALID_POINT, 1),
    ({"metric": "a", "points": [[True, 1]]}, "series[0].points[0]: timestamp is not a number of seconds",
     datadog.INVALID_POINT, 1),
    ({"metric": "a", "points": [[1, None]]}, "series[0].points[0]: value is not a number", datadog.INVALID_POINT, 1),
])
def test_v1_malformed_parts(series: Any, error: str, reason: str, count: int) -> None:
    translation = _v1(series, {"metric": "ok", "points": [[1, 1]]})
    assert translation.errors == [error]
    assert translation.rejected == {reason: count}
    assert translation.labels == [Labels({"__name__": "ok"})]


def test_out_of_range_numbers_are_rejected() -> None:
    translation = _v1({"metric": "a", "points": [[10**30, 1], [1, 10**400], [float("inf"), 1], [1, float("nan")]]})
    assert translation.errors == ["series[0].points[0]: timestamp is not a number of seconds",
                                  "series[0].points[1]: value is not a number",
                                  "series[0].points[2]: timestamp is not a number of seconds"]
    assert translation.num_samples == 1 and math.isnan(translation.values[0])
    payload = MetricPayload()
    payload.series.add(metric="a").points.add(timestamp=2**62, value=1)
    assert datadog.translate_v2_payload(payload, OPTIONS).errors == ["series[0].points[0]: timestamp out of range"]
    sketches = SketchPayload()
    sketches.sketches.add(metric="s").dogsketches.add(ts=-(2**62), cnt=1, k=[1], n=[1])
    assert datadog.translate_sketches(sketches, OPTIONS).errors == ["sketches[0].dogsketches[0]: ts out of range"]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers(min_value=-(10**400), max_value=10**400)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["series", "metric", "points", "tags", "host", "device", "resources", "timestamp", "value",
                         "type", "name"]), inner, max_size=6), max_leaves=40)


@settings(max_examples=300, deadline=None)
@given(doc=JSON_VALUES)
def test_any_json_is_translated_or_refused(doc: Any) -> None:
    body = json.dumps({"series": doc} if isinstance(doc, list) else doc).encode()
    for decode in (datadog.decode_v1_json, datadog.decode_v2_json):
        try:
            translation = decode(body, OPTIONS)
        except InvalidArgumentError:
            continue
        assert len(translation.offsets) == len(translation.labels) + 1
        assert translation.num_samples == int(translation.offsets[-1])


def test_lone_surrogates_reject_the_series() -> None:
    body = (b'{"series": [{"metric": "a", "points": [[1, 1]], "tags": ["k:\\ud800"]},'
            b' {"metric": "b", "points": [[1, 1]]}]}')
    translation = datadog.decode_v1_json(body, OPTIONS)
    assert translation.errors == ["series[0]: the metric name, a tag or a resource is not valid UTF-8"]
    assert translation.labels == [Labels({"__name__": "b"})]


def test_errors_are_capped_but_all_counted() -> None:
    translation = _v1({"metric": "a", "points": [[1, "x"]] * 25})
    assert len(translation.errors) == datadog.MAX_ERRORS and translation.rejected_count == 25


@pytest.mark.parametrize(("body", "message"), [
    (b"\xff", "invalid JSON body"), (b"{", "invalid JSON body"), (b"[]", "got list"),
    (b'{"series": 1}', "\"series\" list"), (b"[" * 100_000, "invalid JSON body"),
])
def test_not_a_payload(body: bytes, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        datadog.decode_v1_json(body, OPTIONS)


def test_v2_json() -> None:
    body = {"series": [
        {"metric": "app.hits", "type": 1, "unit": "hit", "interval": 10, "source_type_name": "x",
         "points": [{"timestamp": 1700000000, "value": 3}],
         "resources": [{"type": "host", "name": "h1"}, {"type": "k8s.cluster", "name": "c1"}, {"type": "", "name": "z"},
                       {"type": "__x", "name": "y"}],
         "tags": ["host:t", "env:prod"]},
        {"metric": "app.bad", "points": [{"timestamp": 1}, "x", {"timestamp": "1", "value": 1}],
         "resources": [{"type": "host", "name": "h1"}]},
        {"metric": "app.badres", "points": [{"timestamp": 1, "value": 1}], "resources": [{"type": 1}]},
    ]}
    translation = datadog.decode_v2_json(json.dumps(body).encode(), OPTIONS)
    assert _samples(translation) == {Labels({"__name__": "app_hits", "host": "h1", "k8s_cluster": "c1",
                                             "exported_host": "t", "env": "prod"}): [(1700000000000, 3.0)]}
    assert translation.errors == ["series[1].points[0]: value is not a number",
                                  "series[1].points[1]: expected {\"timestamp\", \"value\"}",
                                  "series[1].points[2]: timestamp is not a number of seconds",
                                  "series[2].resources: expected a list of {\"type\", \"name\"} strings"]
    assert translation.rejected == {datadog.INVALID_POINT: 3, datadog.INVALID_SERIES: 1}


def test_v2_protobuf() -> None:
    payload = MetricPayload()
    series = payload.series.add(metric="sys.mem", type=MetricPayload.RATE, tags=["a:b"])
    series.resources.add(type="host", name="h")
    series.points.add(timestamp=10, value=0.5)
    payload.series.add(metric=" ").points.add(timestamp=1, value=1)
    translation = datadog.translate_v2_payload(MetricPayload.FromString(payload.SerializeToString()), OPTIONS)
    assert _samples(translation) == {Labels({"__name__": "sys_mem", "host": "h", "a": "b"}): [(10_000, 0.5)]}
    assert translation.errors == ["series[1].metric: missing"]


def test_sketch_key_values() -> None:
    assert datadog.BIAS == 1339
    assert datadog.sketch_key_value(datadog.BIAS) == 1.0
    assert datadog.sketch_key_value(0) == 0.0
    assert datadog.sketch_key_value(-datadog.BIAS) == -1.0
    assert datadog.sketch_key_value(32767) == math.inf and datadog.sketch_key_value(-32767) == -math.inf
    assert datadog.sketch_key_value(1) == pytest.approx(0.981e-9, rel=1 / 64)
    # neighbouring keys are a factor gamma (relative accuracy 1/128) apart
    assert datadog.sketch_key_value(1400) / datadog.sketch_key_value(1399) == pytest.approx(1 + 2 / 128)


def test_sketch_quantiles() -> None:
    keys, counts = [1339, 1487], [50, 50]
    assert datadog.sketch_quantile(0.5, 0, 1, 2, keys, counts) == 0.0
    assert datadog.sketch_quantile(0, 100, 1, 10.2, keys, counts) == 1
    assert datadog.sketch_quantile(1, 100, 1, 10.2, keys, counts) == 10.2
    assert datadog.sketch_quantile(0.25, 100, 1, 10.2, keys, counts) == pytest.approx(1.0, rel=0.02)
    assert datadog.sketch_quantile(0.99, 100, 1, 10.2, keys, counts) == pytest.approx(10.0, rel=0.03)
    assert datadog.sketch_quantile(0.99, 200, 1, 10.2, keys, counts) == 10.2  # counts short of cnt: the max


def test_sketches() -> None:
    payload = SketchPayload()
    sketch = payload.sketches.add(metric="req.time", host="h", tags=["quantile:q", "env:prod"])
    sketch.dogsketches.add(ts=100, cnt=4, min=1, max=1, sum=4, avg=1, k=[1339], n=[4])
    sketch.dogsketches.add(ts=110, cnt=1, min=1, max=1, sum=1, avg=1, k=[1339, 1340], n=[1])
    payload.sketches.add(host="nameless").dogsketches.add(ts=1)
    translation = datadog.translate_sketches(SketchPayload.FromString(payload.SerializeToString()), OPTIONS)
    samples = _samples(translation)
    base = {"host": "h", "env": "prod", "exported_quantile": "q"}
    assert samples[Labels({**base, "__name__": "req_time_sum"})] == [(100_000, 4.0)]
    assert samples[Labels({**base, "__name__": "req_time_count"})] == [(100_000, 4.0)]
    for q in ("0.5", "0.75", "0.9", "0.95", "0.99"):
        assert samples[Labels({**base, "__name__": "req_time", "quantile": q})] == [(100_000, 1.0)]
    assert translation.errors == ["sketches[0].dogsketches[1]: 2 keys but 1 counts", "sketches[1].metric: missing"]
    assert translation.rejected == {datadog.INVALID_SKETCH: 14}


@pytest.mark.parametrize("raw", [{"dots_to_underscores": "yes"}, {"extra_labels": ["a"]},
                                 {"extra_labels": {"bad-name": "x"}}, {"extra_labels": {"__x": "x"}},
                                 {"extra_labels": {"a": 1}}])
def test_options_are_checked(raw: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="datadog"):
        DatadogOptions(**raw)


def test_a_json_series_post_needs_the_write_role() -> None:
    assert required_role("POST", "/api/v1/series", "application/json") == "write"
    assert required_role("POST", "/api/v1/series", "application/x-www-form-urlencoded") == "read"
    assert required_role("GET", "/api/v1/series", "application/json") == "read"
