"""Error budgets of the configured SLOs (``slos:``) as a server component: ``GET /api/v1/slos`` and
``GET /api/v1/slos/{id}`` (docs/slo.md, "Error budgets"). Always built; lists nothing while no specs are
configured. A reload re-reads the spec files (a bad one fails the reload, as for the rules component).

Answers use Prometheus's envelope: ``{"status": "success", "data": ...}``, or ``{"status": "error",
"errorType": ..., "error": ...}`` with 400 ``bad_data`` for bad parameters and 404 ``not_found`` for an
unknown SLO id. The numbers are computed by :mod:`tsdb.slo.status`."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from aiohttp import web

from tsdb.config import ServerConfig
from tsdb.errors import InvalidArgumentError
from tsdb.rules.manager import RuleManager
from tsdb.server.components.base import Reload, ServerContext
from tsdb.server.params import parse_time
from tsdb.slo.config import SLOsConfig
from tsdb.slo.status import ConfiguredSLO, by_remaining_budget, load_slos, matches, parse_label_filters, status

log = logging.getLogger("tsdb.http")


class _NotFoundError(Exception):
    """An unknown SLO id (404 ``not_found``)."""


def _json(data: Any, status_code: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data, separators=(",", ":"), allow_nan=False), status=status_code,
                        content_type="application/json")


def _error(err: Exception) -> web.Response:
    """Prometheus's error envelope: 400 ``bad_data``, 404 ``not_found``, 500 ``internal``."""
    if isinstance(err, _NotFoundError):
        kind, status_code = "not_found", 404
    elif isinstance(err, (InvalidArgumentError, ValueError)):
        kind, status_code = "bad_data", 400
    else:
        log.exception("SLO status failed")
        kind, status_code = "internal", 500
    return _json({"status": "error", "errorType": kind, "error": str(err)}, status_code)


def _time_ms(request: web.Request) -> int:
    text = request.query.get("time", "")
    return parse_time(text, "time") if text else int(time.time() * 1000)


class SLOsComponent:
    """Serves the status of the SLOs of the ``slos:`` spec files."""

    name = "slos"

    def __init__(self, context: ServerContext, config: SLOsConfig) -> None:
        self.context = context
        self.config = config
        self.slos: list[ConfiguredSLO] = load_slos(config)

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.get("/api/v1/slos", self.list), web.get("/api/v1/slos/{id}", self.detail)]

    def _manager(self) -> RuleManager | None:
        getter = self.context.services.rule_manager
        return None if getter is None else getter()

    async def _statuses(self, items: list[ConfiguredSLO], t_ms: int, detail: bool) -> list[dict[str, Any]]:
        manager, query = self._manager(), self.context.query

        def compute() -> list[dict[str, Any]]:
            return [status(item, query, t_ms, manager, detail) for item in items]

        return await asyncio.get_running_loop().run_in_executor(self.context.executor, compute)

    async def list(self, request: web.Request) -> web.Response:
        """Every SLO passing ``search`` and ``label`` (``name=value``, repeatable), least budget left first."""
        try:
            t_ms = _time_ms(request)
            labels = parse_label_filters(request.query.getall("label", []))
            search = request.query.get("search", "")
            chosen = [item for item in self.slos if matches(item, search, labels)]
            found = by_remaining_budget(await self._statuses(chosen, t_ms, False))
        except Exception as err:
            return _error(err)
        return _json({"status": "success", "data": found})

    async def detail(self, request: web.Request) -> web.Response:
        """One SLO with its chart ``queries``; 404 ``not_found`` for an unknown id."""
        slo_id = request.match_info["id"]
        try:
            t_ms = _time_ms(request)
            chosen = [item for item in self.slos if item.slo.id == slo_id]
            if not chosen:
                raise _NotFoundError(f"SLO {slo_id!r} not found: no SLO of the slos: spec files has this id")
            found = (await self._statuses(chosen, t_ms, True))[0]
        except Exception as err:
            return _error(err)
        return _json({"status": "success", "data": found})

    async def start(self) -> None:
        return None

    async def prepare_reload(self, config: ServerConfig) -> Reload:
        new = SLOsConfig.from_raw(config.slos)
        slos = await asyncio.get_running_loop().run_in_executor(self.context.executor, load_slos, new)

        async def apply() -> None:
            self.config, self.slos = new, slos

        return Reload(apply, changed=slos != self.slos or new != self.config)

    async def stop(self) -> None:
        return None


def build(context: ServerContext) -> Any:
    """The component (answers an empty list while no SLO specs are configured)."""
    return SLOsComponent(context, SLOsConfig.from_raw(context.config.slos))
