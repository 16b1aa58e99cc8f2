"""DataDog metric intake on the HTTP API (translation in :mod:`tsdb.ingest.datadog`).

Routes, each under ``/datadog`` and at DataDog's own path (so an agent or client library can point its
``dd_url``/``api_host`` at either ``http://tsdb:9201/datadog`` or ``http://tsdb:9201``):

- ``POST /api/v1/series``: JSON; answers 202 ``{"status": "ok"}``. Without the prefix only a JSON body
  (``Content-Type: application/json``) is DataDog's: any other body is Prometheus's series lookup
  (form-encoded ``match[]``);
- ``POST /api/v2/series``: JSON or the agent's ``MetricPayload`` (``application/x-protobuf``); 202
  ``{"errors": []}``;
- ``POST /api/beta/sketches``: the agent's ``SketchPayload`` (protobuf), stored as summaries; 202;
- the agent's probes and side channels, answered and ignored: ``GET /api/v1/validate`` (``{"valid": true}``),
  ``POST /api/v1/check_run`` (202 ``{"status": "ok"}``), ``POST /intake/`` (202 ``{}``) and
  ``POST /api/v1/metadata`` (202).

Bodies may be gzip- or deflate-compressed (zlib-wrapped, as the clients send, or raw), and zstd-compressed
when the HTTP server can decode zstd (the ``backports.zstd`` package; without it zstd bodies get 400 naming the
encoding). Errors use DataDog's shape ``{"errors": [...]}``: 400 for a body that is not a payload, or naming the
malformed series, points and sketches (the valid ones of the body are stored all the same), 413 past the body
limit, 415 for a content type the endpoint does not take, 429 with ``Retry-After`` past the write limits and 503
on a storage fault. Writes are stored through the remote-write path (:func:`tsdb.server.backend.store_write`) and
counted as protocol ``datadog`` (requests by status; points skipped as malformed by reason).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError
from google.protobuf.message import DecodeError, Message

from tsdb.config import DatadogOptions
from tsdb.errors import InvalidArgumentError, StorageError
from tsdb.http_body import BodyTooLargeError, IncompleteBodyError, read_body
from tsdb.ingest import datadog
from tsdb.server.backend import Backend, store_write
from tsdb.server.pb.datadog.agent_payload_pb2 import MetricPayload, SketchPayload
from tsdb.server.remote_write import DecodedWrite
from tsdb.server.write_limits import TOO_MANY_BYTES, Ticket
from tsdb.storage.interfaces import CommitResult

PROTOCOL = "datadog"
PREFIX = "/datadog"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
PROMETHEUS_SERIES = "/api/v1/series"

Decoder = Callable[[bytes | bytearray, DatadogOptions], datadog.Translation]


def _parse(message: Message, body: bytes | bytearray) -> Message:
    try:
        message.ParseFromString(bytes(body))
    except (DecodeError, ValueError, RecursionError) as err:
        raise InvalidArgumentError(f"invalid {type(message).__name__} protobuf: {err}") from err
    return message


def decode_v2_protobuf(body: bytes | bytearray, options: DatadogOptions) -> datadog.Translation:
    """Translate a ``MetricPayload`` body; InvalidArgumentError when it is not one."""
    return datadog.translate_v2_payload(_parse(MetricPayload(), body), options)


def decode_sketches(body: bytes | bytearray, options: DatadogOptions) -> datadog.Translation:
    """Translate a ``SketchPayload`` body; InvalidArgumentError when it is not one."""
    return datadog.translate_sketches(_parse(SketchPayload(), body), options)


def is_datadog_series(request: web.Request) -> bool:
    """Whether a ``POST /api/v1/series`` is a DataDog submission (a JSON body) rather than Prometheus's
    series lookup (form-encoded, or no body)."""
    return request.content_type == JSON


def _errors(status: int, *messages: str, **headers: str) -> web.Response:
    return web.json_response({"errors": list(messages)}, status=status, headers=headers or None)


class DatadogApi:
    """The DataDog routes over one :class:`Backend`; ``options`` gives the ``datadog`` config section in force
    (read per request, so a reload applies it)."""

    def __init__(self, backend: Backend, executor: ThreadPoolExecutor, options: Callable[[], DatadogOptions]
                 ) -> None:
        self.backend = backend
        self.executor = executor
        self.options = options

    def routes(self) -> list[web.RouteDef]:
        """Every route under ``/datadog`` and at DataDog's paths, except the unprefixed ``POST /api/v1/series``
        (see :meth:`merged`)."""
        out: list[web.RouteDef] = []
        for prefix in (PREFIX, ""):
            if prefix:
                out.append(web.post(prefix + "/api/v1/series", self.series_v1))
            out += [web.post(prefix + "/api/v2/series", self.series_v2),
                    web.post(prefix + "/api/beta/sketches", self.sketches),
                    web.get(prefix + "/api/v1/validate", self.validate),
                    web.post(prefix + "/api/v1/check_run", self.check_run),
                    web.post(prefix + "/intake/", self.intake),
                    web.post(prefix + "/api/v1/metadata", self.metadata)]
        return out

    def merged(self, prometheus: list[web.RouteDef]) -> list[web.RouteDef]:
        """``prometheus``'s routes with ``POST /api/v1/series`` shared (JSON bodies are DataDog's, see
        :func:`is_datadog_series`), followed by :meth:`routes`."""
        out: list[web.RouteDef] = []
        for route in prometheus:
            if route.method == "POST" and route.path == PROMETHEUS_SERIES:
                out.append(web.post(PROMETHEUS_SERIES, self._shared_series(route.handler)))
            else:
                out.append(route)
        return out + self.routes()

    def _shared_series(self, prometheus: Callable[[web.Request], Awaitable[web.StreamResponse]]
                       ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def series(request: web.Request) -> web.StreamResponse:
            if is_datadog_series(request):
                return await self.series_v1(request)
            return await prometheus(request)
        return series

    # -- probes -----------------------------------------------------------------------------------------
    async def validate(self, request: web.Request) -> web.Response:
        """The agent's API key check: every key is valid."""
        return web.json_response({"valid": True})

    async def check_run(self, request: web.Request) -> web.Response:
        """Service checks are accepted and not stored."""
        return await self._ignored(request, {"status": "ok"})

    async def intake(self, request: web.Request) -> web.Response:
        """Host metadata and events are accepted and not stored."""
        return await self._ignored(request, {})

    async def metadata(self, request: web.Request) -> web.Response:
        """Metric metadata is accepted and not stored."""
        return await self._ignored(request, {})

    async def _ignored(self, request: web.Request, answer: dict[str, Any]) -> web.Response:
        try:
            await read_body(request, self.backend.max_body_bytes)
        except BodyTooLargeError as err:
            return _errors(413, str(err))
        except (IncompleteBodyError, RequestPayloadError) as err:
            return _errors(400, f"cannot read the request body: {err}")
        return web.json_response(answer, status=202)

    # -- metrics ----------------------------------------------------------------------------------------
    async def series_v1(self, request: web.Request) -> web.Response:
        """``/api/v1/series``: JSON."""
        return await self._counted(request, datadog.decode_v1_json, {"status": "ok"})

    async def series_v2(self, request: web.Request) -> web.Response:
        """``/api/v2/series``: JSON or protobuf, by Content-Type."""
        content_type = request.content_type
        if content_type == PROTOBUF:
            return await self._counted(request, decode_v2_protobuf, {"errors": []})
        if content_type in (JSON, "application/octet-stream", ""):  # the latter: aiohttp's "no Content-Type"
            return await self._counted(request, datadog.decode_v2_json, {"errors": []})
        return await self._counted(request, None, {}, f"unsupported Content-Type {content_type!r}; expected "
                                                      f"{JSON} or {PROTOBUF}")

    async def sketches(self, request: web.Request) -> web.Response:
        """``/api/beta/sketches``: protobuf."""
        if request.content_type == JSON:
            return await self._counted(request, None, {}, f"unsupported Content-Type {JSON!r}; sketches are "
                                                          f"taken as {PROTOBUF}")
        return await self._counted(request, decode_sketches, {"errors": []})

    async def _counted(self, request: web.Request, decode: Decoder | None, ok: dict[str, Any],
                       unsupported: str = "") -> web.Response:
        response = _errors(415, unsupported) if decode is None else await self._write(request, decode, ok)
        if self.backend.on_write is not None:
            self.backend.on_write(PROTOCOL, str(response.status))
        return response

    def _refused(self, reason: str) -> web.Response:
        limiter = self.backend.write_limiter
        assert limiter is not None
        if self.backend.on_write_refused is not None:
            self.backend.on_write_refused(PROTOCOL, reason)
        return _errors(429, limiter.refusal_text(reason).strip(), **{"Retry-After": str(limiter.retry_after_s)})

    async def _write(self, request: web.Request, decode: Decoder, ok: dict[str, Any]) -> web.Response:
        limiter = self.backend.write_limiter
        ticket: Ticket | str | None = None
        if limiter is not None:
            ticket = limiter.admit(request.content_length or 0)
            if isinstance(ticket, str):
                response = self._refused(ticket)
                response.force_close()  # the unread body is not drained: close the connection instead
                return response
        try:
            try:
                body = await read_body(request, self.backend.max_body_bytes)
            except BodyTooLargeError as err:
                return _errors(413, str(err))
            except (IncompleteBodyError, RequestPayloadError) as err:  # also a body that does not inflate
                return _errors(400, f"cannot read the request body: {err}")
            # an inflated body passes its Content-Length; decoding JSON takes about the body's size again
            if isinstance(ticket, Ticket) and not ticket.reserve(max(0, 2 * len(body) - ticket.nbytes)):
                return self._refused(TOO_MANY_BYTES)
            loop = asyncio.get_running_loop()
            try:
                result, translation = await loop.run_in_executor(self.executor, self._store, body, decode)
            except (InvalidArgumentError, ValueError) as err:
                return _errors(400, str(err))
            except StorageError as err:
                return _errors(503, f"storage error: {err}")
        finally:
            if isinstance(ticket, Ticket):
                ticket.release()
        if translation.errors:
            problems = list(translation.errors)
            if translation.rejected_count > len(problems):
                problems.append(f"{translation.rejected_count} points rejected in all, "
                                f"{result.accepted} samples stored")
            return _errors(400, *problems)
        if result.rejected_count:
            return web.json_response({**ok, "errors": [f"{result.rejected_count} samples not stored: "
                                                       f"{result.summary()}"]}, status=202)
        return web.json_response(ok, status=202)

    def _store(self, body: bytes | bytearray, decode: Decoder) -> tuple[CommitResult, datadog.Translation]:
        translation = decode(body, self.options())
        if self.backend.on_rejected is not None:
            for reason, count in translation.rejected.items():
                self.backend.on_rejected(reason, count)
        decoded = DecodedWrite(translation.labels, translation.offsets, translation.ts, translation.values)
        return store_write(self.backend, decoded, metadata_source=PROTOCOL), translation
