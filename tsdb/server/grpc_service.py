"""The gRPC service ``tsdb.v1.TSDB`` (protos/tsdb/v1/tsdb.proto) on grpc.aio, plus health and reflection.

``Write``/``WriteStream`` receive the raw request bytes and decode them with the same numba decoder as
HTTP remote-write (no per-sample protobuf objects). Query results are packed arrays per series.
Malformed requests end with ``INVALID_ARGUMENT`` naming the problem; storage faults ``UNAVAILABLE``; a query
refused by the query limits (``Backend.queries``) ``RESOURCE_EXHAUSTED``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import numpy as np
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from tsdb.errors import InvalidArgumentError, QueryError, QueryTimeoutError, StorageError
from tsdb.labels import Labels
from tsdb.query.result import to_result
from tsdb.query.value import Value
from tsdb.server.backend import Backend, find_label_names, find_label_values, find_series, store_write
from tsdb.server.params import MAX_TIME_MS, MIN_TIME_MS
from tsdb.server.pb.tsdb.v1 import remote_pb2, tsdb_pb2
from tsdb.server.query_limits import QueryRejectedError
from tsdb.server.remote_write import decode_write_request
from tsdb.server.write_limits import Ticket
from tsdb.storage.interfaces import CommitResult

SERVICE = "tsdb.v1.TSDB"


def _status_for(err: Exception) -> grpc.StatusCode:
    if isinstance(err, QueryRejectedError):
        return grpc.StatusCode.RESOURCE_EXHAUSTED
    if isinstance(err, QueryTimeoutError):
        return grpc.StatusCode.DEADLINE_EXCEEDED
    if isinstance(err, (InvalidArgumentError, ValueError)):
        return grpc.StatusCode.INVALID_ARGUMENT
    if isinstance(err, StorageError):
        return grpc.StatusCode.UNAVAILABLE
    if isinstance(err, QueryError):
        return grpc.StatusCode.FAILED_PRECONDITION
    return grpc.StatusCode.INTERNAL


def _labels_pb(labels: Labels) -> list[remote_pb2.Label]:
    return [remote_pb2.Label(name=n, value=v) for n, v in labels.items()]


def value_to_response(value: Value, steps: np.ndarray) -> tsdb_pb2.QueryResponse:
    """A query result (:func:`tsdb.query.result.to_result`) as packed arrays per series."""
    result = to_result(value, steps)
    response = tsdb_pb2.QueryResponse(result_type=result.kind)
    if result.kind == "scalar":
        response.scalar = result.scalar
        response.time_ms = int(steps[0])
    elif result.kind == "string":
        response.string_value = result.text
        response.time_ms = int(steps[0])
    else:
        for s in result.series:
            response.series.add(labels=_labels_pb(s.labels), timestamps_ms=s.ts.tolist(), values=s.values.tolist())
    return response


def commit_to_response(result: CommitResult) -> tsdb_pb2.WriteResponse:
    response = tsdb_pb2.WriteResponse(accepted=result.accepted, rejected=result.rejected_count)
    for rejection in result.rejected.values():
        response.rejections.add(reason=rejection.reason, count=rejection.count, examples=rejection.examples)
    return response


class TsdbService:
    """Handlers of ``tsdb.v1.TSDB`` over one :class:`Backend`."""

    def __init__(self, backend: Backend, executor: ThreadPoolExecutor) -> None:
        self.backend = backend
        self.executor = executor

    async def _run(self, context: grpc.aio.ServicerContext, func: Callable[..., Any], *args: Any) -> Any:
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, func, *args)
        except Exception as err:
            await context.abort(_status_for(err), str(err))

    async def _query(self, context: grpc.aio.ServicerContext, func: Callable[..., Any], *args: Any,
                     timeout_s: float | None) -> Any:
        """``func(*args, timeout_s)``: on the query threads once a slot is free (``Backend.queries``),
        else as :meth:`_run`. A refused query aborts with RESOURCE_EXHAUSTED."""
        queries = self.backend.queries
        if queries is None:
            return await self._run(context, func, *args, timeout_s)
        try:
            return await queries.run("grpc", func, *args, timeout_s=timeout_s)
        except Exception as err:
            await context.abort(_status_for(err), str(err))

    def _write_bytes(self, payload: bytes) -> CommitResult:
        return store_write(self.backend, decode_write_request(payload, self.backend.labels_cache))

    async def write(self, payload: bytes, context: grpc.aio.ServicerContext) -> tsdb_pb2.WriteResponse:
        limiter = self.backend.write_limiter
        ticket: Ticket | str | None = None
        try:
            if len(payload) > self.backend.max_body_bytes:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "request larger than the body limit")
            if limiter is not None:
                ticket = limiter.admit(len(payload))
                if isinstance(ticket, str):
                    if self.backend.on_write_refused is not None:
                        self.backend.on_write_refused("grpc", ticket)
                    await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, limiter.refusal_text(ticket).strip())
            response = commit_to_response(await self._run(context, self._write_bytes, payload))
        except BaseException:
            self._count_write(context, failed=True)
            raise
        finally:
            if isinstance(ticket, Ticket):
                ticket.release()
        self._count_write(context, failed=False)
        return response

    def _count_write(self, context: grpc.aio.ServicerContext, failed: bool) -> None:
        if self.backend.on_write is None:
            return
        code = context.code() if failed else None
        name = code.name if isinstance(code, grpc.StatusCode) else ("UNKNOWN" if failed else "OK")
        self.backend.on_write("grpc", name)

    async def write_stream(self, requests: AsyncIterator[bytes],
                           context: grpc.aio.ServicerContext) -> tsdb_pb2.WriteResponse:
        total = CommitResult()
        async for payload in requests:
            result: CommitResult = await self._run(context, self._write_bytes, payload)
            total.accepted += result.accepted
            for reason, rejection in result.rejected.items():
                for example in rejection.examples[:1] or [""]:
                    total.reject(reason, rejection.count, example)
        return commit_to_response(total)

    async def query(self, request: tsdb_pb2.QueryRequest, context: grpc.aio.ServicerContext
                    ) -> tsdb_pb2.QueryResponse:
        t_ms = request.time_ms or _now_ms()
        value, notes = await self._query(context, self.backend.engine.instant_annotated, request.query, t_ms, "auto",
                                         timeout_s=request.timeout_s or None)
        response = value_to_response(value, np.array([t_ms], dtype=np.int64))
        response.warnings.extend(notes.warnings + notes.infos)
        return response

    async def query_range(self, request: tsdb_pb2.QueryRangeRequest, context: grpc.aio.ServicerContext
                          ) -> tsdb_pb2.QueryResponse:
        if request.step_ms <= 0 or request.end_ms < request.start_ms:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "need step_ms > 0 and end_ms >= start_ms")
        limit = self.backend.max_points
        if (request.end_ms - request.start_ms) // request.step_ms > limit:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"exceeded maximum resolution of {limit:,} points per timeseries")
        value, notes = await self._query(context, self.backend.engine.range_annotated, request.query,
                                         request.start_ms, request.end_ms, request.step_ms, "auto",
                                         timeout_s=request.timeout_s or None)
        steps = np.arange(request.start_ms, request.end_ms + 1, request.step_ms, dtype=np.int64)
        response = value_to_response(value, steps)
        response.warnings.extend(notes.warnings + notes.infos)
        return response

    async def series(self, request: tsdb_pb2.SeriesRequest, context: grpc.aio.ServicerContext
                     ) -> tsdb_pb2.SeriesResponse:
        if not request.match:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no match parameter provided")
        found = await self._run(context, find_series, self.backend, list(request.match), *_span(request))
        if request.limit:
            found = found[: request.limit]
        return tsdb_pb2.SeriesResponse(series=[tsdb_pb2.LabelSet(labels=_labels_pb(lb)) for lb in found])

    async def label_names(self, request: tsdb_pb2.LabelNamesRequest, context: grpc.aio.ServicerContext
                          ) -> tsdb_pb2.LabelNamesResponse:
        names = await self._run(context, find_label_names, self.backend, list(request.match), *_span(request))
        return tsdb_pb2.LabelNamesResponse(names=names)

    async def label_values(self, request: tsdb_pb2.LabelValuesRequest, context: grpc.aio.ServicerContext
                           ) -> tsdb_pb2.LabelValuesResponse:
        values = await self._run(context, find_label_values, self.backend, request.name, list(request.match),
                                 *_span(request))
        return tsdb_pb2.LabelValuesResponse(values=values)

    def handler(self) -> grpc.GenericRpcHandler:
        w = tsdb_pb2.WriteResponse.SerializeToString
        q = tsdb_pb2.QueryResponse.SerializeToString
        methods = {
            "Write": grpc.unary_unary_rpc_method_handler(self.write, response_serializer=w),
            "WriteStream": grpc.stream_unary_rpc_method_handler(self.write_stream, response_serializer=w),
            "Query": grpc.unary_unary_rpc_method_handler(
                self.query, tsdb_pb2.QueryRequest.FromString, q),
            "QueryRange": grpc.unary_unary_rpc_method_handler(
                self.query_range, tsdb_pb2.QueryRangeRequest.FromString, q),
            "Series": grpc.unary_unary_rpc_method_handler(
                self.series, tsdb_pb2.SeriesRequest.FromString, tsdb_pb2.SeriesResponse.SerializeToString),
            "LabelNames": grpc.unary_unary_rpc_method_handler(
                self.label_names, tsdb_pb2.LabelNamesRequest.FromString,
                tsdb_pb2.LabelNamesResponse.SerializeToString),
            "LabelValues": grpc.unary_unary_rpc_method_handler(
                self.label_values, tsdb_pb2.LabelValuesRequest.FromString,
                tsdb_pb2.LabelValuesResponse.SerializeToString),
        }
        return grpc.method_handlers_generic_handler(SERVICE, methods)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _span(request: Any) -> tuple[int, int]:
    start = request.start_ms if request.start_ms else MIN_TIME_MS
    end = request.end_ms if request.end_ms else MAX_TIME_MS
    return start, end


async def start_grpc_server(backend: Backend, address: str, executor: ThreadPoolExecutor,
                            max_message_bytes: int, credentials: grpc.ServerCredentials | None = None,
                            interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
                            handlers: Sequence[grpc.GenericRpcHandler] = ()) -> tuple[grpc.aio.Server, int]:
    """Start the gRPC server on ``address`` (host:port; port 0 picks one) with the TSDB, health and
    reflection services and the other ``handlers`` (OTLP's MetricsService), over TLS with ``credentials``
    (tsdb.server.grpc_auth); returns the server and its bound port."""
    options = [("grpc.max_receive_message_length", max_message_bytes),
               ("grpc.max_send_message_length", max_message_bytes)]
    server = grpc.aio.server(options=options, interceptors=list(interceptors))
    server.add_generic_rpc_handlers((TsdbService(backend, executor).handler(), *handlers))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    await health_servicer.set(SERVICE, health_pb2.HealthCheckResponse.SERVING)
    names = (tsdb_pb2.DESCRIPTOR.services_by_name["TSDB"].full_name, health.SERVICE_NAME,
             reflection.SERVICE_NAME)
    reflection.enable_server_reflection(names, server)
    port = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"cannot bind gRPC address {address}")
    await server.start()
    return server, port
