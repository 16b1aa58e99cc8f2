"""Hostile input to the HTTP API and the gRPC service: always a clear 4xx / INVALID_ARGUMENT, never a crash."""

from __future__ import annotations

from collections.abc import Iterator

import cramjam
import grpc
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.test_grpc import GrpcServer
from tests.server.test_http_api import Api
from tsdb.client import Client
from tsdb.labels import Labels
from tsdb.server.remote_write import encode_write_request
from tsdb.storage.memory import MemoryStore

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    store = MemoryStore()
    store.add(Labels({"__name__": "up", "job": "a"}), np.arange(0, 600_000, 15_000), np.ones(40))
    client = Api(store)
    yield client
    client.close()


@pytest.fixture(scope="module")
def grpc_client() -> Iterator[Client]:
    server = GrpcServer(MemoryStore())
    with Client(f"127.0.0.1:{server.port}", timeout_s=30) as client:
        yield client
    server.close()


params = st.dictionaries(
    st.sampled_from(["query", "time", "start", "end", "step", "timeout", "limit", "match[]"]),
    st.one_of(st.text(max_size=30), st.sampled_from(["up", "sum(up)", "1e308", "-1", "NaN", "0", "Inf", "1h",
                                                     "2015-07-01T20:10:51.781Z", "rate(up[5m])", "up{"])),
    max_size=6)


@FUZZ
@given(path=st.sampled_from(["/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels",
                             "/api/v1/label/job/values", "/api/v1/format_query", "/api/v1/query_exemplars"]),
       form=params, method=st.sampled_from(["GET", "POST"]))
def test_http_params_never_crash(api: Api, path: str, form: dict[str, str], method: str) -> None:
    kwargs = {"params": form} if method == "GET" else {"data": form}
    status, body, text = api.request(method, path, **kwargs)
    assert status in (200, 400, 422, 503), (status, text)
    assert body is not None and body["status"] in ("success", "error")
    if status != 200:
        assert body["errorType"] in ("bad_data", "execution", "timeout") and body["error"]


def _bodies() -> st.SearchStrategy[bytes]:
    valid = encode_write_request([(Labels({"__name__": "m"}), np.array([1]), np.array([1.0]))])
    return st.one_of(
        st.binary(max_size=200),
        st.binary(max_size=200).map(lambda b: bytes(cramjam.snappy.compress_raw(b))),
        st.integers(0, len(valid)).map(lambda n: bytes(cramjam.snappy.compress_raw(valid[:n]))),
        st.integers(1, 2**40).map(lambda n: bytes([0x80 | (n & 0x7F), 0x80 | ((n >> 7) & 0x7F), (n >> 14) & 0x7F])
                                  + b"\x00" * 8),
    )


@FUZZ
@given(body=_bodies())
def test_remote_write_bodies_never_crash(api: Api, body: bytes) -> None:
    status, _, text = api.request("POST", "/api/v1/write", data=body,
                                  headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"})
    assert status in (204, 400, 413), (status, text)
    if status == 400:
        assert text.strip()


@FUZZ
@given(payload=st.binary(max_size=300))
def test_grpc_write_never_crashes(grpc_client: Client, payload: bytes) -> None:
    try:
        result = grpc_client.write_raw(payload)
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
        assert err.details()
    else:
        assert result.accepted >= 0


@FUZZ
@given(query=st.text(max_size=40), time_ms=st.integers(-(2**40), 2**40))
def test_grpc_query_never_crashes(grpc_client: Client, query: str, time_ms: int) -> None:
    try:
        grpc_client.query(query, time_ms=time_ms)
    except grpc.RpcError as err:
        assert err.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION), err.details()
