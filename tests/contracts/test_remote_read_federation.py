"""A real Prometheus (Debian's 2.42) reading ``tsdb serve`` through ``remote_read`` and scraping its
``/federate``: queries through that Prometheus answer exactly what tsdb holds.

``tsdb serve`` gets recent samples by remote write and has ``external_labels: {cluster: eu}``. The first
Prometheus has no data of its own, only ``remote_read`` with ``read_recent: true``: its answers to instant
and range queries equal tsdb's own answers (labels plus the external label, values, timestamps). The second
scrapes ``/federate`` with ``honor_labels: true``: it ends up with the latest sample of every ``job="node"``
series (not the one ended by a stale marker, not ``job="y"``), labels unchanged plus ``cluster``.

Differentially, a third Prometheus with the same samples and external labels answers the same remote-read
requests (both response types: the decoded series and samples must be equal; chunking may differ) and
serves a byte-identical ``/federate`` body.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cramjam
import numpy as np
import pytest

from tests.contracts.prometheus_peer import PrometheusPeer, SeriesData, http_get, remote_write
from tests.integration.serve import ServeProcess
from tests.needs import needs_binary
from tests.server.test_remote_read import read_frames
from tsdb.labels import Labels
from tsdb.server.pb.tsdb.v1 import remote_pb2 as pb
from tsdb.storage.chunks.xor import decode_chunk
from tsdb.storage.interfaces import STALE_NAN

# The Prometheus configurations are the ones docs/http-api.md shows ("Remote read and federation").
pytestmark = [pytest.mark.external, needs_binary("prometheus", package="prometheus")]

STEP_MS = 15_000
OFFSET_MS = 7  # samples off whole seconds: no query boundary falls on a sample (2.x and 3.x windows agree)


def _data(now_ms: int) -> tuple[SeriesData, int, int]:
    """Twenty minutes of samples ending about 20 s before ``now_ms``; (series, first ts, last ts)."""
    start = (now_ms - 20 * 60_000) // 60_000 * 60_000 + OFFSET_MS
    ts = np.arange(start, now_ms - 20_000, STEP_MS, dtype=np.int64)
    n = len(ts)
    rng = np.random.default_rng(7)
    series: SeriesData = [
        (Labels({"__name__": "requests_total", "job": "node", "instance": "a"}), ts, np.cumsum(rng.integers(0, 50, n))
         .astype(np.float64)),
        (Labels({"__name__": "requests_total", "job": "node", "instance": "b"}), ts,
         np.arange(n, dtype=np.float64) * 3),
        (Labels({"__name__": "temp_celsius", "job": "node", "zone": "north"}), ts, rng.normal(20, 5, n)),
        (Labels({"__name__": "temp_celsius", "job": "y", "zone": "south"}), ts, rng.normal(25, 5, n)),
        (Labels({"__name__": "gone", "job": "node"}), ts, np.where(np.arange(n) == n - 1, STALE_NAN, 1.0)),
    ]
    return series, int(ts[0]), int(ts[-1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, SeriesData, int, int, Path]]:
    base = tmp_path_factory.mktemp("remote-read")
    config = base / "tsdb.yml"
    config.write_text("external_labels:\n  cluster: eu\n")
    (base / "ours").mkdir()
    serve = ServeProcess(base / "ours" / "data", "--config", str(config), "--no-collect")
    try:
        series, first, last = _data(int(time.time() * 1000))
        remote_write(serve.url, "/api/v1/write", series)
        yield serve, series, first, last, base
    finally:
        serve.stop()


def _result(peer_or_serve: Any, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
    if isinstance(peer_or_serve, PrometheusPeer):
        status, body = peer_or_serve.get_json(path, params)
    else:
        status, body = peer_or_serve.get(path, **params)
    assert status == 200, body
    return sorted(body["data"]["result"], key=lambda r: json.dumps(r["metric"], sort_keys=True))


def test_prometheus_remote_read_answers_what_tsdb_holds(
        served: tuple[ServeProcess, SeriesData, int, int, Path]) -> None:
    serve, _, first, last, base = served
    config = (f"global:\n  scrape_interval: 1m\nremote_read:\n  - url: {serve.url}/api/v1/read\n"
              "    read_recent: true\n")
    with PrometheusPeer(base / "prom-read", config) as prom:
        start, end = str((first + 60_000) // 1000), str(last // 1000 + 30)
        rng = {"start": start, "end": end}
        # (endpoint, query through Prometheus, the same data queried from tsdb, external label added)
        cases = [
            ("/api/v1/query_range", {"query": "requests_total", **rng, "step": "20"}, "requests_total", True),
            ("/api/v1/query_range", {"query": "rate(requests_total[2m])", **rng, "step": "45"},
             "rate(requests_total[2m])", True),
            ("/api/v1/query_range", {"query": '{__name__=~"temp_.*", zone!="east", job!~"z.*"}', **rng, "step": "60"},
             '{__name__=~"temp_.*", zone!="east", job!~"z.*"}', True),
            ("/api/v1/query", {"query": 'temp_celsius{job="node"}', "time": end}, 'temp_celsius{job="node"}', True),
            ("/api/v1/query", {"query": "sum by (job) (requests_total)", "time": end},
             "sum by (job) (requests_total)", False),
            ("/api/v1/query", {"query": 'requests_total{cluster="eu"}', "time": end}, "requests_total", True),
            ("/api/v1/query", {"query": 'requests_total{cluster="us"}', "time": end}, "absent_nothing", False),
        ]
        for path, params, our_query, add_cluster in cases:
            ours = _result(serve, path, {**params, "query": our_query})
            theirs = _result(prom, path, params)
            if our_query != "absent_nothing":
                assert ours, f"{our_query}: tsdb has no data"
            if add_cluster:
                ours = sorted(({**r, "metric": {**r["metric"], "cluster": "eu"}} for r in ours),
                              key=lambda r: json.dumps(r["metric"], sort_keys=True))
            assert theirs == ours, params["query"]


def test_prometheus_federation_scrape(served: tuple[ServeProcess, SeriesData, int, int, Path]) -> None:
    serve, series, _, last, base = served
    config = ("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
              "  - job_name: federate\n    honor_labels: true\n    metrics_path: /federate\n"
              "    params:\n      'match[]': ['{job=\"node\"}']\n"
              f"    static_configs:\n      - targets: ['127.0.0.1:{serve.http_port}']\n")
    expected = {}
    for labels, ts, values in series:
        if labels["job"] == "node" and labels.metric_name != "gone":
            expected[json.dumps({**labels.to_dict(), "cluster": "eu"}, sort_keys=True)] = (int(ts[-1]), values[-1])
    with PrometheusPeer(base / "prom-federate", config) as prom:
        deadline = time.monotonic() + 60
        got: dict[str, tuple[int, float]] = {}
        at = {"time": str(last // 1000 + 5)}
        while time.monotonic() < deadline:  # a few scrapes
            if len(_result(prom, "/api/v1/query", {"query": '{job="node"}', **at})) >= len(expected):
                break
            time.sleep(0.5)
        values = _result(prom, "/api/v1/query", {"query": '{job="node"}', **at})
        stamps = _result(prom, "/api/v1/query", {"query": 'timestamp({job="node"})', **at})
        stamp_of = {json.dumps(r["metric"], sort_keys=True): r["value"][1] for r in stamps}  # timestamp() drops names
        for value in values:
            unnamed = json.dumps({k: v for k, v in value["metric"].items() if k != "__name__"}, sort_keys=True)
            got[json.dumps(value["metric"], sort_keys=True)] = (round(float(stamp_of[unnamed]) * 1000),
                                                                float(value["value"][1]))
        assert got == expected
        up = _result(prom, "/api/v1/query", {"query": "up", "time": str(time.time())})
        assert [r["value"][1] for r in up] == ["1"]


# -- differential: the same requests to Prometheus's own endpoints, fed the same samples ------------------

def _read(url: str, request: pb.ReadRequest) -> tuple[int, str, bytes]:
    body = bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
    req = urllib.request.Request(url + "/api/v1/read", data=body, method="POST", headers={
        "Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
        "X-Prometheus-Remote-Read-Version": "0.1.0"})
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return int(response.status), response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as err:
        return int(err.code), err.headers.get("Content-Type", ""), err.read()


Decoded = list[tuple[int, tuple[tuple[str, str], ...], list[tuple[int, int]]]]


def _decode(kind: int, body: bytes) -> Decoded:
    """(query index, labels, [(ts, value bits)]) per series, whatever the response type; for streamed
    answers also checks each frame's CRC32C and that a series' chunks are in order and never overlap."""
    out: Decoded = []
    if kind == pb.ReadRequest.SAMPLES:
        response = pb.ReadResponse.FromString(bytes(cramjam.snappy.decompress_raw(body)))
        for index, result in enumerate(response.results):
            for ts in result.timeseries:
                bits = np.array([s.value for s in ts.samples], dtype=np.float64).view(np.uint64).tolist()
                out.append((index, tuple((lb.name, lb.value) for lb in ts.labels),
                            list(zip([s.timestamp for s in ts.samples], bits, strict=True))))
        return out
    for frame in read_frames(body):
        for series in frame.chunked_series:
            labels = tuple((lb.name, lb.value) for lb in series.labels)
            samples: list[tuple[int, int]] = []
            for chunk in series.chunks:
                assert chunk.type == pb.Chunk.XOR
                ts, values = decode_chunk(chunk.data)
                assert (chunk.min_time_ms, chunk.max_time_ms) == (int(ts[0]), int(ts[-1]))
                samples += list(zip(ts.tolist(), values.view(np.uint64).tolist(), strict=True))
            if out and out[-1][:2] == (frame.query_index, labels):  # a series continued in the next frame
                out[-1][2].extend(samples)
            else:
                out.append((frame.query_index, labels, samples))
    for _, _, samples in out:
        assert [t for t, _ in samples] == sorted({t for t, _ in samples})
    return out


@pytest.fixture(scope="module")
def prometheus_with_same_data(served: tuple[ServeProcess, SeriesData, int, int, Path]) -> Iterator[PrometheusPeer]:
    _, series, _, _, base = served
    with PrometheusPeer(base / "prom-same", "global:\n  external_labels:\n    cluster: eu\n") as prom:
        prom.write(series)
        yield prom


def _matcher(kind: int, name: str, value: str) -> pb.LabelMatcher:
    return pb.LabelMatcher(type=kind, name=name, value=value)


@pytest.mark.parametrize("kind", [pb.ReadRequest.SAMPLES, pb.ReadRequest.STREAMED_XOR_CHUNKS])
def test_remote_read_answers_as_prometheus_does(served: tuple[ServeProcess, SeriesData, int, int, Path],
                                                prometheus_with_same_data: PrometheusPeer, kind: int) -> None:
    serve, _, first, last, _ = served
    eq, neq, re_, nre = pb.LabelMatcher.EQ, pb.LabelMatcher.NEQ, pb.LabelMatcher.RE, pb.LabelMatcher.NRE
    mid = (first + last) // 2
    queries = [
        pb.Query(start_timestamp_ms=first, end_timestamp_ms=last, matchers=[_matcher(eq, "job", "node")]),
        pb.Query(start_timestamp_ms=mid - 123_456, end_timestamp_ms=mid + 98_765,  # cuts chunks at both ends
                 matchers=[_matcher(re_, "__name__", "requests_.*|temp_celsius"), _matcher(neq, "instance", "b")]),
        pb.Query(start_timestamp_ms=first + STEP_MS, end_timestamp_ms=first + STEP_MS,  # one sample, inclusive
                 matchers=[_matcher(nre, "job", "node"), _matcher(eq, "cluster", "eu")]),
        pb.Query(start_timestamp_ms=first, end_timestamp_ms=last, matchers=[_matcher(eq, "cluster", "us"),
                                                                             _matcher(eq, "job", "node")]),
        pb.Query(start_timestamp_ms=last + 1, end_timestamp_ms=last + 60_000, matchers=[_matcher(eq, "job", "node")]),
    ]
    accepted = [kind] if kind == pb.ReadRequest.STREAMED_XOR_CHUNKS else []
    request = pb.ReadRequest(queries=queries, accepted_response_types=accepted)
    ours = _read(serve.url, request)
    theirs = _read(prometheus_with_same_data.url, request)
    assert (ours[0], ours[1]) == (theirs[0], theirs[1]) == (200, ours[1])
    decoded = _decode(kind, ours[2])
    assert decoded == _decode(kind, theirs[2])
    assert {index for index, _, _ in decoded} == {0, 1, 2}  # the others match nothing


def test_remote_read_errors_as_prometheus(served: tuple[ServeProcess, SeriesData, int, int, Path],
                                          prometheus_with_same_data: PrometheusPeer) -> None:
    serve, *_ = served
    for request in (pb.ReadRequest(queries=[pb.Query(matchers=[_matcher(pb.LabelMatcher.EQ, "job", "node")])],
                                   accepted_response_types=[5]),):
        ours, theirs = _read(serve.url, request), _read(prometheus_with_same_data.url, request)
        assert ours[0] == theirs[0] == 400


def test_federate_body_as_prometheus(served: tuple[ServeProcess, SeriesData, int, int, Path],
                                     prometheus_with_same_data: PrometheusPeer) -> None:
    serve, *_ = served
    for selectors in (['{job="node"}'], ["requests_total", '{zone=~"s.*"}'], ['{__name__=~"gone|temp_celsius"}']):
        query = "?" + urllib.parse.urlencode([("match[]", s) for s in selectors])
        status, ours = http_get(serve.url + "/federate" + query)
        their_status, theirs = http_get(prometheus_with_same_data.url + "/federate" + query)
        assert status == their_status == 200
        assert ours.count(b"\n") >= 2, ours
        assert ours.decode() == theirs.decode(), selectors
