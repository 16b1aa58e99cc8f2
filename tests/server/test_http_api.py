"""The Prometheus HTTP API over an in-memory store and the real engine (in-process aiohttp server)."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tsdb.labels import Labels
from tsdb.query.engine.engine import Engine
from tsdb.query.parser.parser import parse, parse_matchers
from tsdb.server.backend import Backend
from tsdb.server.http_api import HttpApi
from tsdb.server.query_limits import QueryScheduler
from tsdb.server.remote_write import compress_snappy, encode_write_request
from tsdb.storage.memory import MemoryStore


class Api:
    """Runs requests against an in-process server on its own event loop."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.loop = asyncio.new_event_loop()
        backend = Backend(queryable=store, appendable=store, engine=Engine(store), parse_matchers=parse_matchers,
                          format_query=lambda q: str(parse(q)), max_body_bytes=1 << 20)
        app = web.Application()
        app.add_routes(HttpApi(backend).routes())

        async def start() -> TestClient:  # type: ignore[type-arg]
            client = TestClient(TestServer(app))
            await client.start_server()
            return client

        self.client = self.loop.run_until_complete(start())

    def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any, str]:
        async def go() -> tuple[int, Any, str]:
            response = await self.client.request(method, path, **kwargs)
            text = await response.text()
            try:
                body = json.loads(text)
            except ValueError:
                body = None
            return response.status, body, text

        return self.loop.run_until_complete(go())

    def close(self) -> None:
        self.loop.run_until_complete(self.client.close())
        self.loop.close()


@pytest.fixture
def api() -> Iterator[Api]:
    store = MemoryStore()
    for job, base in (("a", 1.0), ("b", 10.0)):
        ts = np.arange(0, 600_001, 15_000, dtype=np.int64)
        store.add(Labels({"__name__": "http_requests_total", "job": job}), ts, base * np.arange(len(ts)))
    store.add(Labels({"__name__": "up", "job": "a"}), [0, 300_000], [1.0, 1.0])
    client = Api(store)
    yield client
    client.close()


def test_instant_query_shape(api: Api) -> None:
    status, body, _ = api.request("GET", "/api/v1/query", params={"query": "up", "time": "300"})
    assert status == 200
    assert body == {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"__name__": "up", "job": "a"}, "value": [300, "1"]}]}}


def test_grafana_health_check(api: Api) -> None:
    status, body, _ = api.request("POST", "/api/v1/query", data={"query": "1+1", "time": "4"})
    assert status == 200
    assert body["data"] == {"resultType": "scalar", "result": [4, "2"]}


def test_range_query_and_rate(api: Api) -> None:
    status, body, _ = api.request("GET", "/api/v1/query_range", params={
        "query": 'rate(http_requests_total{job="b"}[1m])', "start": "120", "end": "240", "step": "60"})
    assert status == 200 and body["data"]["resultType"] == "matrix"
    (series,) = body["data"]["result"]
    assert series["metric"] == {"job": "b"}
    assert series["values"] == [[120, "0.6666666666666666"], [180, "0.6666666666666666"], [240, "0.6666666666666666"]]


def _floats(text: str) -> list[float]:
    return np.frombuffer(base64.b64decode(text), dtype="<f8").tolist()


def test_large_answers_are_gzipped_for_clients_that_accept_it(api: Api) -> None:
    params = {"query": "http_requests_total", "start": "0", "end": "3000", "step": "1"}
    plain, body, text = api.request("GET", "/api/v1/query_range", params=params,
                                    headers={"Accept-Encoding": "identity"})
    assert plain == 200 and len(text) > 16 * 1024

    async def raw(path: str, query: dict[str, str]) -> tuple[str, bytes]:
        response = await api.client.get(path, params=query, headers={"Accept-Encoding": "gzip, deflate"},
                                        auto_decompress=False)
        return response.headers.get("Content-Encoding", ""), await response.read()

    encoding, compressed = api.loop.run_until_complete(raw("/api/v1/query_range", params))
    assert encoding == "gzip" and len(compressed) < len(text) / 4
    assert json.loads(gzip.decompress(compressed)) == body
    encoding, small = api.loop.run_until_complete(raw("/api/v1/query", {"query": "up", "time": "1"}))
    assert encoding == "" and json.loads(small)["status"] == "success"  # small answers stay as they are
    encoding, columns = api.loop.run_until_complete(raw("/api/v1/query_range", {**params, "format": "columns"}))
    assert encoding == "" and json.loads(columns)["data"]["format"] == "columns"


