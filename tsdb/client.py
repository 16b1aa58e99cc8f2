"""A small typed gRPC client for a tsdb server (used by tests, the REPL and the benchmarks).

Writes take label sets with numpy arrays and send them as remote-write ``WriteRequest`` bytes; query
results come back as :class:`tsdb.query.result.QueryResult` (series of numpy arrays).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import numpy as np
import numpy.typing as npt

from tsdb.labels import Labels
from tsdb.query.result import QueryResult, ResultSeries
from tsdb.server.pb.tsdb.v1 import tsdb_pb2
from tsdb.server.remote_write import encode_write_request

SeriesSamples = tuple[Labels, npt.NDArray[np.int64], npt.NDArray[np.float64]]


@dataclass
class WriteResult:
    """Accepted and rejected sample counts; ``rejections`` maps reason -> (count, examples)."""

    accepted: int
    rejected: int
    rejections: dict[str, tuple[int, list[str]]] = field(default_factory=dict)


def _write_result(response: tsdb_pb2.WriteResponse) -> WriteResult:
    return WriteResult(response.accepted, response.rejected,
                       {r.reason: (r.count, list(r.examples)) for r in response.rejections})


def _labels(pb_labels: Iterable[object]) -> Labels:
    return Labels([(lb.name, lb.value) for lb in pb_labels])  # type: ignore[attr-defined]


def _read(path: str) -> bytes | None:
    if not path:
        return None
    with open(path, "rb") as f:
        return f.read()


class Client:
    """A blocking gRPC client; use as a context manager or call :meth:`close`."""

    def __init__(self, address: str = "127.0.0.1:9202", timeout_s: float = 30.0,
                 max_message_bytes: int = 64 << 20, compression: bool = False, *, tls_ca: str = "",
                 cert: str = "", key: str = "", username: str = "", password: str = "") -> None:
        """``compression``: gzip every request (the server accepts it transparently). TLS when ``tls_ca``
        (the CA file that signed the server's certificate) or ``cert``/``key`` (a client certificate for
        mTLS) are given; ``username``/``password`` are sent as basic auth (docs/security.md)."""
        self.timeout_s = timeout_s
        options = [("grpc.max_receive_message_length", max_message_bytes),
                   ("grpc.max_send_message_length", max_message_bytes)]
        gzip = grpc.Compression.Gzip if compression else None
        if tls_ca or cert:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(tls_ca), private_key=_read(key), certificate_chain=_read(cert))
            self._channel = grpc.secure_channel(address, credentials, options=options, compression=gzip)
        else:
            self._channel = grpc.insecure_channel(address, options=options, compression=gzip)
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._metadata = [("authorization", f"Basic {token}")] if username else None
        self._write = self._channel.unary_unary("/tsdb.v1.TSDB/Write", request_serializer=None,
                                                response_deserializer=tsdb_pb2.WriteResponse.FromString)
        self._write_stream = self._channel.stream_unary(
            "/tsdb.v1.TSDB/WriteStream", request_serializer=None,
            response_deserializer=tsdb_pb2.WriteResponse.FromString)
        self._query = self._channel.unary_unary("/tsdb.v1.TSDB/Query",
                                                request_serializer=tsdb_pb2.QueryRequest.SerializeToString,
                                                response_deserializer=tsdb_pb2.QueryResponse.FromString)
        self._query_range = self._channel.unary_unary(
            "/tsdb.v1.TSDB/QueryRange", request_serializer=tsdb_pb2.QueryRangeRequest.SerializeToString,
            response_deserializer=tsdb_pb2.QueryResponse.FromString)
        self._series = self._channel.unary_unary("/tsdb.v1.TSDB/Series",
                                                 request_serializer=tsdb_pb2.SeriesRequest.SerializeToString,
                                                 response_deserializer=tsdb_pb2.SeriesResponse.FromString)
        self._label_names = self._channel.unary_unary(
            "/tsdb.v1.TSDB/LabelNames", request_serializer=tsdb_pb2.LabelNamesRequest.SerializeToString,
            response_deserializer=tsdb_pb2.LabelNamesResponse.FromString)
        self._label_values = self._channel.unary_unary(
            "/tsdb.v1.TSDB/LabelValues", request_serializer=tsdb_pb2.LabelValuesRequest.SerializeToString,
            response_deserializer=tsdb_pb2.LabelValuesResponse.FromString)

    @property
    def _call(self) -> dict[str, Any]:
        """Per-call options: the deadline and the basic auth metadata."""
        return {"timeout": self.timeout_s, "metadata": self._metadata}

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def write(self, series: Sequence[SeriesSamples]) -> WriteResult:
        """Write samples of several series in one request."""
        return _write_result(self._write(encode_write_request(list(series)), **self._call))

    def write_raw(self, payload: bytes) -> WriteResult:
        """Write an already encoded (uncompressed) WriteRequest."""
        return _write_result(self._write(payload, **self._call))

    def write_stream(self, payloads: Iterator[bytes]) -> WriteResult:
        """Send many encoded WriteRequests on one stream."""
        return _write_result(self._write_stream(payloads, **self._call))

    def query(self, query: str, time_ms: int = 0, query_timeout_s: float = 0) -> QueryResult:
        """Evaluate at ``time_ms`` (0 = now); ``query_timeout_s`` (0 = the server's) cancels the query on the
        server when it runs longer. The result's ``warnings`` carry the engine's warnings and infos."""
        return self._result(self._query(tsdb_pb2.QueryRequest(query=query, time_ms=time_ms,
                                                              timeout_s=query_timeout_s), **self._call))

    def query_range(self, query: str, start_ms: int, end_ms: int, step_ms: int,
                    query_timeout_s: float = 0) -> QueryResult:
        """A range query; ``query_timeout_s`` and warnings as for :meth:`query`."""
        request = tsdb_pb2.QueryRangeRequest(query=query, start_ms=start_ms, end_ms=end_ms, step_ms=step_ms,
                                             timeout_s=query_timeout_s)
        return self._result(self._query_range(request, **self._call))

    def series(self, match: Sequence[str], start_ms: int = 0, end_ms: int = 0, limit: int = 0) -> list[Labels]:
        request = tsdb_pb2.SeriesRequest(match=list(match), start_ms=start_ms, end_ms=end_ms, limit=limit)
        return [_labels(s.labels) for s in self._series(request, **self._call).series]

    def label_names(self, match: Sequence[str] = (), start_ms: int = 0, end_ms: int = 0) -> list[str]:
        request = tsdb_pb2.LabelNamesRequest(match=list(match), start_ms=start_ms, end_ms=end_ms)
        return list(self._label_names(request, **self._call).names)

    def label_values(self, name: str, match: Sequence[str] = (), start_ms: int = 0, end_ms: int = 0) -> list[str]:
        request = tsdb_pb2.LabelValuesRequest(name=name, match=list(match), start_ms=start_ms, end_ms=end_ms)
        return list(self._label_values(request, **self._call).values)

    @staticmethod
    def _result(response: tsdb_pb2.QueryResponse) -> QueryResult:
        at = np.array([response.time_ms], dtype=np.int64)
        if response.result_type == "scalar":
            series = [ResultSeries(Labels(), at, np.array([response.scalar], dtype=np.float64))]
        else:
            series = [ResultSeries(_labels(s.labels), np.array(s.timestamps_ms, dtype=np.int64),
                                   np.array(s.values, dtype=np.float64)) for s in response.series]
        steps = at if response.result_type in ("scalar", "string") else None
        return QueryResult(response.result_type, series, response.string_value, warnings=list(response.warnings),
                           steps=steps)
