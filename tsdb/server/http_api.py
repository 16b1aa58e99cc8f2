"""The Prometheus-compatible HTTP API (aiohttp): queries, metadata, remote-write, status.

Handlers parse parameters exactly as Prometheus does (GET query string or POST form), run storage and
query work in a thread pool (kernels release the GIL), and render JSON in Prometheus's shape and
formatting. Errors carry Prometheus's ``errorType`` and status code: 400 ``bad_data``, 422
``execution``, 503 ``timeout``, 503 ``unavailable`` (a query refused by the query limits), 500 ``internal``.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import operator
import platform
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from aiohttp import web

from tsdb import __version__
from tsdb.errors import (
    InvalidArgumentError,
    ParseError,
    QueryError,
    QueryLimitError,
    QueryTimeoutError,
    StorageError,
    TsdbError,
)
from tsdb.http_body import BodyTooLargeError, IncompleteBodyError, read_body
from tsdb.query.parser.ast_json import ast_json
from tsdb.query.parser.parser import parse
from tsdb.query.value import MatrixValue, ScalarValue, StringValue, Value, VectorValue
from tsdb.server import federate as fed
from tsdb.server import json_format as jf
from tsdb.server import params
from tsdb.server import remote_read as rr
from tsdb.server.backend import Backend, find_label_names, find_label_values, find_series, store_write
from tsdb.server.columnar_json import FORMATS, render_columns
from tsdb.server.query_limits import QueryRejectedError
from tsdb.server.remote_write import decode_body, snappy_decoded_size
from tsdb.server.write_limits import TOO_MANY_BYTES, Ticket, WriteLimiter
from tsdb.storage.interfaces import CommitResult
from tsdb.timefmt import format_rfc3339

log = logging.getLogger("tsdb.http")



class ApiError(Exception):
    """An error response: Prometheus ``errorType`` and HTTP status."""

    def __init__(self, error_type: str, message: str, status: int) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.status = status


GZIP_MIN_BYTES = 16 * 1024
"""Responses at least this large are gzip-compressed for clients that accept it (as Prometheus does)."""
GZIP_LEVEL = 1
"""Fastest compression: JSON of samples still shrinks about fivefold."""


def _wants_gzip(request: web.Request, response: web.Response) -> bool:
    body = response.body
    return (isinstance(body, bytes) and len(body) >= GZIP_MIN_BYTES and "Content-Encoding" not in response.headers
            and "gzip" in request.headers.get("Accept-Encoding", "").lower())


def _success(data_json: str, warnings: Sequence[str] = (), infos: Sequence[str] = ()) -> web.Response:
    body = '{"status":"success","data":' + data_json
    if warnings:
        body += ',"warnings":[' + ",".join(jf.json_string(w) for w in warnings) + "]"
    if infos:
        body += ',"infos":[' + ",".join(jf.json_string(i) for i in infos) + "]"
    return web.Response(text=body + "}", content_type="application/json")


def _error(err: ApiError) -> web.Response:
    body = ('{"status":"error","errorType":' + jf.json_string(err.error_type) + ',"error":'
            + jf.json_string(str(err)) + "}")
    return web.Response(text=body, status=err.status, content_type="application/json")


def classify(err: Exception) -> ApiError:
    """Map an exception to Prometheus's error type and status code."""
    if isinstance(err, ApiError):
        return err
    if isinstance(err, QueryTimeoutError):
        return ApiError("timeout", f"query timed out in expression evaluation: {err}", 503)
    if isinstance(err, QueryRejectedError):
        return ApiError("unavailable", str(err), 503)
    if isinstance(err, ParseError):
        return ApiError("bad_data", err.render(), 400)
    if isinstance(err, InvalidArgumentError):
        return ApiError("bad_data", str(err), 400)
    if isinstance(err, QueryError):
        return ApiError("execution", str(err), 422)
    if isinstance(err, StorageError):
        return ApiError("internal", str(err), 500)
    if isinstance(err, TsdbError):
        return ApiError("execution", str(err), 422)
    log.exception("internal error")
    return ApiError("internal", f"{type(err).__name__}: {err}", 500)


SOURCE_RESOLUTIONS = ("auto", "raw", "5m", "1h")


def _source_resolution(form: dict[str, Any]) -> str:
    """The ``max_source_resolution`` parameter (Thanos's name): raw, 5m, 1h or auto (default)."""
    value = str(form.get("max_source_resolution") or "auto")
    if value not in SOURCE_RESOLUTIONS:
        raise ApiError("bad_data", f'invalid parameter "max_source_resolution": {value!r} is not one of '
                       + ", ".join(SOURCE_RESOLUTIONS), 400)
    return value


