"""The store client and the global querier against stores served over HTTP: both remote-read answer
types, label and series endpoints, authentication, failing stores as warnings or errors, dedup."""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pytest

from tests.storage.remote.store_server import StoreServer, memory_store
from tsdb.config import Authorization, BasicAuth, StoreSpec, StoreTls
from tsdb.labels import Labels, Matcher, MatchType
from tsdb.storage.interfaces import STALE_NAN_BITS, FlatSeries, SelectHints
from tsdb.storage.remote.client import StoreClient, StoreUnavailableError, decode_samples, selector_text
from tsdb.storage.remote.querier import GlobalQueryable

TS = list(range(0, 3_600_000, 10_000))  # 360 samples: several chunks per series
NAME = Matcher(MatchType.EQUAL, "__name__", "requests_total")


def _series(job: str, base: float) -> tuple[dict[str, str], list[int], list[float]]:
    return {"__name__": "requests_total", "job": job}, TS, [base + i for i in range(len(TS))]


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[StoreServer, StoreServer]]:
    stale = np.array([STALE_NAN_BITS], np.uint64).view(np.float64)[0]
    first = StoreServer(memory_store(_series("api", 1.0), ({"__name__": "up", "job": "api"}, [0, 60_000],
                                                           [1.0, stale])))
    second = StoreServer(memory_store(_series("db", 100.0)), external_labels={"replica": "b"})
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def _client(url: str, timeout_s: float = 60, **spec: object) -> StoreClient:
    seen: list[tuple[str, str, float]] = []
    client = StoreClient(StoreSpec(url, name=url, **spec), timeout_s,  # type: ignore[arg-type]
                         lambda *a: seen.append(a))
    client.seen = seen  # type: ignore[attr-defined]
    return client


def _pairs(flat: FlatSeries) -> dict[Labels, list[tuple[int, float]]]:
    return {lb: list(zip(flat.ts[flat.offsets[i]:flat.offsets[i + 1]].tolist(),
                         flat.values[flat.offsets[i]:flat.offsets[i + 1]].tolist(), strict=True))
            for i, lb in enumerate(flat.labels)}


def test_streamed_and_samples_answers_agree(servers: tuple[StoreServer, StoreServer]) -> None:
    first, _ = servers
    streamed = _client(first.url)
    flat = streamed.read([NAME], 5_000, 1_000_000, SelectHints(step_ms=60_000, func="rate", range_ms=120_000))
    expected = [(t, 1.0 + i) for i, t in enumerate(TS) if 5_000 <= t <= 1_000_000]
    assert _pairs(flat) == {Labels({"__name__": "requests_total", "job": "api"}): expected}
    samples = _client(first.url + "/samples").read([NAME], 5_000, 1_000_000)
    assert _pairs(samples) == _pairs(flat)
    assert streamed.seen[0][:2] == (first.url, "success")  # type: ignore[attr-defined]
    up = streamed.read([Matcher(MatchType.EQUAL, "__name__", "up")], 0, 100_000)
    assert up.values.view(np.uint64)[1] == STALE_NAN_BITS  # the stale marker travels bit-exact


def test_label_and_series_endpoints(servers: tuple[StoreServer, StoreServer]) -> None:
    first, _ = servers
    client = _client(first.url)
    assert client.label_names([], 0, 3_600_000) == (["__name__", "job"], [])
    assert client.label_values("__name__", [], -(10 ** 15), 10 ** 15) == (["requests_total", "up"], [])
    series, _ = client.series([Matcher(MatchType.REGEX, "job", "a.*")], 0, 3_600_000)
    assert series == [Labels({"__name__": "requests_total", "job": "api"}), Labels({"__name__": "up", "job": "api"})]
    assert selector_text([Matcher(MatchType.NOT_REGEX, "a", 'x"y')]) == '{a!~"x\\"y"}'


@pytest.mark.parametrize(("prefix", "message"), [
    ("/broken", "answered 500: disk on fire"),
    ("/garbage", "invalid remote-read answer"),
    ("/slow", "timed out"),
    ("/auth", "answered 401"),
])
def test_failures_name_the_store(servers: tuple[StoreServer, StoreServer], prefix: str, message: str) -> None:
    client = _client(servers[0].url + prefix, timeout_s=0.5)
    pattern = re.escape(f"store {servers[0].url}{prefix} failed: ") + f".*{message}"
    with pytest.raises(StoreUnavailableError, match=pattern):
        client.read([NAME], 0, 1000)
    assert client.seen[-1][1] == "error"  # type: ignore[attr-defined]


def test_bad_json_and_unreachable(servers: tuple[StoreServer, StoreServer]) -> None:
    with pytest.raises(StoreUnavailableError, match="invalid answer from /api/v1/labels"):
        _client(servers[0].url + "/badjson").label_names([], 0, 1)
    with pytest.raises(StoreUnavailableError, match=re.escape("store http://127.0.0.1:1 failed")):
        _client("http://127.0.0.1:1", timeout_s=2).read([NAME], 0, 1)


