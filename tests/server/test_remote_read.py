"""Remote read (``POST /api/v1/read``) over an in-memory store: both response types decoded with the
protobuf classes, frame CRCs checked, all four matcher kinds, inclusive ranges, external labels, limits,
and bad requests answered 400 naming what is wrong."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cramjam
import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given
from hypothesis import strategies as st

from tsdb.config import StorageOptions
from tsdb.labels import Labels
from tsdb.query.engine.engine import Engine
from tsdb.query.parser.parser import parse, parse_matchers
from tsdb.server import remote_read as rr
from tsdb.server.backend import Backend
from tsdb.server.http_api import HttpApi
from tsdb.server.pb.tsdb.v1 import remote_pb2 as pb
from tsdb.storage.chunks.xor import decode_chunk
from tsdb.storage.crc import crc32c
from tsdb.storage.db import DB
from tsdb.storage.interfaces import STALE_NAN
from tsdb.storage.memory import MemoryStore
from tsdb.storage.remote.frames import split_frames

TS = np.arange(0, 3_600_001, 10_000, dtype=np.int64)  # 361 samples: several chunks per series


def _store() -> MemoryStore:
    store = MemoryStore()
    for job, base in (("api", 1.0), ("db", 100.0), ("web", 1000.0)):
        store.add(Labels({"__name__": "requests_total", "job": job}), TS, base + np.arange(len(TS), dtype=np.float64))
    store.add(Labels({"__name__": "up", "job": "api"}), [0, 60_000, 120_000], [1.0, STALE_NAN, 0.0])
    return store


class ReadApi:
    """An in-process server on its own event loop; answers (status, headers, raw body)."""

    def __init__(self, store: MemoryStore, **backend_args: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.backend = Backend(queryable=store, appendable=store, engine=Engine(store), parse_matchers=parse_matchers,
                               format_query=lambda q: str(parse(q)), max_body_bytes=1 << 20, **backend_args)
        app = web.Application()
        app.add_routes(HttpApi(self.backend).routes())

        async def start() -> TestClient:  # type: ignore[type-arg]
            client = TestClient(TestServer(app))
            await client.start_server()
            return client

        self.client = self.loop.run_until_complete(start())

    def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
        async def go() -> tuple[int, dict[str, str], bytes]:
            response = await self.client.request(method, path, **kwargs)
            return response.status, dict(response.headers), await response.read()

        return self.loop.run_until_complete(go())

    def read(self, request: pb.ReadRequest | bytes) -> tuple[int, dict[str, str], bytes]:
        payload = request if isinstance(request, bytes) else bytes(
            cramjam.snappy.compress_raw(request.SerializeToString()))
        return self.request("POST", "/api/v1/read", data=payload, headers={
            "Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"})

    def close(self) -> None:
        self.loop.run_until_complete(self.client.close())
        self.loop.close()


@pytest.fixture
def api() -> Iterator[ReadApi]:
    client = ReadApi(_store())
    yield client
    client.close()


def _query(start: int, end: int, *matchers: tuple[int, str, str]) -> pb.Query:
    return pb.Query(start_timestamp_ms=start, end_timestamp_ms=end,
                    matchers=[pb.LabelMatcher(type=t, name=n, value=v) for t, n, v in matchers])


def _request(*queries: pb.Query, streamed: bool = False) -> pb.ReadRequest:
    kinds = [pb.ReadRequest.STREAMED_XOR_CHUNKS, pb.ReadRequest.SAMPLES] if streamed else []
    return pb.ReadRequest(queries=list(queries), accepted_response_types=kinds)


def _samples(api: ReadApi, request: pb.ReadRequest) -> list[list[tuple[dict[str, str], list[tuple[int, float]]]]]:
    status, headers, body = api.read(request)
    assert status == 200, body
    assert headers["Content-Type"] == "application/x-protobuf"
    assert headers["Content-Encoding"] == "snappy"
    response = pb.ReadResponse.FromString(bytes(cramjam.snappy.decompress_raw(body)))
    return [[({lb.name: lb.value for lb in ts.labels}, [(s.timestamp, s.value) for s in ts.samples])
             for ts in result.timeseries] for result in response.results]


def read_frames(body: bytes) -> list[pb.ChunkedReadResponse]:
    """Split a streamed remote-read answer into its messages, checking each frame's length and CRC32C."""
    return [pb.ChunkedReadResponse.FromString(m) for m in split_frames(body)]


