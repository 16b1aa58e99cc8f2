"""Correlation and flap detection as a server component (``notifications.correlation``) and
``GET /api/v1/incidents``; on by default (``correlation: {enabled: false}`` turns it off)."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from tsdb.alerting.correlation import DEFAULT_LABELS, Correlator
from tsdb.alerting.flapping import FlapDetector
from tsdb.config import parse_duration_ms
from tsdb.errors import ConfigError, TsdbError
from tsdb.server.components import ServerContext


class IncidentsComponent:
    name = "incidents"

    def __init__(self, context: ServerContext, section: dict[str, Any]) -> None:
        unknown = sorted(set(map(str, section)) - {"enabled", "window", "labels", "flapping"})
        if unknown:
            raise ConfigError(f"notifications.correlation: unknown key {unknown[0]!r}")
        try:
            window = parse_duration_ms(section.get("window") or "5m", "notifications.correlation.window") / 1000
            flap = section.get("flapping") or {}
            flap_window = parse_duration_ms(flap.get("window") or "1h", "notifications.correlation.flapping") / 1000
        except TsdbError as err:
            raise ConfigError(str(err)) from err
        self.correlator = Correlator(window, tuple(section.get("labels") or DEFAULT_LABELS))
        self.flapping = FlapDetector(int(flap.get("changes") or 4), flap_window)
        dispatcher = context.services["dispatcher"]
        dispatcher.add_hook(self.flapping)
        dispatcher.add_hook(self.correlator)

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.get("/api/v1/incidents", self.incidents)]

    async def incidents(self, request: web.Request) -> web.Response:
        body = json.dumps({"status": "success", "data": self.correlator.data(time.time())})
        return web.Response(text=body, content_type="application/json")

    async def start(self) -> None:
        return None

    async def reload(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def build(context: ServerContext) -> Any:
    section = dict((context.config.notifications or {}).get("correlation") or {})
    if section.get("enabled") is False or "dispatcher" not in context.services:
        return None
    return IncidentsComponent(context, section)
