"""The gRPC service through the typed client (server on its own event loop thread, 127.0.0.1)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tsdb.client import Client
from tsdb.labels import Labels
from tsdb.query.engine.engine import Engine
from tsdb.query.parser.parser import parse, parse_matchers
from tsdb.server.backend import Backend
from tsdb.server.grpc_service import start_grpc_server
from tsdb.server.query_limits import QueryScheduler
from tsdb.server.remote_write import encode_write_request
from tsdb.server.write_limits import WriteLimiter
from tsdb.storage.memory import MemoryStore


class GrpcServer:
    def __init__(self, store: MemoryStore) -> None:
        self.loop = asyncio.new_event_loop()
        self.executor = ThreadPoolExecutor(2)
        backend = Backend(queryable=store, appendable=store, engine=Engine(store), parse_matchers=parse_matchers,
                          format_query=lambda q: str(parse(q)), max_body_bytes=1 << 20)
        self.backend = backend
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(
            start_grpc_server(backend, "127.0.0.1:0", self.executor, 4 << 20), self.loop)
        self.server, self.port = future.result(timeout=30)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(0), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.executor.shutdown()


@pytest.fixture
def client() -> Iterator[tuple[Client, MemoryStore, int]]:
    store = MemoryStore()
    server = GrpcServer(store)
    with Client(f"127.0.0.1:{server.port}", timeout_s=30) as c:
        yield c, store, server.port
    server.close()


def _series(job: str, n: int = 5) -> tuple[Labels, np.ndarray, np.ndarray]:
    return (Labels({"__name__": "m", "job": job}), np.arange(n, dtype=np.int64) * 15_000,
            np.arange(n, dtype=np.float64))


def test_write_query_series_labels(client: tuple[Client, MemoryStore, int]) -> None:
    c, _store, _ = client
    result = c.write([_series("a"), _series("b")])
    assert (result.accepted, result.rejected) == (10, 0)
    instant = c.query("m", time_ms=60_000)
    assert instant.result_type == "vector"
    assert [(s.labels["job"], s.values.tolist()) for s in instant.series] == [("a", [4.0]), ("b", [4.0])]
    ranged = c.query_range('sum(m)', 0, 60_000, 15_000)
    assert ranged.result_type == "matrix" and ranged.series[0].values.tolist() == [0, 2, 4, 6, 8]
    assert c.query("1+1", time_ms=4000).scalar == 2.0
    assert c.query('"hi"', time_ms=4000).string == "hi"
    assert c.series(['m{job="b"}']) == [Labels({"__name__": "m", "job": "b"})]
    assert c.series(["m"], limit=1) == [Labels({"__name__": "m", "job": "a"})]
    assert c.label_names() == ["__name__", "job"]
    assert c.label_values("job", match=['m{job="a"}']) == ["a"]


def test_rejections_are_reported_and_valid_kept(client: tuple[Client, MemoryStore, int]) -> None:
    c, _store, _ = client
    c.write([_series("a")])
    labels, _ts, _values = _series("a")
    result = c.write([(labels, np.array([1, 100_000]), np.array([5.0, 6.0]))])
    assert result.accepted == 1 and result.rejected == 1
    assert result.rejections["out_of_order"][0] == 1 and 'job="a"' in result.rejections["out_of_order"][1][0]


def test_write_stream(client: tuple[Client, MemoryStore, int]) -> None:
    c, _, _ = client
    payloads = iter([encode_write_request([_series(str(i))]) for i in range(5)])
    assert c.write_stream(payloads).accepted == 25


def test_invalid_requests_get_invalid_argument(client: tuple[Client, MemoryStore, int]) -> None:
    c, _, _ = client
    with pytest.raises(grpc.RpcError) as err:
        c.write_raw(b"\x0a\x05\x0a")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "length past the end" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        c.query("sum(")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as err:
        c.query_range("m", 10, 0, 1)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as err:
        c.query_range("m", 0, 10**9, 1)
    assert "11,000" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        c.series([])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_write_limiter_answers_resource_exhausted() -> None:
    store = MemoryStore()
    server = GrpcServer(store)
    refused: list[tuple[str, str]] = []
    limiter = WriteLimiter(max_requests=1, max_bytes=0)
    server.backend.write_limiter = limiter
    server.backend.on_write_refused = lambda protocol, reason: refused.append((protocol, reason))
    try:
        with Client(f"127.0.0.1:{server.port}", timeout_s=30) as c:
            held = limiter.admit(0)  # another request in flight
            assert not isinstance(held, str)
            with pytest.raises(grpc.RpcError) as err:
                c.write([_series("a")])
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "in flight" in err.value.details()
            held.release()
            assert c.write([_series("a")]).accepted == 5
    finally:
        server.close()
    assert refused == [("grpc", "too_many_requests")]
    assert (limiter.requests, limiter.bytes) == (0, 0)


def test_health_service(client: tuple[Client, MemoryStore, int]) -> None:
    _, _, port = client
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        response = stub.Check(health_pb2.HealthCheckRequest(service="tsdb.v1.TSDB"), timeout=10)
        assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_query_timeout_and_warnings(client: tuple[Client, MemoryStore, int]) -> None:
    c, store, _ = client
    ts = np.arange(0, 600_001, 15_000, dtype=np.int64)
    store.add(Labels({"__name__": "temperature_celsius"}), ts, np.linspace(20, 30, len(ts)))
    result = c.query("rate(temperature_celsius[5m])", 300_000)
    assert any("might not be a counter" in w for w in result.warnings)
    result = c.query_range("quantile(2, temperature_celsius)", 0, 60_000, 15_000)
    assert any("quantile value should be between 0 and 1" in w for w in result.warnings)
    for call in (lambda: c.query("sum(rate(temperature_celsius[5m]))", 300_000, query_timeout_s=1e-9),
                 lambda: c.query_range("sum(rate(temperature_celsius[5m]))", 0, 600_000, 15_000,
                                       query_timeout_s=1e-9)):
        with pytest.raises(grpc.RpcError) as err:
            call()
        assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert c.query("temperature_celsius", 300_000, query_timeout_s=30).series


def test_query_limits_answer_resource_exhausted() -> None:
    """gRPC queries share the query slots: with the one slot taken and no waiting place, a query is refused."""
    store = MemoryStore()
    store.add(*_series("a"))
    server = GrpcServer(store)
    refused: list[tuple[str, str]] = []
    queries = QueryScheduler(1, 0, 30, lambda protocol, reason: refused.append((protocol, reason)))
    server.backend.queries = queries
    release = threading.Event()
    try:
        held = asyncio.run_coroutine_threadsafe(queries.run("http", lambda _timeout: release.wait(10)), server.loop)
        deadline = time.monotonic() + 10
        while queries.running == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        with Client(f"127.0.0.1:{server.port}", timeout_s=30) as c:
            with pytest.raises(grpc.RpcError) as err:
                c.query("m", 60_000)
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "query.max_concurrency=1" in err.value.details()
            release.set()
            held.result(timeout=10)
            assert len(c.query("m", 60_000).series) == 1
    finally:
        release.set()
        server.close()
        queries.close()
    assert refused == [("grpc", "queue_full")]