def _expected(job: str, base: float, start: int, end: int) -> list[tuple[int, float]]:
    """The samples ``_store`` gave series ``job`` (values from ``base``) in ``[start, end]``."""
    ts = TS
    values = base + np.arange(len(ts), dtype=np.float64)
    keep = (ts >= start) & (ts <= end)
    return list(zip(ts[keep].tolist(), values[keep].tolist(), strict=True))


EQ, NEQ, RE, NRE = pb.LabelMatcher.EQ, pb.LabelMatcher.NEQ, pb.LabelMatcher.RE, pb.LabelMatcher.NRE
NAME = (EQ, "__name__", "requests_total")


def test_samples_all_matcher_kinds_and_inclusive_range(api: ReadApi) -> None:
    results = _samples(api, _request(
        _query(20_000, 50_000, NAME, (EQ, "job", "db")),
        _query(20_000, 50_000, NAME, (NEQ, "job", "db")),
        _query(0, 10_000, NAME, (RE, "job", "a.*|w.b")),
        _query(3_600_000, 3_600_000, NAME, (NRE, "job", "a.*")),
        _query(5_000_000, 6_000_000, NAME)))
    assert results[0] == [({"__name__": "requests_total", "job": "db"}, _expected("db", 100, 20_000, 50_000))]
    assert [lb["job"] for lb, _ in results[1]] == ["api", "web"]
    assert results[1][1][1] == _expected("web", 1000, 20_000, 50_000)
    assert [(lb["job"], s) for lb, s in results[2]] == [("api", [(0, 1.0), (10_000, 2.0)]),
                                                        ("web", [(0, 1000.0), (10_000, 1001.0)])]
    assert [(lb["job"], s) for lb, s in results[3]] == [("db", [(3_600_000, 460.0)]), ("web", [(3_600_000, 1360.0)])]
    assert results[4] == []


def test_samples_keep_stale_markers_bit_exact(api: ReadApi) -> None:
    [[(labels, samples)]] = _samples(api, _request(_query(0, 200_000, (EQ, "__name__", "up"))))
    assert labels == {"__name__": "up", "job": "api"}
    assert [t for t, _ in samples] == [0, 60_000, 120_000]
    assert np.float64(samples[1][1]).view(np.uint64) == np.float64(STALE_NAN).view(np.uint64)


def test_streamed_chunks_frames_crc_order_and_range(api: ReadApi) -> None:
    request = _request(_query(25_000, 3_000_000, NAME, (NEQ, "job", "api")),
                       _query(0, 200_000, (RE, "__name__", "up|requests_total"), (EQ, "job", "api")), streamed=True)
    status, headers, body = api.read(request)
    assert status == 200, body
    assert headers["Content-Type"] == "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse"
    assert "Content-Encoding" not in headers
    frames = read_frames(body)
    seen: list[tuple[int, str, list[tuple[int, float]]]] = []
    for message in frames:
        [series] = message.chunked_series
        labels = {lb.name: lb.value for lb in series.labels}
        assert [lb.name for lb in series.labels] == sorted(lb.name for lb in series.labels)
        samples: list[tuple[int, float]] = []
        previous_max = None
        for chunk in series.chunks:
            assert chunk.type == pb.Chunk.XOR
            ts, values = decode_chunk(chunk.data)
            assert (chunk.min_time_ms, chunk.max_time_ms) == (ts[0], ts[-1])
            assert previous_max is None or chunk.min_time_ms > previous_max  # in order, never overlapping
            previous_max = chunk.max_time_ms
            samples += list(zip(ts.tolist(), values.tolist(), strict=True))
        seen.append((message.query_index, labels["__name__"] + "/" + labels["job"], samples))
    assert [(q, name) for q, name, _ in seen] == [(0, "requests_total/db"), (0, "requests_total/web"),
                                                  (1, "requests_total/api"), (1, "up/api")]
    assert seen[0][2] == _expected("db", 100, 25_000, 3_000_000)  # trimmed to the range at both ends
    assert seen[2][2] == _expected("api", 1, 0, 200_000)
    assert [t for t, _ in seen[3][2]] == [0, 60_000, 120_000]