def render_value(value: Value, t_ms: int | None = None, steps: Sequence[int] | None = None) -> str:
    """``{"resultType":...,"result":...}`` for a query result."""
    if isinstance(value, ScalarValue):
        assert t_ms is not None or steps is not None
        if steps is not None and t_ms is None:
            series = ",".join(jf.point_json(t, v) for t, v in zip(steps, value.values.tolist(), strict=True))
            return '{"resultType":"matrix","result":[{"metric":{},"values":[' + series + "]}]}"
        return '{"resultType":"scalar","result":' + jf.point_json(t_ms or 0, float(value.values[0])) + "}"
    if isinstance(value, StringValue):
        return '{"resultType":"string","result":[' + jf.format_timestamp(t_ms or 0) + "," + jf.json_string(
            value.value) + "]}"
    if isinstance(value, MatrixValue):
        items = []
        for labels, ts, vals in zip(value.labels, value.ts, value.values, strict=True):
            points = ",".join(jf.point_json(t, v) for t, v in zip(ts.tolist(), vals.tolist(), strict=True))
            items.append('{"metric":' + jf.labels_json(labels) + ',"values":[' + points + "]}")
        return '{"resultType":"matrix","result":[' + ",".join(items) + "]}"
    assert isinstance(value, VectorValue)
    if steps is None:
        items = []
        for i, labels in enumerate(value.labels):
            if value.present[i, 0]:
                items.append('{"metric":' + jf.labels_json(labels) + ',"value":'
                             + jf.point_json(t_ms or 0, float(value.values[i, 0])) + "}")
        return '{"resultType":"vector","result":[' + ",".join(items) + "]}"
    order = sorted(range(value.num_series), key=lambda i: value.labels[i])
    items = []
    # every series shares the steps: render each step's '[<seconds>,"' once
    prefixes = ["[" + jf.format_timestamp(t) + ',"' for t in steps]
    for i in order:
        mask = value.present[i]
        if not mask.any():
            continue
        if mask.all():
            points = '"],'.join(map(operator.add, prefixes, jf.format_values(value.values[i])))
        else:
            kept = np.flatnonzero(mask)
            points = '"],'.join(map(operator.add, [prefixes[j] for j in kept.tolist()],
                                    jf.format_values(value.values[i][kept])))
        items.append('{"metric":' + jf.labels_json(value.labels[i]) + ',"values":[' + points + '"]]}')
    return '{"resultType":"matrix","result":[' + ",".join(items) + "]}"


