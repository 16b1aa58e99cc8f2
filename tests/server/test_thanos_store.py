"""The Thanos StoreAPI of a running server, through stubs generated from protos/thanos over a real gRPC channel:
series equal to remote-read's and PromQL's, matchers (external labels too), time ranges, skip_chunks, label
APIs, Info, and clear errors for bad requests."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cramjam
import grpc
import numpy as np
import pytest

from tests.server.test_remote_read import read_frames
from tests.server_thread import ServerThread
from tsdb.client import Client
from tsdb.config import ServerConfig, StorageOptions
from tsdb.errors import QueryLimitError
from tsdb.labels import Labels
from tsdb.server.pb.thanos.info.infopb import rpc_pb2 as info_pb
from tsdb.server.pb.thanos.info.infopb import rpc_pb2_grpc as info_grpc
from tsdb.server.pb.thanos.store.storepb import rpc_pb2 as store_pb
from tsdb.server.pb.thanos.store.storepb import rpc_pb2_grpc as store_grpc
from tsdb.server.pb.thanos.store.storepb import types_pb2 as types_pb
from tsdb.server.pb.tsdb.v1 import remote_pb2
from tsdb.server.remote_read import ReadLimits
from tsdb.server.thanos_store import INT64_MAX, INT64_MIN, ThanosStore, raw_time_range
from tsdb.storage.chunks.xor import decode_chunk
from tsdb.storage.memory import MemoryStore

T0 = 1_700_000_000_000
STEP = 15_000
N = 400  # cpu series: several chunks each
EXTERNAL = {"shard": "1", "region": "eu"}
EQ, NEQ, RE, NRE = (types_pb.LabelMatcher.EQ, types_pb.LabelMatcher.NEQ, types_pb.LabelMatcher.RE,
                    types_pb.LabelMatcher.NRE)


def _data() -> list[tuple[Labels, np.ndarray, np.ndarray]]:
    ts = T0 + np.arange(N, dtype=np.int64) * STEP
    rng = np.random.default_rng(0)
    out = [(Labels({"__name__": "cpu", "job": job, "mode": mode}), ts, np.round(rng.random(N) * 100, 2))
           for job in ("api", "db") for mode in ("user", "system")]
    out.append((Labels({"__name__": "up", "job": "api"}), ts[:10], np.ones(10)))
    return out


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, grpc.Channel]]:
    tmp = tmp_path_factory.mktemp("thanos")
    config = ServerConfig(data_dir=str(tmp / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          external_labels=EXTERNAL, storage=StorageOptions(wal_fsync="never"))
    with ServerThread(config) as running:
        with Client(f"127.0.0.1:{running.server.grpc_port}", timeout_s=30) as client:
            assert client.write(_data()).rejected == 0
        channel = grpc.insecure_channel(f"127.0.0.1:{running.server.grpc_port}")
        try:
            yield running, channel
        finally:
            channel.close()


def _series(channel: grpc.Channel, *matchers: tuple[int, str, str], mint: int = T0, maxt: int = T0 + N * STEP,
            skip_chunks: bool = False) -> list[store_pb.SeriesResponse]:
    request = store_pb.SeriesRequest(min_time=mint, max_time=maxt, skip_chunks=skip_chunks,
                                     matchers=[types_pb.LabelMatcher(type=t, name=n, value=v) for t, n, v in matchers],
                                     aggregates=[store_pb.COUNT, store_pb.SUM])
    return list(store_grpc.StoreStub(channel).Series(request, timeout=30))


def _decoded(responses: list[store_pb.SeriesResponse]) -> dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]:
    out: dict[tuple[tuple[str, str], ...], list[tuple[int, float]]] = {}
    for response in responses:
        key = tuple((lb.name, lb.value) for lb in response.series.labels)
        assert key not in out, "a series was split over responses"
        samples: list[tuple[int, float]] = []
        for chunk in response.series.chunks:
            assert chunk.raw.type == types_pb.Chunk.XOR and not chunk.HasField("count")
            ts, values = decode_chunk(chunk.raw.data)
            assert (int(ts[0]), int(ts[-1])) == (chunk.min_time, chunk.max_time)
            samples += zip(ts.tolist(), values.tolist(), strict=True)
        out[key] = samples
    return out


def _remote_read(base: str, mint: int, maxt: int) -> dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]:
    query = remote_pb2.Query(start_timestamp_ms=mint, end_timestamp_ms=maxt, matchers=[
        remote_pb2.LabelMatcher(type=remote_pb2.LabelMatcher.RE, name="__name__", value=".+")])
    request = remote_pb2.ReadRequest(queries=[query],
                                     accepted_response_types=[remote_pb2.ReadRequest.STREAMED_XOR_CHUNKS])
    body = bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
    http = urllib.request.Request(base + "/api/v1/read", data=body, method="POST",
                                  headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"})
    with urllib.request.urlopen(http, timeout=60) as response:
        frames = read_frames(response.read())
    out: dict[tuple[tuple[str, str], ...], list[tuple[int, float]]] = {}
    for message in frames:
        for series in message.chunked_series:
            key = tuple((lb.name, lb.value) for lb in series.labels)
            for chunk in series.chunks:
                ts, values = decode_chunk(chunk.data)
                out.setdefault(key, []).extend(zip(ts.tolist(), values.tolist(), strict=True))
    return out


def _promql(base: str, query: str, time_ms: int) -> dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]:
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": query, "time": time_ms / 1000})
    with urllib.request.urlopen(url, timeout=60) as response:
        data: Any = json.loads(response.read())["data"]
    return {tuple(sorted(s["metric"].items())): [(round(float(t) * 1000), float(v)) for t, v in s["values"]]
            for s in data["result"]}


def test_series_equal_remote_read_and_promql(node: tuple[ServerThread, grpc.Channel]) -> None:
    running, channel = node
    base = f"http://127.0.0.1:{running.server.http_port}"
    maxt = T0 + N * STEP
    store = _decoded(_series(channel, (RE, "__name__", ".+")))
    assert len(store) == 5
    assert all(dict(key)["shard"] == "1" and dict(key)["region"] == "eu" for key in store)
    assert list(store) == sorted(store)  # sorted by labels, external labels included
    assert store == _remote_read(base, T0, maxt)
    # PromQL's range selector returns raw samples, without the external labels
    promql = _promql(base, f"{{__name__=~\".+\"}}[{N * STEP // 1000 + 60}s]", maxt)
    assert {tuple(kv for kv in key if kv[0] not in EXTERNAL): v for key, v in store.items()} == \
        {tuple(sorted(key)): v for key, v in promql.items()}
    cpu = store[(("__name__", "cpu"), ("job", "api"), ("mode", "user"), ("region", "eu"), ("shard", "1"))]
    assert len(cpu) == N
    assert len(_series(channel, (EQ, "__name__", "cpu"))[0].series.chunks) >= 2


def test_matchers_and_time_range(node: tuple[ServerThread, grpc.Channel]) -> None:
    _, channel = node

    def names(responses: list[store_pb.SeriesResponse]) -> list[tuple[str, str]]:
        labels = [{lb.name: lb.value for lb in r.series.labels} for r in responses]
        return sorted((lb["__name__"], lb["job"]) for lb in labels)

    assert names(_series(channel, (EQ, "job", "api"))) == [("cpu", "api"), ("cpu", "api"), ("up", "api")]
    assert names(_series(channel, (NEQ, "job", "api"))) == [("cpu", "db"), ("cpu", "db")]
    assert names(_series(channel, (RE, "__name__", "u.*"))) == [("up", "api")]
    assert len(_series(channel, (NRE, "mode", "user|system"))) == 1
    # matchers on external labels are decided by the node's external labels
    assert len(_series(channel, (EQ, "shard", "1"), (EQ, "__name__", "up"))) == 1
    assert _series(channel, (EQ, "shard", "2"), (EQ, "__name__", "up")) == []
    assert len(_series(channel, (RE, "region", "eu|us"), (EQ, "__name__", "up"))) == 1
    # inclusive time range, samples clipped to it
    window = _decoded(_series(channel, (EQ, "__name__", "cpu"), mint=T0 + 10 * STEP, maxt=T0 + 19 * STEP))
    assert all([t for t, _ in s] == [T0 + i * STEP for i in range(10, 20)] for s in window.values())
    assert _series(channel, (EQ, "__name__", "up"), mint=T0 + 10 * STEP, maxt=T0 + 20 * STEP) == []
    skipped = _series(channel, (EQ, "__name__", "cpu"), skip_chunks=True)
    assert len(skipped) == 4 and all(not r.series.chunks for r in skipped)


def test_label_apis(node: tuple[ServerThread, grpc.Channel]) -> None:
    _, channel = node
    stub = store_grpc.StoreStub(channel)
    names = stub.LabelNames(store_pb.LabelNamesRequest(start=T0, end=T0 + N * STEP), timeout=30).names
    assert list(names) == ["__name__", "job", "mode", "region", "shard"]
    assert list(stub.LabelNames(store_pb.LabelNamesRequest(), timeout=30).names) == list(names)
    up_only = [types_pb.LabelMatcher(type=EQ, name="__name__", value="up")]
    assert list(stub.LabelNames(store_pb.LabelNamesRequest(matchers=up_only), timeout=30).names) == \
        ["__name__", "job", "region", "shard"]
    assert list(stub.LabelNames(store_pb.LabelNamesRequest(limit=2), timeout=30).names) == ["__name__", "job"]

    def values(label: str, **kw: Any) -> list[str]:
        return list(stub.LabelValues(store_pb.LabelValuesRequest(label=label, **kw), timeout=30).values)

    assert values("job") == ["api", "db"]
    assert values("mode", matchers=[types_pb.LabelMatcher(type=EQ, name="job", value="db")]) == ["system", "user"]
    assert values("shard") == ["1"]
    assert values("job", matchers=[types_pb.LabelMatcher(type=EQ, name="shard", value="9")]) == []
    assert values("__name__", limit=1) == ["cpu"]
    assert values("job", start=T0 + 500 * STEP, end=T0 + 600 * STEP) == []


def test_info(node: tuple[ServerThread, grpc.Channel]) -> None:
    _, channel = node
    info = info_grpc.InfoStub(channel).Info(info_pb.InfoRequest(), timeout=30)
    assert info.ComponentType == "store"
    assert [[(lb.name, lb.value) for lb in s.labels] for s in info.label_sets] == [[("region", "eu"), ("shard", "1")]]
    assert (info.store.min_time, info.store.max_time) == (T0, INT64_MAX)


def test_bad_requests(node: tuple[ServerThread, grpc.Channel]) -> None:
    _, channel = node
    stub = store_grpc.StoreStub(channel)
    with pytest.raises(grpc.RpcError) as err:
        _series(channel, (EQ, "job", "api"), mint=10, maxt=5)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "min_time (10) is after max_time" in str(
        err.value.details())
    with pytest.raises(grpc.RpcError) as err:
        _series(channel, (RE, "job", "("))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "matcher 0" in str(err.value.details())
    with pytest.raises(grpc.RpcError) as err:
        _series(channel, (7, "job", "x"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "unknown type 7" in str(err.value.details())
    with pytest.raises(grpc.RpcError) as err:
        stub.LabelValues(store_pb.LabelValuesRequest(), timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "label name is required" in str(
        err.value.details())
    with pytest.raises(grpc.RpcError) as err:
        stub.LabelNames(store_pb.LabelNamesRequest(start=9, end=1), timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "start (9) is after end (1)" in str(
        err.value.details())


def test_empty_store_and_limits() -> None:
    """A node without data or external labels; past the series limit the answer is RESOURCE_EXHAUSTED."""
    store = MemoryStore()
    for i in range(3):
        store.add(Labels({"__name__": "m", "i": str(i)}), [T0], [1.0])
    with ThreadPoolExecutor(1) as executor:
        empty = ThanosStore(MemoryStore(), executor, lambda: {}, lambda: (INT64_MAX, INT64_MIN))
        info = asyncio.run(empty.info(info_pb.InfoRequest(), None))  # type: ignore[arg-type]
        assert (list(info.label_sets), info.store.min_time, info.store.max_time) == ([], INT64_MIN, INT64_MAX)
        limited = ThanosStore(store, executor, lambda: {}, lambda: (T0, T0), ReadLimits(max_series=2))
        request = store_pb.SeriesRequest(min_time=T0, max_time=T0, matchers=[
            types_pb.LabelMatcher(type=EQ, name="__name__", value="m")])
        with pytest.raises(QueryLimitError, match="series limit"):
            limited._series(request)
        assert len(ThanosStore(store, executor, lambda: {}, lambda: (T0, T0))._series(request)) == 3


class _Db:
    def __init__(self, blocks: list[tuple[int, int]], head: tuple[int, int]) -> None:
        self.blocks = [type("B", (), {"meta": type("M", (), {"min_time": a, "max_time": b})()})() for a, b in blocks]
        self.head = type("H", (), {"min_time": head[0], "max_time": head[1]})()


def test_raw_time_range() -> None:
    assert raw_time_range(_Db([], (INT64_MAX, INT64_MIN))) == (INT64_MAX, INT64_MIN)
    assert raw_time_range(_Db([(5, 10), (10, 20)], (INT64_MAX, INT64_MIN))) == (5, 20)
    assert raw_time_range(_Db([(5, 10)], (15, 30))) == (5, 30)


class _Failing(MemoryStore):
    def querier(self, mint: int, maxt: int) -> Any:
        raise RuntimeError("disk on fire")


def test_errors_map_to_grpc_status() -> None:
    """A query limit answers RESOURCE_EXHAUSTED, a storage fault INTERNAL naming it."""
    store = MemoryStore()
    for i in range(3):
        store.add(Labels({"__name__": "m", "i": str(i)}), [T0], [1.0])
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    executor = ThreadPoolExecutor(2)

    async def start() -> tuple[grpc.aio.Server, int]:
        server = grpc.aio.server()
        server.add_generic_rpc_handlers(
            ThanosStore(store, executor, lambda: {}, lambda: (T0, T0), ReadLimits(max_series=2)).handlers()[:1]
            + ThanosStore(_Failing(), executor, lambda: {"x": "1"}, lambda: (T0, T0)).handlers()[1:])
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        return server, port

    server, port = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.RpcError) as err:
                _series(channel, (EQ, "__name__", "m"))
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "series limit" in str(err.value.details())
            info = info_grpc.InfoStub(channel).Info(info_pb.InfoRequest(), timeout=30)
            assert [(lb.name, lb.value) for lb in info.label_sets[0].labels] == [("x", "1")]
        failing = ThanosStore(_Failing(), executor, lambda: {}, lambda: (T0, T0))
        with pytest.raises(RuntimeError, match="disk on fire"):
            failing._label_names(store_pb.LabelNamesRequest())
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(0), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        executor.shutdown()