def test_streamed_series_split_across_frames_by_size() -> None:
    store = _store()
    request = _request(_query(0, 3_600_000, NAME, (EQ, "job", "web")), streamed=True)
    frames = read_frames(b"".join(rr.chunked_frames(store, request, {}, rr.ReadLimits(), max_bytes_in_frame=200)))
    assert len(frames) > 1
    chunks = [c for f in frames for c in f.chunked_series[0].chunks]
    samples = [s for c in chunks for s in zip(*(a.tolist() for a in decode_chunk(c.data)), strict=True)]
    assert samples == _expected("web", 1000, 0, 3_600_000)
    assert all(f.chunked_series[0].labels == frames[0].chunked_series[0].labels for f in frames)


def test_frame_layout() -> None:
    framed = rr.frame(b"x" * 300)
    assert framed[:2] == bytes([300 & 0x7F | 0x80, 300 >> 7])
    assert int.from_bytes(framed[2:6], "big") == crc32c(b"x" * 300)
    assert framed[6:] == b"x" * 300


def test_external_labels_added_and_matched() -> None:
    client = ReadApi(_store(), external_labels={"cluster": "eu", "job": "ignored"})
    try:
        [with_ext, foreign] = _samples(client, _request(
            _query(0, 0, NAME, (EQ, "cluster", "eu")), _query(0, 0, NAME, (EQ, "cluster", "us"))))
        assert [lb for lb, _ in with_ext] == [{"__name__": "requests_total", "cluster": "eu", "job": j}
                                              for j in ("api", "db", "web")]  # the series' own job wins
        assert foreign == []
        status, _, body = client.read(_request(_query(0, 0, NAME, (EQ, "cluster", "eu")), streamed=True))
        assert status == 200
        labels = [{lb.name: lb.value for lb in f.chunked_series[0].labels} for f in read_frames(body)]
        assert [lb["cluster"] for lb in labels] == ["eu"] * 3
    finally:
        client.close()


def test_limits_answer_400() -> None:
    client = ReadApi(_store(), max_samples=100, max_series=2)
    try:
        status, _, body = client.read(_request(_query(0, 3_600_000, NAME, (EQ, "job", "db"))))
        assert (status, body) == (400, b"exceeded sample limit (100)\n")
        status, _, body = client.read(_request(_query(0, 0, NAME), streamed=True))
        assert status == 400 and b"query.max_series" in body
    finally:
        client.close()


