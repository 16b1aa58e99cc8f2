"""OTLP metrics ingestion on the HTTP API and the gRPC server (translation in :mod:`tsdb.ingest.otlp`).

``POST /api/v1/otlp/v1/metrics`` (Prometheus's path) takes an ``ExportMetricsServiceRequest`` as protobuf
(``application/x-protobuf``) or OTLP's JSON (``application/json``), optionally gzip-compressed, and answers
as OTLP/HTTP expects: 200 with an ``ExportMetricsServiceResponse`` in the request's encoding (with
``partial_success`` naming rejected data points), 400 with a ``google.rpc.Status`` naming the problem for
a body that cannot be decoded, 415 for another content type, 413 past the body limit, 429 with
``Retry-After`` past the write limits and 503 on a storage fault (the last two are retried by exporters).

``opentelemetry.proto.collector.metrics.v1.MetricsService/Export`` does the same over gRPC
(``INVALID_ARGUMENT``, ``RESOURCE_EXHAUSTED``, ``UNAVAILABLE``). Both store through the remote-write path
(:func:`tsdb.server.backend.store_write`): same appender, limits, metadata store and self-metrics, under
the protocols ``otlp`` (HTTP status codes) and ``otlp_grpc`` (gRPC status names).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import grpc
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsPartialSuccess,
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from tsdb.config import OtlpOptions
from tsdb.errors import InvalidArgumentError, StorageError
from tsdb.http_body import BodyTooLargeError, IncompleteBodyError, read_body
from tsdb.ingest import otlp
from tsdb.server.backend import Backend, store_write
from tsdb.server.remote_write import DecodedWrite
from tsdb.server.write_limits import TOO_MANY_BYTES, Ticket, WriteLimiter
from tsdb.storage.interfaces import CommitResult

PATH = "/api/v1/otlp/v1/metrics"
SERVICE = "opentelemetry.proto.collector.metrics.v1.MetricsService"
HTTP_PROTOCOL = "otlp"
GRPC_PROTOCOL = "otlp_grpc"

# google.rpc.Code values used in Status bodies
_INVALID_ARGUMENT, _RESOURCE_EXHAUSTED, _INTERNAL, _UNAVAILABLE = 3, 8, 13, 14


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def status_body(code: int, message: str, as_json: bool) -> bytes:
    """A ``google.rpc.Status{code, message}`` in protobuf or JSON (OTLP/HTTP's error body)."""
    if as_json:
        return json.dumps({"code": code, "message": message}).encode()
    text = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def export_response(result: CommitResult, translation: otlp.Translation) -> ExportMetricsServiceResponse:
    """The answer to one export: ``partial_success`` when data points or samples were rejected (storage
    rejections are counted in samples, as a histogram data point is stored as several series)."""
    rejected = translation.rejected_count + result.rejected_count
    messages = list(translation.messages)
    if result.rejected_count:
        messages.append(f"{result.rejected_count} samples not stored: {result.summary()}")
    response = ExportMetricsServiceResponse()
    if rejected or messages:
        response.partial_success.CopyFrom(ExportMetricsPartialSuccess(rejected_data_points=rejected,
                                                                      error_message="; ".join(messages)))
    return response


class OtlpApi:
    """The OTLP/HTTP route and the OTLP/gRPC service over one :class:`Backend`; ``options`` gives the
    ``otlp`` config section in force (read per request, so a reload applies it)."""

    def __init__(self, backend: Backend, executor: ThreadPoolExecutor, options: Callable[[], OtlpOptions]) -> None:
        self.backend = backend
        self.executor = executor
        self.options = options
        self.deltas = otlp.DeltaAccumulator()

    def routes(self) -> list[web.RouteDef]:
        return [web.post(PATH, self.export)]

    # -- shared -------------------------------------------------------------------------------
    def _store(self, payload: bytes | bytearray, content_type: str
               ) -> tuple[CommitResult, otlp.Translation]:
        request = otlp.decode_request(payload, content_type)
        options = self.options()
        if options.convert_delta_to_cumulative and otlp.has_delta(request):
            # one delta export at a time: each starts from the totals the previous one stored
            with self.deltas.lock:
                result, translation = self._translate_and_store(request, options)
                if translation.deltas is not None:
                    self.deltas.apply(translation.deltas)
        else:
            result, translation = self._translate_and_store(request, options)
        if self.backend.on_rejected is not None:
            for reason, count in translation.rejected.items():
                if count:
                    self.backend.on_rejected(reason, count)
        return result, translation

    def _translate_and_store(self, request: ExportMetricsServiceRequest, options: OtlpOptions
                             ) -> tuple[CommitResult, otlp.Translation]:
        translation = otlp.translate(request, options, self.deltas, self.backend.lookback_delta_ms)
        decoded = DecodedWrite(translation.labels, translation.offsets, translation.ts, translation.values,
                               metadata_entries=translation.metadata)
        return store_write(self.backend, decoded, metadata_source=HTTP_PROTOCOL), translation

    def _refused(self, protocol: str, limiter: WriteLimiter, reason: str) -> str:
        if self.backend.on_write_refused is not None:
            self.backend.on_write_refused(protocol, reason)
        return limiter.refusal_text(reason).strip()

    # -- HTTP ---------------------------------------------------------------------------------
    async def export(self, request: web.Request) -> web.Response:
        response = await self._export(request)
        if self.backend.on_write is not None:
            self.backend.on_write(HTTP_PROTOCOL, str(response.status))
        return response

    async def _export(self, request: web.Request) -> web.Response:
        content_type = request.headers.get("Content-Type", otlp.PROTOBUF).split(";", 1)[0].strip().lower()
        as_json = content_type == otlp.JSON
        reply_type = otlp.JSON if as_json else otlp.PROTOBUF

        def error(status: int, code: int, message: str, **headers: str) -> web.Response:
            return web.Response(status=status, body=status_body(code, message, as_json),
                                headers={"Content-Type": reply_type, **headers})

        if content_type not in (otlp.PROTOBUF, otlp.JSON):
            return error(415, _INVALID_ARGUMENT, f"unsupported Content-Type {content_type!r}; expected "
                         f"{otlp.PROTOBUF} or {otlp.JSON}")
        encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity", "gzip"):
            return error(415, _INVALID_ARGUMENT, f"unsupported Content-Encoding {encoding!r}; expected gzip")
        limiter = self.backend.write_limiter
        ticket: Ticket | str | None = None
        if limiter is not None:
            ticket = limiter.admit(request.content_length or 0)
            if isinstance(ticket, str):
                response = error(429, _RESOURCE_EXHAUSTED, self._refused(HTTP_PROTOCOL, limiter, ticket),
                                 **{"Retry-After": str(limiter.retry_after_s)})
                response.force_close()  # the unread body is not drained: close the connection instead
                return response
        try:
            try:
                body = await read_body(request, self.backend.max_body_bytes)
            except BodyTooLargeError as err:
                return error(413, _INVALID_ARGUMENT, str(err))
            except (IncompleteBodyError, RequestPayloadError) as err:  # also a gzip body that does not inflate
                return error(400, _INVALID_ARGUMENT, f"cannot read the request body: {err}")
            if isinstance(ticket, Ticket) and not ticket.reserve(max(0, len(body) - ticket.nbytes)):
                assert limiter is not None
                return error(429, _RESOURCE_EXHAUSTED, self._refused(HTTP_PROTOCOL, limiter, TOO_MANY_BYTES),
                             **{"Retry-After": str(limiter.retry_after_s)})
            loop = asyncio.get_running_loop()
            try:
                result, translation = await loop.run_in_executor(self.executor, self._store, body, content_type)
            except (InvalidArgumentError, ValueError) as err:
                return error(400, _INVALID_ARGUMENT, str(err))
            except StorageError as err:
                return error(503, _UNAVAILABLE, f"storage error: {err}")
        finally:
            if isinstance(ticket, Ticket):
                ticket.release()
        answer = export_response(result, translation)
        data = json_format.MessageToJson(answer, indent=None).encode() if as_json else answer.SerializeToString()
        return web.Response(status=200, body=data, headers={"Content-Type": reply_type})

    # -- gRPC ---------------------------------------------------------------------------------
    async def grpc_export(self, payload: bytes, context: grpc.aio.ServicerContext) -> ExportMetricsServiceResponse:
        """``MetricsService/Export`` on the raw request bytes."""
        limiter = self.backend.write_limiter
        ticket: Ticket | str | None = None
        code = "OK"
        try:
            if len(payload) > self.backend.max_body_bytes:
                code = "INVALID_ARGUMENT"
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "request larger than the body limit")
            if limiter is not None:
                ticket = limiter.admit(len(payload))
                if isinstance(ticket, str):
                    code = "RESOURCE_EXHAUSTED"
                    await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                        self._refused(GRPC_PROTOCOL, limiter, ticket))
            loop = asyncio.get_running_loop()
            try:
                result, translation = await loop.run_in_executor(self.executor, self._store, payload,
                                                                 otlp.PROTOBUF)
            except (InvalidArgumentError, ValueError) as err:
                code = "INVALID_ARGUMENT"
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
            except StorageError as err:
                code = "UNAVAILABLE"
                await context.abort(grpc.StatusCode.UNAVAILABLE, f"storage error: {err}")
            except Exception as err:
                code = "INTERNAL"
                await context.abort(grpc.StatusCode.INTERNAL, f"{type(err).__name__}: {err}")
            return export_response(result, translation)
        finally:
            if isinstance(ticket, Ticket):
                ticket.release()
            if self.backend.on_write is not None:
                self.backend.on_write(GRPC_PROTOCOL, code)

    def grpc_handler(self) -> grpc.GenericRpcHandler:
        """The ``MetricsService`` handler to add to the gRPC server."""
        methods = {"Export": grpc.unary_unary_rpc_method_handler(
            self.grpc_export, response_serializer=ExportMetricsServiceResponse.SerializeToString)}
        return grpc.method_handlers_generic_handler(SERVICE, methods)