def test_range_query_in_columns_matches_the_matrix(api: Api) -> None:
    """``format=columns``: one time axis, exact float64 values in base64, absent points listed."""
    params = {"query": 'rate(http_requests_total[1m]) or (up == 1) or vector(0) / 0', "start": "0", "end": "600",
              "step": "120"}
    _, matrix, _ = api.request("GET", "/api/v1/query_range", params=params)
    code, body, _ = api.request("GET", "/api/v1/query_range", params={**params, "format": "columns"})
    assert code == 200 and body["data"]["format"] == "columns" and body["data"]["resultType"] == "matrix"
    times = body["data"]["times"]
    assert times == [0, 120, 240, 360, 480, 600]
    columns = body["data"]["result"]
    assert [s["metric"] for s in columns] == [s["metric"] for s in matrix["data"]["result"]]
    for theirs, ours in zip(matrix["data"]["result"], columns, strict=True):
        values = _floats(ours["values"])
        absent = set(ours.get("absent", []))
        got = {times[i]: values[i] for i in range(len(times)) if i not in absent}
        assert got.keys() == {t for t, _ in theirs["values"]}
        for t, text in theirs["values"]:
            assert repr(got[t]) == repr(float(text))  # NaN and every digit
    # rate() has no point at 0; `up` (same labels but the name) only fills that step
    assert [s.get("absent") for s in columns] == [None, [1, 2, 3, 4, 5], [0], [0]]
    code, body, _ = api.request("GET", "/api/v1/query_range", params={"query": "2", "start": "0", "end": "60",
                                                                        "step": "30", "format": "columns"})
    assert body["data"]["result"] == [{"metric": {}, "values": body["data"]["result"][0]["values"]}]
    assert _floats(body["data"]["result"][0]["values"]) == [2.0, 2.0, 2.0]
    code, body, _ = api.request("GET", "/api/v1/query_range", params={**params, "format": "arrow"})
    assert code == 400 and body["error"] == 'invalid parameter "format": \'arrow\' is not one of prometheus, columns'


@pytest.mark.parametrize(
    ("params", "status", "error_type", "message"),
    [({"query": "sum(", "time": "1"}, 400, "bad_data", "unexpected end of input"),
     ({"query": "up", "time": "abc"}, 400, "bad_data", 'invalid parameter "time"'),
     ({"query": "", "time": "1"}, 400, "bad_data", "query must not be empty")],
)
def test_query_errors(api: Api, params: dict[str, str], status: int, error_type: str, message: str) -> None:
    code, body, _ = api.request("GET", "/api/v1/query", params=params)
    assert code == status and body["status"] == "error" and body["errorType"] == error_type
    assert message in body["error"]


@pytest.mark.parametrize(
    ("params", "message"),
    [({"start": "10", "end": "5", "step": "1"}, "end timestamp must not be before start time"),
     ({"start": "0", "end": "5", "step": "0"}, "zero or negative query resolution step widths"),
     ({"start": "0", "end": "100000", "step": "1"}, "exceeded maximum resolution of 11,000 points"),
     ({"start": "0", "end": "1", "step": "x"}, 'invalid parameter "step"')],
)
def test_range_parameter_errors(api: Api, params: dict[str, str], message: str) -> None:
    code, body, _ = api.request("GET", "/api/v1/query_range", params={"query": "up", **params})
    assert code == 400 and message in body["error"]


def test_series_labels_and_values(api: Api) -> None:
    code, body, _ = api.request("GET", "/api/v1/series", params=[("match[]", "up"), ("match[]", '{job="b"}')])
    assert code == 200 and body["data"] == [{"__name__": "http_requests_total", "job": "b"},
                                            {"__name__": "up", "job": "a"}]
    code, body, _ = api.request("GET", "/api/v1/series")
    assert code == 400 and body["error"] == "no match[] parameter provided"
    code, body, _ = api.request("GET", "/api/v1/labels")
    assert body["data"] == ["__name__", "job"]
    code, body, _ = api.request("GET", "/api/v1/label/job/values", params={"match[]": "up"})
    assert body["data"] == ["a"]
    code, body, _ = api.request("GET", "/api/v1/label/__name__/values", params={"limit": "1"})
    assert body["data"] == ["http_requests_total"] and body["warnings"]


def test_remote_write_paths(api: Api) -> None:
    labels = Labels({"__name__": "written", "job": "w"})
    body = compress_snappy(encode_write_request([(labels, np.array([1000, 2000]), np.array([1.0, 2.0]))]))
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}
    code, _, _ = api.request("POST", "/api/v1/write", data=body, headers=headers)
    assert code == 204
    assert api.store.raw(labels)[1].tolist() == [1.0, 2.0]
    code, _, text = api.request("POST", "/api/v1/write", data=body, headers=headers)
    assert code == 204  # identical resend: duplicates of equal value are no-ops
    stale = compress_snappy(encode_write_request([(labels, np.array([500]), np.array([9.0]))]))
    code, _, text = api.request("POST", "/api/v1/write", data=stale, headers=headers)
    assert code == 400 and "out_of_order" in text
    code, _, text = api.request("POST", "/api/v1/write", data=b"garbage", headers=headers)
    assert code == 400 and "snappy" in text
    code, _, _ = api.request("POST", "/api/v1/write", data=body, headers={"Content-Type": "text/plain"})
    assert code == 415
    code, _, _ = api.request("POST", "/api/v1/write", data=body, headers={**headers, "Content-Encoding": "gzip"})
    assert code == 415
    code, _, _ = api.request("POST", "/api/v1/write", data=b"x" * (2 << 20), headers=headers)
    assert code == 413