def test_credentials_sent(servers: tuple[StoreServer, StoreServer]) -> None:
    url = servers[0].url
    bearer = _client(url + "/auth", authorization=Authorization("t0ken"))
    assert len(bearer.read([NAME], 0, 100_000).labels) == 1
    basic = _client(url + "/basic", basic_auth=BasicAuth("u", "p"))
    assert basic.label_names([], 0, 100_000)[0] == ["__name__", "job"]
    tls = StoreClient(StoreSpec("https://127.0.0.1:1", tls_config=StoreTls(insecure_skip_verify=True)), 1)
    with pytest.raises(StoreUnavailableError):
        tls.read([NAME], 0, 1)


def test_decode_samples_repairs_order() -> None:
    import cramjam

    from tsdb.server.pb.tsdb.v1 import remote_pb2 as pb

    def series(job: str, ts: list[int]) -> pb.TimeSeries:
        return pb.TimeSeries(labels=[pb.Label(name="job", value=job)],
                             samples=[pb.Sample(timestamp=t, value=float(t)) for t in ts])
    response = pb.ReadResponse(results=[pb.QueryResult(timeseries=[series("b", [3, 1, 1]), series("a", [5])])])
    flat = decode_samples(bytes(cramjam.snappy.compress_raw(response.SerializeToString())))
    assert _pairs(flat) == {Labels({"job": "a"}): [(5, 5.0)], Labels({"job": "b"}): [(1, 1.0), (3, 3.0)]}


def test_global_view_merges_local_and_stores(servers: tuple[StoreServer, StoreServer]) -> None:
    first, second = servers
    local = memory_store(_series("web", 1000.0), ({"__name__": "requests_total", "job": "db", "replica": "a"},
                                                   TS[:100], [100.0 + i for i in range(100)]))
    view = GlobalQueryable(local, [_client(first.url), _client(second.url)], replica_labels=["replica"])
    try:
        querier = view.querier(0, 3_600_000)
        try:
            got = {s.labels: s.samples() for s in querier.select([NAME])}
            assert sorted(lb["job"] for lb in got) == ["api", "db", "web"]
            db = got[Labels({"__name__": "requests_total", "job": "db"})]
            # replica a (local) until its end, then b after the penalty of two intervals: two samples skipped
            kept = list(range(100)) + list(range(102, len(TS)))
            assert db[0].tolist() == [TS[i] for i in kept] and db[1].tolist() == [100.0 + i for i in kept]
            assert querier.label_names() == ["__name__", "job"]
            assert querier.label_values("job") == ["api", "db", "web"]
            assert querier.label_values("replica") == []
            assert querier.series([NAME]) == sorted(got)
            assert querier.warnings == []
        finally:
            querier.close()
            querier.close()
    finally:
        view.close()


def test_failed_store_is_a_warning_or_an_error(servers: tuple[StoreServer, StoreServer]) -> None:
    first, _ = servers
    broken = _client(first.url + "/broken")
    partial = GlobalQueryable(None, [_client(first.url), broken])
    strict = GlobalQueryable(None, [_client(first.url), broken], partial_response=False)
    try:
        querier = partial.querier(0, 3_600_000)
        assert len(list(querier.select([NAME]))) == 1
        assert querier.label_names() == ["__name__", "job"]
        assert querier.warnings == [f"partial response: store {first.url}/broken failed: /api/v1/read answered "
                                    "500: disk on fire",
                                    f"partial response: store {first.url}/broken failed: /api/v1/labels answered "
                                    "500: disk on fire"]
        querier.close()
        querier = strict.querier(0, 3_600_000)
        with pytest.raises(StoreUnavailableError, match="/broken failed"):
            querier.label_values("job")
        querier.close()
    finally:
        partial.close()
        strict.close()


def test_decode_streamed_joins_continued_series_and_refuses_other_encodings() -> None:
    from tsdb.server.pb.tsdb.v1 import remote_pb2 as pb
    from tsdb.storage.chunks.xor import encode_chunk
    from tsdb.storage.remote.client import decode_streamed
    from tsdb.storage.remote.frames import frame

    labels = [pb.Label(name="job", value="a")]

    def message(ts: list[int], kind: int = pb.Chunk.XOR) -> bytes:
        data = encode_chunk(np.asarray(ts, np.int64), np.asarray(ts, np.float64))
        response = pb.ChunkedReadResponse()
        response.chunked_series.add(labels=labels, chunks=[pb.Chunk(min_time_ms=ts[0], max_time_ms=ts[-1],
                                                                     type=kind, data=data)])
        return frame(response.SerializeToString())

    flat = decode_streamed(message([1, 2]) + message([3, 4]), "s")
    assert _pairs(flat) == {Labels({"job": "a"}): [(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0)]}
    assert decode_streamed(b"", "s").labels == []
    with pytest.raises(StoreUnavailableError, match="store s failed: unsupported chunk encoding 2"):
        decode_streamed(message([1], pb.Chunk.HISTOGRAM), "s")
