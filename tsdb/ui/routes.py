"""The dashboards HTTP API (docs/dashboards.md, "HTTP API"): plain JSON, errors ``{"error": ...}`` with 400
(bad input), 403 (built-in or provisioned dashboards are read-only), 404 (no such dashboard or version) and
409 (version conflict or uid taken). Saved dashboards live in a :class:`DashboardStore`; read-only ones
(built-in and provisioned) shadow stored ones with the same uid. SQLite calls run on the executor."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from functools import partial
from typing import Any, TypeVar

from aiohttp import web

from tsdb.errors import (
    DashboardConflictError,
    DashboardError,
    DashboardNotFoundError,
    DashboardReadOnlyError,
    InvalidArgumentError,
)
from tsdb.ui.grafana import export_grafana, import_grafana, is_tsdb_model
from tsdb.ui.model import normalise
from tsdb.ui.provisioning import ReadOnlyDashboard
from tsdb.ui.store import DashboardStore
from tsdb.ui.store import diff as diff_models

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_STATUS: list[tuple[type[Exception], int]] = [
    (DashboardNotFoundError, 404), (DashboardConflictError, 409), (DashboardReadOnlyError, 403),
    (InvalidArgumentError, 400)]


def dashboard_url(uid: str) -> str:
    return f"/ui/d/{uid}"


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data, ensure_ascii=False), status=status, content_type="application/json")


def _errors(handler: Handler) -> Handler:
    """Answer tsdb's dashboard errors as ``{"error": message}`` with their status."""
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except tuple(cls for cls, _ in _STATUS) as err:
            status = next(code for cls, code in _STATUS if isinstance(err, cls))
            return _json({"error": str(err)}, status)
        except RecursionError:
            return _json({"error": "dashboard: nested too deeply"}, 400)
    return wrapped


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