def test_status_and_misc_endpoints(api: Api) -> None:
    assert api.request("GET", "/api/v1/status/buildinfo")[1]["data"]["version"]
    assert "startTime" in api.request("GET", "/api/v1/status/runtimeinfo")[1]["data"]
    assert api.request("GET", "/api/v1/status/tsdb")[1]["status"] == "success"
    assert api.request("GET", "/api/v1/status/flags")[1]["data"] == {}  # a bare API without a server
    assert api.request("GET", "/api/v1/status/config")[1]["data"] == {"yaml": ""}
    assert api.request("GET", "/api/v1/rules")[1]["data"] == {"groups": []}
    assert api.request("GET", "/api/v1/alerts")[1]["data"] == {"alerts": []}
    assert api.request("GET", "/api/v1/metadata")[1]["data"] == {}
    assert api.request("GET", "/api/v1/query_exemplars", params={"query": "up", "start": "1.5",
                                                                "end": "2.000"})[1]["data"] == []
    assert api.request("GET", "/api/v1/format_query", params={"query": "sum(up)by(job)"})[1]["data"]
    assert api.request("GET", "/-/healthy")[0] == 200 and api.request("GET", "/-/ready")[0] == 200


def test_max_source_resolution_parameter(api: Api) -> None:
    for value in ("raw", "5m", "1h", "auto"):
        status, body, _ = api.request("GET", "/api/v1/query", params={
            "query": "up", "time": "300", "max_source_resolution": value})
        assert status == 200 and len(body["data"]["result"]) == 1
    status, body, _ = api.request("GET", "/api/v1/query_range", params={
        "query": "up", "start": "0", "end": "300", "step": "60", "max_source_resolution": "2m"})
    assert status == 400 and body["errorType"] == "bad_data"
    assert 'invalid parameter "max_source_resolution"' in body["error"]


def test_points_limit_is_prometheus_s(api: Api) -> None:
    """(end - start) / step may be 11,000 exactly, as in Prometheus (11,001 points); one more step is refused."""
    ok, body, _ = api.request("GET", "/api/v1/query_range", params={"query": "1", "start": "0", "end": "11000",
                                                                     "step": "1"})
    assert ok == 200 and len(body["data"]["result"][0]["values"]) == 11_001
    refused, body, _ = api.request("GET", "/api/v1/query_range", params={"query": "1", "start": "0",
                                                                          "end": "11001", "step": "1"})
    assert refused == 400 and "11,000" in body["error"]


def test_timeout_parameter_cancels_the_query(api: Api) -> None:
    for path, extra in (("/api/v1/query", {"time": "600"}), ("/api/v1/query_range", {"start": "0", "end": "600",
                                                                                      "step": "15"})):
        status, body, _ = api.request("GET", path, params={"query": "sum(rate(http_requests_total[5m]))",
                                                           "timeout": "0s", **extra})
        assert status == 503 and body["errorType"] == "timeout", body
        status, _, _ = api.request("GET", path, params={"query": "up", "timeout": "30s", **extra})
        assert status == 200
    status, body, _ = api.request("GET", "/api/v1/query", params={"query": "up", "timeout": "soon"})
    assert status == 400 and 'invalid parameter "timeout"' in body["error"]


def test_warnings_and_infos_reach_the_client(api: Api) -> None:
    ts = np.arange(0, 600_001, 15_000, dtype=np.int64)
    api.store.add(Labels({"__name__": "temperature_celsius"}), ts, np.linspace(20, 30, len(ts)))
    status, body, _ = api.request("GET", "/api/v1/query", params={"query": "rate(temperature_celsius[5m])",
                                                                  "time": "300"})
    assert status == 200 and any("might not be a counter" in i for i in body["infos"]), body
    status, body, _ = api.request("GET", "/api/v1/query_range", params={
        "query": 'quantile(2, http_requests_total)', "start": "0", "end": "60", "step": "15"})
    assert status == 200 and any("quantile value should be between 0 and 1" in w for w in body["warnings"]), body


