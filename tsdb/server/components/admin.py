"""Prometheus's TSDB admin API as a server component (docs/http-api.md, docs/backup.md): ``POST|PUT`` on
``/api/v1/admin/tsdb/snapshot`` (``skip_head``), ``/api/v1/admin/tsdb/delete_series`` (``match[]``,
``start``, ``end``) and ``/api/v1/admin/tsdb/clean_tombstones``. Always built; the access layer answers
500 "admin APIs disabled" without ``--web.enable-admin-api`` and requires the ``admin`` role. Answers,
parameter errors and status codes are Prometheus's: 200 with ``{"name": ...}`` for a snapshot, 204 for
the others, 400 ``bad_data`` naming the parameter, 500 ``internal`` when storage fails.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from tsdb.config import ServerConfig
from tsdb.errors import InvalidArgumentError, ParseError
from tsdb.server import params
from tsdb.server.components.base import UNCHANGED, Reload, ServerContext
from tsdb.storage.snapshot import SNAPSHOTS_DIRNAME, snapshot_name

log = logging.getLogger("tsdb.admin")

PREFIX = "/api/v1/admin/tsdb/"
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


class BadParameterError(Exception):
    """A request parameter Prometheus would answer 400 ``bad_data`` for."""


def _answer(status: int, body: dict[str, Any] | None = None) -> web.Response:
    if body is None:
        return web.Response(status=status)
    return web.Response(status=status, text=json.dumps(body, separators=(",", ":")), content_type="application/json")


def _error(status: int, error_type: str, message: str) -> web.Response:
    return _answer(status, {"status": "error", "errorType": error_type, "error": message})


def parse_bool(text: str, name: str) -> bool:
    """A boolean parameter as Go's ``strconv.ParseBool`` reads it."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise BadParameterError(f'invalid parameter "{name}": unable to parse boolean: strconv.ParseBool: '
                       f'parsing "{text}": invalid syntax')


async def _form(request: web.Request) -> dict[str, list[str]]:
    """Query-string and url-encoded form parameters, every value of each."""
    out: dict[str, list[str]] = {}
    sources: list[Any] = [request.query]
    if request.content_type == "application/x-www-form-urlencoded":
        sources.append(await request.post())
    for source in sources:
        for key in source:
            out.setdefault(key, []).extend(str(v) for v in source.getall(key))
    return out


class AdminComponent:
    """The three admin endpoints over the context's DB (storage work runs on the executor)."""

    name = "admin"

    def __init__(self, context: ServerContext) -> None:
        self.context = context

    def routes(self) -> list[web.AbstractRouteDef]:
        out: list[web.AbstractRouteDef] = []
        for path, handler in (("snapshot", self.snapshot), ("delete_series", self.delete_series),
                              ("clean_tombstones", self.clean_tombstones)):
            wrapped = self._wrap(handler)
            out += [web.post(PREFIX + path, wrapped), web.put(PREFIX + path, wrapped)]
        return out

    def _wrap(self, handler: Callable[[dict[str, list[str]]], Awaitable[web.Response]]
              ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def wrapped(request: web.Request) -> web.Response:
            try:
                return await handler(await _form(request))
            except BadParameterError as err:
                return _error(400, "bad_data", str(err))
            except Exception as err:  # storage failures: Prometheus answers 500 internal
                log.exception("admin request failed", extra={"path": request.path})
                return _error(500, "internal", str(err))
        return wrapped

    async def _run(self, func: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.context.executor, func, *args)

    async def snapshot(self, form: dict[str, list[str]]) -> web.Response:
        """``skip_head`` (bool, default false): 200 ``{"name": "<dir under <data>/snapshots>"}``."""
        text = (form.get("skip_head") or [""])[-1]
        skip_head = parse_bool(text, "skip_head") if text else False
        name = snapshot_name()
        directory = Path(self.context.db.path) / SNAPSHOTS_DIRNAME / name
        try:
            await self._run(self.context.db.snapshot, directory, not skip_head)
        except Exception as err:
            log.exception("snapshot failed")
            return _error(500, "internal", f"create snapshot: {err}")
        log.info("snapshot created", extra={"snapshot": name, "skip_head": skip_head})
        return _answer(200, {"status": "success", "data": {"name": name}})

    async def delete_series(self, form: dict[str, list[str]]) -> web.Response:
        """``match[]`` (required, repeated), ``start``/``end`` (default: all time): 204."""
        selectors = form.get("match[]") or []
        if not selectors:
            raise BadParameterError("no match[] parameter provided")
        try:
            start = params.parse_time(form["start"][-1], "start") if form.get("start") else params.MIN_TIME_MS
            end = params.parse_time(form["end"][-1], "end") if form.get("end") else params.MAX_TIME_MS
        except InvalidArgumentError as err:
            raise BadParameterError(str(err)) from err
        matcher_sets = []
        for selector in selectors:
            try:
                matcher_sets.append(self.context.backend.parse_matchers(selector))
            except (ParseError, InvalidArgumentError) as err:
                raise BadParameterError(f'invalid parameter "match[]": {err}') from err
        for matchers in matcher_sets:
            await self._run(self.context.db.delete, matchers, start, end)
        log.info("series deleted", extra={"match": ",".join(selectors), "start": start, "end": end})
        return _answer(204)

    async def clean_tombstones(self, form: dict[str, list[str]]) -> web.Response:
        """Rewrites blocks (and tier files) without deleted data: 204."""
        rewritten = await self._run(self.context.db.clean_tombstones)
        log.info("tombstones cleaned", extra={"blocks": ",".join(rewritten)})
        return _answer(204)

    async def start(self) -> None:
        return None

    async def prepare_reload(self, config: ServerConfig) -> Reload:
        return UNCHANGED

    async def stop(self) -> None:
        return None


def build(context: ServerContext) -> AdminComponent:
    """Always built: whether the endpoints answer is the access layer's decision."""
    return AdminComponent(context)