@pytest.mark.parametrize(("body", "expected"), [
    (b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", b"snappy"),
    (bytes(cramjam.snappy.compress_raw(b"\x0a\xff\xff")), b"invalid protobuf ReadRequest"),
    (b"", b"snappy"),  # as Prometheus: an empty body is not a snappy block
])
def test_bad_bodies_answer_400(api: ReadApi, body: bytes, expected: bytes) -> None:
    status, _, text = api.read(body)
    assert status == 400
    assert expected in text


def test_bad_matcher_and_response_type_answer_400(api: ReadApi) -> None:
    status, _, text = api.read(_request(_query(0, 1, NAME), _query(0, 1, (RE, "job", "a(b"))))
    assert status == 400
    assert b"query 1: bad matcher job=~'a(b'" in text
    status, _, text = api.read(pb.ReadRequest(queries=[_query(0, 1, NAME)], accepted_response_types=[7]))
    assert status == 400
    assert b"server does not support any of the requested response types: [7]" in text
    status, _, text = api.read(pb.ReadRequest(queries=[pb.Query(matchers=[pb.LabelMatcher(type=9, name="a")])]))
    assert status == 400 and b"unknown type 9" in text


def test_negotiation_takes_the_first_supported() -> None:
    assert rr.negotiate_response_type([]) == pb.ReadRequest.SAMPLES
    assert rr.negotiate_response_type([5, pb.ReadRequest.STREAMED_XOR_CHUNKS, 0]) == pb.ReadRequest.STREAMED_XOR_CHUNKS
    assert rr.negotiate_response_type([pb.ReadRequest.SAMPLES, 1]) == pb.ReadRequest.SAMPLES


@given(st.lists(st.tuples(st.integers(-(1 << 63), (1 << 63) - 1), st.floats(allow_nan=True, allow_infinity=True)),
                max_size=50))
def test_encode_samples_decodes_with_protobuf(samples: list[tuple[int, float]]) -> None:
    """Any timestamps (negative ones take 10-byte varints) and values, bit for bit."""
    ts = np.array([t for t, _ in samples], dtype=np.int64)
    values = np.array([v for _, v in samples] + [STALE_NAN, -0.0, 0.0], dtype=np.float64)
    ts = np.concatenate((ts, np.array([0, -1, 1 << 62], dtype=np.int64)))
    decoded = pb.TimeSeries.FromString(rr.encode_samples(ts, values)).samples
    assert [s.timestamp for s in decoded] == ts.tolist()
    got = np.array([s.value for s in decoded], dtype=np.float64)
    assert got.view(np.uint64).tolist() == values.view(np.uint64).tolist()


def test_blocks_and_head_read_as_one_series(tmp_path: Path) -> None:
    """Samples spread over several blocks and the head come back merged, in order, trimmed to the range."""
    options = StorageOptions(block_range_ms=10_000, retention_ms=10**12, wal_segment_bytes=64 << 10,
                             out_of_order_window_ms=0, tiers_enabled=False)
    with DB.open(tmp_path / "data", options) as db:
        for lo in range(0, 50_000, 5_000):
            app = db.appender()
            ts = np.arange(lo, lo + 5_000, 250, dtype=np.int64)
            for job in ("a", "b"):
                app.append(Labels({"__name__": "m", "job": job}), ts, ts.astype(np.float64) / 7)
            app.commit()
            db.maintain()
        assert len(db.blocks) >= 2 and db.head.num_series
        request = _request(_query(3_333, 47_777, (EQ, "__name__", "m"), (NEQ, "job", "a")), streamed=True)
        expected = [(t, t / 7) for t in range(3_500, 47_777, 250)]
        frames = read_frames(b"".join(rr.chunked_frames(db, request, {}, rr.ReadLimits())))
        assert [{lb.name: lb.value for lb in f.chunked_series[0].labels} for f in frames] == [{"__name__": "m",
                                                                                              "job": "b"}]
        chunks = frames[0].chunked_series[0].chunks
        assert all(a.max_time_ms < b.min_time_ms for a, b in itertools.pairwise(chunks))
        got = [s for c in chunks for s in zip(*(a.tolist() for a in decode_chunk(c.data)), strict=True)]
        assert got == expected
        body = rr.samples_response(db, _request(request.queries[0]), {}, rr.ReadLimits())
        [series] = pb.ReadResponse.FromString(bytes(cramjam.snappy.decompress_raw(body))).results[0].timeseries
        assert [(s.timestamp, s.value) for s in series.samples] == expected
        backwards = _request(_query(40_000, 10_000, (EQ, "__name__", "m")))
        assert pb.ReadResponse.FromString(bytes(cramjam.snappy.decompress_raw(
            rr.samples_response(db, backwards, {}, rr.ReadLimits())))).results[0].timeseries == []