def test_query_concurrency_is_bounded() -> None:
    """With two query slots, six simultaneous queries are evaluated at most two at a time, and all answer."""
    import threading
    import time as _time

    store = MemoryStore()
    store.add(Labels({"__name__": "up", "job": "a"}), [0, 300_000], [1.0, 1.0])
    engine = Engine(store)
    state = {"now": 0, "max": 0}
    lock = threading.Lock()

    class Instrumented:
        """The real engine, recording how many evaluations overlap."""

        def __getattr__(self, name: str) -> Any:
            return getattr(engine, name)

        def instant_annotated(self, *args: Any) -> Any:
            assert threading.current_thread().name.startswith("tsdb-query")  # not the API's threads
            with lock:
                state["now"] += 1
                state["max"] = max(state["max"], state["now"])
            try:
                _time.sleep(0.05)
                return engine.instant_annotated(*args)
            finally:
                with lock:
                    state["now"] -= 1

    loop = asyncio.new_event_loop()
    backend = Backend(queryable=store, appendable=store, engine=Instrumented(),  # type: ignore[arg-type]
                      parse_matchers=parse_matchers, format_query=lambda q: str(parse(q)),
                      queries=QueryScheduler(2, 10, 30))
    app = web.Application()
    app.add_routes(HttpApi(backend).routes())

    async def scenario() -> list[int]:
        client = TestClient(TestServer(app))
        await client.start_server()
        try:
            async def one() -> int:
                response = await client.get("/api/v1/query", params={"query": "up", "time": "300"})
                return response.status
            return list(await asyncio.gather(*(one() for _ in range(6))))
        finally:
            await client.close()

    try:
        assert loop.run_until_complete(scenario()) == [200] * 6
    finally:
        loop.close()
        assert backend.queries is not None
        backend.queries.close()
    assert state["max"] == 2


def test_queries_past_the_queue_are_refused_with_503() -> None:
    """One slot, one waiting place: past two simultaneous slow queries the next ones are refused at once (503,
    ``unavailable``, naming the limits), whatever their timeout; the first two answer."""
    import threading

    store = MemoryStore()
    store.add(Labels({"__name__": "up", "job": "a"}), [0, 300_000], [1.0, 1.0])
    engine = Engine(store)
    release = threading.Event()

    class Slow:
        """The real engine, each evaluation held until ``release`` is set (at most 10 s)."""

        def __getattr__(self, name: str) -> Any:
            return getattr(engine, name)

        def instant_annotated(self, *args: Any) -> Any:
            release.wait(10)
            return engine.instant_annotated(*args)

    refused: list[tuple[str, str]] = []
    queries = QueryScheduler(1, 1, 30, lambda protocol, reason: refused.append((protocol, reason)))
    backend = Backend(queryable=store, appendable=store, engine=Slow(),  # type: ignore[arg-type]
                      parse_matchers=parse_matchers, format_query=lambda q: str(parse(q)), queries=queries)
    app = web.Application()
    app.add_routes(HttpApi(backend).routes())
    loop = asyncio.new_event_loop()

    async def scenario() -> list[tuple[int, Any]]:
        client = TestClient(TestServer(app))
        await client.start_server()
        try:
            async def one(timeout: str) -> tuple[int, Any]:
                response = await client.get("/api/v1/query", params={"query": "up", "time": "300",
                                                                     "timeout": timeout})
                return response.status, await response.json()

            first = asyncio.ensure_future(one("30"))
            await asyncio.sleep(0.2)
            second = asyncio.ensure_future(one("30"))
            await asyncio.sleep(0.2)
            third = await one("30")  # the queue is full
            answers = [third, await one("0.2")]
            release.set()
            return [*answers, await first, await second]
        finally:
            release.set()
            await client.close()

    try:
        third, fourth, first, second = loop.run_until_complete(scenario())
    finally:
        loop.close()
        queries.close()
    assert first[0] == second[0] == 200
    assert third[0] == 503 and third[1]["errorType"] == "unavailable"
    assert "query.max_concurrency=1" in third[1]["error"] and "query.max_queue=1" in third[1]["error"]
    assert fourth[0] == 503
    assert refused == [("http", "queue_full"), ("http", "queue_full")]


def test_a_catastrophic_regex_answers_at_once() -> None:
    """``(a+)+b`` against a 40-character label value would take a backtracking engine about 2**40 steps."""
    store = MemoryStore()
    store.add(Labels({"__name__": "probe", "path": "a" * 40 + "c"}), [0], [1.0])
    client = Api(store)
    try:
        status, body, _ = client.request("GET", "/api/v1/query", params={"query": 'probe{path=~"(a+)+b"}', "time": "1"})
        assert status == 200 and body["data"]["result"] == []
        status, body, _ = client.request("GET", "/api/v1/query", params={
            "query": 'label_replace(probe, "x", "$1", "path", "((a+)+)c")', "time": "1"})
        assert status == 200 and body["data"]["result"][0]["metric"]["x"] == "a" * 40
    finally:
        client.close()