async def _body(request: web.Request) -> Any:
    try:
        # NaN and Infinity would be stored and then break every browser's JSON.parse
        return json.loads(await request.read() or b"null", parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as err:
        raise DashboardError(f"body: invalid JSON: {err}") from err
    except RecursionError:
        raise DashboardError("body: JSON nested too deeply") from None


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DashboardError(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value


def _flag(value: Any, where: str) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    raise DashboardError(f"{where}: expected true or false, got {value!r}")


def _int_param(request: web.Request, name: str) -> int:
    text = request.query.get(name, "")
    try:
        return int(text)
    except ValueError:
        raise DashboardError(f"{name}: expected a version number, got {text!r}") from None


class DashboardApi:
    """The API routes over a store; ``read_only`` (uid -> dashboard) is replaced on reload."""

    def __init__(self, store: DashboardStore, executor: Executor | None = None) -> None:
        self.store = store
        self.executor = executor
        self.read_only: dict[str, ReadOnlyDashboard] = {}

    def routes(self) -> list[web.AbstractRouteDef]:
        base = "/api/v1/dashboards"
        return [web.get(base, _errors(self.search)), web.post(base, _errors(self.create)),
                web.post(f"{base}/import", _errors(self.import_)),
                web.get(base + "/{uid}", _errors(self.get)), web.put(base + "/{uid}", _errors(self.put)),
                web.delete(base + "/{uid}", _errors(self.delete)),
                web.get(base + "/{uid}/versions", _errors(self.versions)),
                web.get(base + "/{uid}/versions/{version}", _errors(self.version)),
                web.get(base + "/{uid}/diff", _errors(self.diff)),
                web.post(base + "/{uid}/restore", _errors(self.restore)),
                web.get(base + "/{uid}/export", _errors(self.export))]

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, partial(fn, *args, **kwargs))

    def _writable(self, uid: str) -> None:
        item = self.read_only.get(uid)
        if item is not None:
            raise DashboardReadOnlyError(f"dashboard {uid!r} is {item.source} and read-only; save a copy "
                                         "under another uid to change it")

    async def search(self, request: web.Request) -> web.Response:
        query = request.query.get("query", "")
        tags = request.query.getall("tag", [])
        items = [{**item, "source": "api"} for item in await self._run(self.store.search, query, tags)
                 if item["uid"] not in self.read_only]
        needle = query.casefold()
        for uid, ro in self.read_only.items():
            model = ro.dashboard
            if needle in model["title"].casefold() and all(t in model["tags"] for t in tags):
                items.append({"uid": uid, "title": model["title"], "tags": model["tags"], "version": model["version"],
                              "updated": ro.loaded, "source": ro.source})
        items.sort(key=lambda item: (item["title"].casefold(), item["uid"]))
        return _json([{"uid": i["uid"], "title": i["title"], "tags": i["tags"], "version": i["version"],
                       "updated": i["updated"], "url": dashboard_url(i["uid"]), "source": i["source"]}
                      for i in items])

    async def _current(self, uid: str) -> tuple[dict[str, Any], dict[str, Any]]:
        ro = self.read_only.get(uid)
        if ro is not None:
            return ro.dashboard, {"version": ro.dashboard["version"], "created": ro.loaded, "updated": ro.loaded,
                                  "source": ro.source, "url": dashboard_url(uid)}
        model, meta = await self._run(self.store.get, uid)
        return model, {**meta, "source": "api", "url": dashboard_url(uid)}

    async def get(self, request: web.Request) -> web.Response:
        model, meta = await self._current(request.match_info["uid"])
        return _json({"dashboard": model, "meta": meta})

    async def _save(self, body: Any, uid: str | None) -> web.Response:
        body = _object(body, "body")
        dashboard = dict(_object(body.get("dashboard"), "dashboard"))
        message = body.get("message") or ""
        if not isinstance(message, str):
            raise DashboardError("message: expected a string")
        if uid is not None:
            if dashboard.get("uid") not in (None, "", uid):
                raise DashboardError(f"dashboard.uid: {dashboard['uid']!r} does not match the URL's uid {uid!r}")
            dashboard["uid"] = uid
        model = normalise(dashboard)
        self._writable(model["uid"])
        saved = await self._run(self.store.save, model, message, _flag(body.get("overwrite"), "overwrite"))
        return _json({"uid": saved["uid"], "version": saved["version"], "url": dashboard_url(saved["uid"])})

    async def create(self, request: web.Request) -> web.Response:
        return await self._save(await _body(request), None)

    async def put(self, request: web.Request) -> web.Response:
        return await self._save(await _body(request), request.match_info["uid"])

    async def delete(self, request: web.Request) -> web.Response:
        uid = request.match_info["uid"]
        self._writable(uid)
        await self._run(self.store.delete, uid)
        return _json({"uid": uid, "deleted": True})

    async def versions(self, request: web.Request) -> web.Response:
        uid = request.match_info["uid"]
        ro = self.read_only.get(uid)
        if ro is not None:
            return _json([{"version": ro.dashboard["version"], "created": ro.loaded, "message": ro.source}])
        return _json(await self._run(self.store.versions, uid))

    async def _version(self, uid: str, version: int) -> dict[str, Any]:
        ro = self.read_only.get(uid)
        if ro is None:
            return await self._run(self.store.version, uid, version)
        if version != ro.dashboard["version"]:
            raise DashboardNotFoundError(f"dashboard {uid!r} has no version {version}")
        return {"dashboard": ro.dashboard, "version": version, "created": ro.loaded, "message": ro.source}

    async def version(self, request: web.Request) -> web.Response:
        text = request.match_info["version"]
        if not text.isdigit():
            raise DashboardNotFoundError(f"dashboard {request.match_info['uid']!r} has no version {text!r}")
        return _json(await self._version(request.match_info["uid"], int(text)))

    async def diff(self, request: web.Request) -> web.Response:
        uid = request.match_info["uid"]
        old, new = _int_param(request, "from"), _int_param(request, "to")
        a, b = await self._version(uid, old), await self._version(uid, new)
        changes = diff_models(a["dashboard"], b["dashboard"], f"{uid} version {old}", f"{uid} version {new}")
        return _json({"from": old, "to": new, **changes})

    async def restore(self, request: web.Request) -> web.Response:
        uid = request.match_info["uid"]
        body = _object(await _body(request), "body")
        version = body.get("version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise DashboardError(f"version: expected a version number, got {version!r}")
        message = body.get("message") or ""
        if not isinstance(message, str):
            raise DashboardError("message: expected a string")
        self._writable(uid)
        saved = await self._run(self.store.restore, uid, version, message)
        return _json({"uid": uid, "version": saved["version"], "url": dashboard_url(uid)})

    async def import_(self, request: web.Request) -> web.Response:
        overwrite = request.query.get("overwrite", "false").lower() in ("1", "true", "yes")
        raw = await _body(request)
        warnings: list[str] = []
        if isinstance(raw, dict) and is_tsdb_model(raw):
            model = normalise(raw)
            model.pop("version", None)
        else:  # checking every expression with the PromQL parser takes a while: off the event loop
            model, warnings = await self._run(import_grafana, raw)
        self._writable(model["uid"])
        saved = await self._run(self.store.save, model, "imported", overwrite)
        return _json({"uid": saved["uid"], "url": dashboard_url(saved["uid"]), "warnings": warnings})

    async def export(self, request: web.Request) -> web.Response:
        model, _ = await self._current(request.match_info["uid"])
        form = request.query.get("format", "")
        if form == "grafana":
            return _json(export_grafana(model))
        if form:
            raise DashboardError(f"format: unknown export format {form!r} (known: grafana)")
        return _json(model)
