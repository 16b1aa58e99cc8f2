"""Correlation and flap detection as a server component (``notifications.correlation``) and
``GET /api/v1/incidents``; on by default (``correlation: {enabled: false}`` turns it off, and turning it on or
off while running needs a restart). A reload applies a new window, grouping labels and flapping thresholds;
open incidents and flap histories are kept."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from tsdb.alerting.correlation import DEFAULT_LABELS, Correlator
from tsdb.alerting.flapping import FlapDetector
from tsdb.config import ServerConfig, parse_duration_ms
from tsdb.errors import ConfigError, TsdbError
from tsdb.server.components.base import UNCHANGED, Reload, ServerContext


def _parse(section: dict[str, Any]) -> tuple[float, tuple[str, ...], int, float]:
    """(window s, labels, flapping changes, flapping window s) of a ``correlation`` section."""
    unknown = sorted(set(map(str, section)) - {"enabled", "window", "labels", "flapping"})
    if unknown:
        raise ConfigError(f"notifications.correlation: unknown key {unknown[0]!r}")
    try:
        window = parse_duration_ms(section.get("window") or "5m", "notifications.correlation.window") / 1000
        flap = section.get("flapping") or {}
        flap_window = parse_duration_ms(flap.get("window") or "1h", "notifications.correlation.flapping") / 1000
    except TsdbError as err:
        raise ConfigError(str(err)) from err
    return window, tuple(section.get("labels") or DEFAULT_LABELS), int(flap.get("changes") or 4), flap_window


def _section(config: ServerConfig) -> dict[str, Any]:
    return dict((config.notifications or {}).get("correlation") or {})


class IncidentsComponent:
    name = "incidents"

    def __init__(self, context: ServerContext, section: dict[str, Any]) -> None:
        self.section = section
        window, labels, changes, flap_window = _parse(section)
        self.correlator = Correlator(window, labels)
        self.flapping = FlapDetector(changes, flap_window)
        dispatcher = context.services.dispatcher
        assert dispatcher is not None, "incidents are built after notifications"
        dispatcher.add_hook(self.flapping)
        dispatcher.add_hook(self.correlator)

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.get("/api/v1/incidents", self.incidents)]

    async def incidents(self, request: web.Request) -> web.Response:
        body = json.dumps({"status": "success", "data": self.correlator.data(time.time())})
        return web.Response(text=body, content_type="application/json")

    async def start(self) -> None:
        return None

    async def prepare_reload(self, config: ServerConfig) -> Reload:
        section = _section(config)
        if section.get("enabled") is False:
            raise ConfigError("notifications.correlation.enabled: turning correlation off needs a restart")
        if section == self.section:
            return UNCHANGED
        window, labels, changes, flap_window = _parse(section)

        async def apply() -> None:
            self.section = section
            self.correlator.window_s, self.correlator.labels = window, labels
            self.flapping.changes, self.flapping.window_s = changes, flap_window

        return Reload(apply)

    async def stop(self) -> None:
        return None


def wanted(config: ServerConfig) -> bool:
    """Whether ``config`` turns correlation on (the server checks this on reload when it is off)."""
    return _section(config).get("enabled") is not False


def build(context: ServerContext) -> Any:
    if not wanted(context.config) or context.services.dispatcher is None:
        return None
    return IncidentsComponent(context, _section(context.config))