class HttpApi:
    """Routes of the Prometheus HTTP API bound to one :class:`Backend`."""

    def __init__(self, backend: Backend, executor: ThreadPoolExecutor | None = None) -> None:
        self.backend = backend
        self.executor = executor or ThreadPoolExecutor(max_workers=4, thread_name_prefix="tsdb-api")

    def routes(self) -> list[web.RouteDef]:
        both = [
            ("/api/v1/query", self.query), ("/api/v1/query_range", self.query_range),
            ("/api/v1/series", self.series), ("/api/v1/labels", self.labels),
            ("/api/v1/label/{name}/values", self.label_values), ("/api/v1/query_exemplars", self.exemplars),
            ("/api/v1/format_query", self.format_query),
            ("/api/v1/parse_query", self.parse_query),
        ]
        out = []
        for path, handler in both:
            out.append(web.get(path, self._wrap(handler)))
            out.append(web.post(path, self._wrap(handler)))
        out += [
            web.post("/api/v1/write", self._wrap(self.write)),
            web.post("/api/v1/read", self.remote_read),
            web.get("/federate", self.federate),
            web.get("/api/v1/metadata", self._wrap(self.metadata)),
            web.get("/api/v1/targets/metadata", self._wrap(self.targets_metadata)),
            web.get("/api/v1/status/buildinfo", self._wrap(self.buildinfo)),
            web.get("/api/v1/status/runtimeinfo", self._wrap(self.runtimeinfo)),
            web.get("/api/v1/status/tsdb", self._wrap(self.status_tsdb)),
            web.get("/api/v1/status/flags", self._wrap(self.flags)),
            web.get("/api/v1/status/config", self._wrap(self.config)),
            web.get("/api/v1/rules", self._wrap(self.rules)),
            web.get("/api/v1/alerts", self._wrap(self.alerts)),
            web.get("/-/healthy", self.healthy), web.get("/-/ready", self.ready),
        ]
        return out

    def _wrap(self, handler: Callable[[web.Request, dict[str, str]], Awaitable[web.Response]]
              ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def wrapped(request: web.Request) -> web.Response:
            try:
                form = await _params(request) if request.path != "/api/v1/write" else {}
                response = await handler(request, form)
            except Exception as err:  # every failure becomes a Prometheus-shaped error
                return _error(classify(err))
            if _wants_gzip(request, response) and form.get("format") != "columns":  # base64 hardly shrinks
                body = await self._run(gzip.compress, response.body, GZIP_LEVEL)
                response.body = body
                response.headers["Content-Encoding"] = "gzip"
                response.headers["Vary"] = "Accept-Encoding"
            return response

        return wrapped

    async def _run(self, func: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, func, *args)

    async def _query(self, func: Callable[..., Any], *args: Any, timeout_s: float | None) -> Any:
        """``func(*args, timeout_s)``: on the query threads once a slot is free (``Backend.queries``;
        waiting holds no thread), else on the API's executor."""
        if self.backend.queries is None:
            return await self._run(func, *args, timeout_s)
        return await self.backend.queries.run("http", func, *args, timeout_s=timeout_s)

    # -- queries ------------------------------------------------------------------------------
    async def query(self, request: web.Request, form: dict[str, Any]) -> web.Response:
        text = _required(form, "query")
        t_ms = params.parse_time(form["time"], "time") if form.get("time") else int(time.time() * 1000)
        value, notes = await self._query(self.backend.engine.instant_annotated, text, t_ms, _source_resolution(form),
                                         timeout_s=_timeout(form))
        # rendering a large result takes a while: a worker thread does it, so the event loop stays free
        return _success(await self._run(render_value, value, t_ms), notes.warnings, notes.infos)

    async def query_range(self, request: web.Request, form: dict[str, Any]) -> web.Response:
        text = _required(form, "query")
        timeout_s = _timeout(form)
        start = params.parse_time(_required(form, "start"), "start")
        end = params.parse_time(_required(form, "end"), "end")
        if end < start:
            raise ApiError("bad_data", 'invalid parameter "end": end timestamp must not be before start time', 400)
        step = params.parse_duration(_required(form, "step"), "step")
        if step <= 0:
            raise ApiError("bad_data", 'invalid parameter "step": zero or negative query resolution step widths '
                           "are not accepted. Try a positive integer", 400)
        if (end - start) // step > self.backend.max_points:
            raise ApiError("bad_data", f"exceeded maximum resolution of {self.backend.max_points:,} points per "
                           "timeseries. Try decreasing the query resolution (?step=XX)", 400)
        encoding = str(form.get("format") or "prometheus")
        if encoding not in FORMATS:
            raise ApiError("bad_data", f'invalid parameter "format": {encoding!r} is not one of ' + ", ".join(FORMATS),
                           400)
        value, notes = await self._query(self.backend.engine.range_annotated, text, start, end, step,
                                         _source_resolution(form), timeout_s=timeout_s)
        steps = list(range(start, end + 1, step))
        if encoding == "columns":
            return _success(await self._run(render_columns, value, steps), notes.warnings, notes.infos)
        return _success(await self._run(render_value, value, None, steps), notes.warnings, notes.infos)

    async def format_query(self, request: web.Request, form: dict[str, Any]) -> web.Response:
        text = _required(form, "query")
        return _success(jf.json_string(self.backend.format_query(text)))

    async def parse_query(self, request: web.Request, form: dict[str, Any]) -> web.Response:
        """The query's syntax tree as JSON (:mod:`tsdb.query.parser.ast_json`); a syntax error is bad_data."""
        text = _required(form, "query")
        return _success(json.dumps(ast_json(parse(text)), separators=(",", ":"), ensure_ascii=False))

    async def exemplars(self, request: web.Request, form: dict[str, Any]) -> web.Response:
        _required(form, "query")
        return _success("[]")

    # -- metadata -----------------------------------------------------------------------------
    def _range(self, form: dict[str, Any]) -> tuple[int, int]:
        start = params.parse_time(form["start"], "start") if form.get("start") else params.MIN_TIME_MS
        end = params.parse_time(form["end"], "end") if form.get("end") else params.MAX_TIME_MS
        return start, end

    async def series(self, request: web.Request, form: dict[str, Any]) -> web.Response:
        selectors = form.get("match[]", [])
        if not selectors:
            raise ApiError("bad_data", "no match[] parameter provided", 400)
        start, end = self._range(form)
        limit = params.parse_limit(form.get("limit"))
        notes: list[str] = []
        found = await self._run(find_series, self.backend, selectors, start, end, notes)
        warnings = notes + list(_truncate(found, limit))
        return _success("[" + ",".join(jf.labels_json(lb) for lb in found[: limit or None]) + "]", warnings)

    async def labels(self, request: web.Request, form: dict[str, Any]) -> web.Response:
        start, end = self._range(form)
        limit = params.parse_limit(form.get("limit"))
        notes: list[str] = []
        names = await self._run(find_label_names, self.backend, form.get("match[]", []), start, end, notes)
        warnings = notes + list(_truncate(names, limit))
        return _success("[" + ",".join(jf.json_string(n) for n in names[: limit or None]) + "]", warnings)

    async def label_values(self, request: web.Request, form: dict[str, Any]) -> web.Response:
        name = request.match_info["name"]
        if name.startswith("U__"):
            name = _unescape_utf8_name(name)
        start, end = self._range(form)
        limit = params.parse_limit(form.get("limit"))
        notes: list[str] = []
        values = await self._run(find_label_values, self.backend, name, form.get("match[]", []), start, end, notes)
        warnings = notes + list(_truncate(values, limit))
        return _success("[" + ",".join(jf.json_string(v) for v in values[: limit or None]) + "]", warnings)

    async def metadata(self, request: web.Request, form: dict[str, Any]) -> web.Response:
        store = self.backend.metadata
        if store is None:
            return _success("{}")
        data = store.metadata(form.get("metric") or "", _signed_int(form, "limit"),
                              _signed_int(form, "limit_per_metric"))
        return _success(json.dumps(data, separators=(",", ":")))

    async def targets_metadata(self, request: web.Request, form: dict[str, Any]) -> web.Response:
        store = self.backend.metadata
        selector = form.get("match_target") or ""
        matchers = self.backend.parse_matchers(selector) if selector else []

        def wanted(labels: dict[str, str]) -> bool:
            return all(m.matches(labels.get(m.name, "")) for m in matchers)

        data = store.targets_metadata(wanted, form.get("metric") or "", _signed_int(form, "limit")) if store else []
        return _success(json.dumps(data, separators=(",", ":")))

    # -- writes -------------------------------------------------------------------------------
    async def write(self, request: web.Request, form: dict[str, Any]) -> web.Response:
        response = await self._write(request)
        if self.backend.on_write is not None:
            self.backend.on_write("remote_write", str(response.status))
        return response

    async def _write(self, request: web.Request) -> web.Response:
        content_type = request.headers.get("Content-Type", "")
        if content_type and not content_type.startswith("application/x-protobuf"):
            return web.Response(status=415, text=f"unsupported Content-Type {content_type!r}; "
                                "expected application/x-protobuf (remote-write 1.0)\n")
        encoding = request.headers.get("Content-Encoding", "snappy")
        if encoding != "snappy":
            return web.Response(status=415, text=f"unsupported Content-Encoding {encoding!r}; expected snappy\n")
        limiter = self.backend.write_limiter
        if limiter is None:
            return await self._read_and_store(request, None)
        # admitted before the body is read: a refused request costs no memory
        ticket = limiter.admit(request.content_length or 0)
        if isinstance(ticket, str):
            return self._refuse(limiter, ticket, body_read=False)
        try:
            return await self._read_and_store(request, ticket)
        finally:
            ticket.release()

    def _refuse(self, limiter: WriteLimiter, reason: str, body_read: bool) -> web.Response:
        """429 with ``Retry-After`` (Prometheus retries it when ``retry_on_http_429`` is set)."""
        if self.backend.on_write_refused is not None:
            self.backend.on_write_refused("remote_write", reason)
        response = web.Response(status=429, text=limiter.refusal_text(reason),
                                headers={"Retry-After": str(limiter.retry_after_s)})
        if not body_read:
            response.force_close()  # the unread body is not drained: close the connection instead
        return response

    async def _read_and_store(self, request: web.Request, ticket: Ticket | None) -> web.Response:
        try:
            body = await read_body(request, self.backend.max_body_bytes)
        except BodyTooLargeError as err:
            return web.Response(status=413, text=f"{err}\n")
        except IncompleteBodyError as err:
            return web.Response(status=400, text=f"{err}\n")
        if ticket is not None:
            # the decompressed payload (and what decoding derives from it), plus a body longer than declared
            extra = snappy_decoded_size(body) + max(0, len(body) - ticket.nbytes)
            if not ticket.reserve(extra):
                assert self.backend.write_limiter is not None
                return self._refuse(self.backend.write_limiter, TOO_MANY_BYTES, body_read=True)
        try:
            result = await self._run(self._store, body)
        except (InvalidArgumentError, ValueError) as err:
            return web.Response(status=400, text=f"{err}\n")
        except StorageError as err:
            return web.Response(status=503, text=f"storage error: {err}\n")
        if result.rejected_count:
            return web.Response(status=400, text=f"{result.accepted} samples stored; rejected: "
                                f"{result.summary()}\n")
        return web.Response(status=204)

    def _store(self, body: bytes | bytearray) -> CommitResult:
        return store_write(self.backend, decode_body(body, self.backend.labels_cache, self.backend.max_body_bytes))

    # -- remote read and federation (plain-text errors, as Prometheus) -------------------------
    async def remote_read(self, request: web.Request) -> web.StreamResponse:
        """``POST /api/v1/read`` (module :mod:`tsdb.server.remote_read`): 400 naming what is wrong in a bad
        request or a query past the limits, 503 on timeout or a full query queue, 500 otherwise."""
        try:
            body = await read_body(request, rr.DECODE_READ_LIMIT)
            read = await self._run(rr.decode_read_request, body, self.backend.max_body_bytes)
            kind = rr.negotiate_response_type(list(read.accepted_response_types))
            limits = rr.ReadLimits(self.backend.max_samples, self.backend.max_series)
            if kind != rr.pb.ReadRequest.STREAMED_XOR_CHUNKS:
                data = await self._query(rr.samples_response, self.backend.queryable, read,
                                         self.backend.external_labels, limits, timeout_s=None)
                return web.Response(body=data, headers={"Content-Type": rr.SAMPLES_CONTENT_TYPE,
                                                        "Content-Encoding": "snappy"})
            frames = await self._query(rr.chunked_frames, self.backend.queryable, read,
                                       self.backend.external_labels, limits, timeout_s=None)
        except Exception as err:
            return _plain_error(err)
        # every frame is ready: from here on only the connection can fail (aiohttp handles a client gone)
        response = web.StreamResponse(headers={"Content-Type": rr.STREAMED_CONTENT_TYPE})
        await response.prepare(request)
        for data in frames:
            await response.write(data)
        await response.write_eof()
        return response

    async def federate(self, request: web.Request) -> web.Response:
        """``GET /federate?match[]=...`` (module :mod:`tsdb.server.federate`); 400 without ``match[]`` or with
        a bad selector, naming it."""
        try:
            form = await _params(request)
            selectors = form.get("match[]", [])
            if not selectors:
                raise InvalidArgumentError('missing parameter "match[]": give at least one series selector')
            matcher_sets = []
            for selector in selectors:
                try:
                    matcher_sets.append(self.backend.parse_matchers(selector))
                except InvalidArgumentError as err:
                    raise InvalidArgumentError(f'invalid parameter "match[]" {selector!r}: {err}') from err
            text = await self._query(fed.federate, self.backend.queryable, matcher_sets,
                                     self.backend.external_labels, self.backend.lookback_delta_ms, None,
                                     timeout_s=None)
            response = web.Response(text=text, headers={"Content-Type": fed.CONTENT_TYPE})
        except Exception as err:
            return _plain_error(err)
        if _wants_gzip(request, response):  # scrapers send Accept-Encoding: gzip
            response.body = await self._run(gzip.compress, response.body, GZIP_LEVEL)
            response.headers["Content-Encoding"] = "gzip"
            response.headers["Vary"] = "Accept-Encoding"
        return response

    # -- status -------------------------------------------------------------------------------
    async def buildinfo(self, request: web.Request, form: dict[str, Any]) -> web.Response:
        info = {"version": __version__, "revision": "", "branch": "", "buildUser": "", "buildDate": "",
                "goVersion": f"python{platform.python_version()}"}
        return _success(json.dumps(info, separators=(",", ":")))

    async def runtimeinfo(self, request: web.Request, form: dict[str, Any]) -> web.Response:
        info = self.backend.status_runtime() if self.backend.status_runtime else {
            "startTime": format_rfc3339(self.backend.start_time, "s")}
        return _success(json.dumps(info, separators=(",", ":")))

    async def config(self, request: web.Request, form: dict[str, Any]) -> web.Response:
        text = self.backend.status_config() if self.backend.status_config else ""
        return _success(json.dumps({"yaml": text}, separators=(",", ":")))

    async def status_tsdb(self, request: web.Request, form: dict[str, Any]) -> web.Response:
        stats = self.backend.status_tsdb() if self.backend.status_tsdb else {}
        return _success(json.dumps(stats, separators=(",", ":")))

    async def flags(self, request: web.Request, form: dict[str, Any]) -> web.Response:
        values = self.backend.status_flags() if self.backend.status_flags else {}
        return _success(json.dumps(values, separators=(",", ":")))

    async def rules(self, request: web.Request, form: dict[str, Any]) -> web.Response:
        if self.backend.rules_status is None:
            return _success('{"groups":[]}')
        status = self.backend.rules_status
        # thousands of alerts take a noticeable fraction of a second to render: not on the event loop
        return _success(await self._run(lambda: json.dumps(status(form), separators=(",", ":"))))

    async def alerts(self, request: web.Request, form: dict[str, Any]) -> web.Response:
        if self.backend.alerts_status is None:
            return _success('{"alerts":[]}')
        status = self.backend.alerts_status
        return _success(await self._run(lambda: json.dumps(status(), separators=(",", ":"))))

    async def healthy(self, request: web.Request) -> web.Response:
        return web.Response(text="Healthy.\n")

    async def ready(self, request: web.Request) -> web.Response:
        return web.Response(text="Ready.\n")


def _plain_error(err: Exception) -> web.Response:
    """A plain-text error answer, as Prometheus's ``http.Error``: 400 for a bad request or a query past its
    limits, 413 for a body past the limit, 503 for a timeout or a refused query, 500 otherwise."""
    if isinstance(err, BodyTooLargeError):
        status = 413
    elif isinstance(err, InvalidArgumentError | QueryLimitError):
        status = 400
    elif isinstance(err, QueryTimeoutError | QueryRejectedError):
        status = 503
    else:
        log.exception("request failed")
        status = 500
    return web.Response(status=status, text=f"{err}\n")


async def _params(request: web.Request) -> dict[str, Any]:
    """Query-string and form parameters; ``match[]`` as a list, others as their last value."""
    out: dict[str, Any] = {}
    sources = [request.query]
    if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
        sources.append(await request.post())  # type: ignore[arg-type]
    for source in sources:
        for key in source:
            values = source.getall(key)
            if key == "match[]":
                out.setdefault("match[]", []).extend(str(v) for v in values)
            else:
                out[key] = str(values[-1])
    return out


def _required(form: dict[str, Any], name: str) -> str:
    value = form.get(name)
    if value is None or value == "":
        raise ApiError("bad_data", f'invalid parameter "{name}": missing {name}' if name != "query"
                       else 'invalid parameter "query": query must not be empty', 400)
    return str(value)


def _timeout(form: dict[str, Any]) -> float | None:
    """The ``timeout`` parameter in seconds (None when absent): it can only shorten the server's timeout."""
    return params.parse_duration(form["timeout"], "timeout") / 1000 if form.get("timeout") else None


def _signed_int(form: dict[str, Any], name: str) -> int:
    """An integer parameter where negative means "no limit" (``-1`` when absent), as Prometheus's metadata
    endpoints read ``limit`` and ``limit_per_metric``."""
    text = form.get(name)
    if text is None or text == "":
        return -1
    try:
        return int(text)
    except ValueError as err:
        raise InvalidArgumentError(f"{name} must be a number") from err


def _truncate(items: Sequence[Any], limit: int) -> list[str]:
    if limit and len(items) > limit:
        return ["results truncated due to limit"]
    return []


def _unescape_utf8_name(name: str) -> str:
    """Prometheus's ``U__`` escaping of UTF-8 label names in URL paths (``_2e_`` -> ``.``, ``__`` -> ``_``)."""
    out = []
    i = 3
    while i < len(name):
        if name.startswith("__", i):
            out.append("_")
            i += 2
        elif name[i] == "_":
            end = name.find("_", i + 1)
            if end < 0:
                return name
            try:
                out.append(chr(int(name[i + 1:end], 16)))
            except ValueError:
                return name
            i = end + 1
        else:
            out.append(name[i])
            i += 1
    return "".join(out)
