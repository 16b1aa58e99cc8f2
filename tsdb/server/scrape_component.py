"""Scraping as a server component (``scrape:`` config section) and ``GET /api/v1/targets``."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tsdb.scrape.config import parse_scrape_section
from tsdb.scrape.manager import ScrapeManager
from tsdb.server.components import ServerContext


class ScrapeComponent:
    name = "scrape"

    def __init__(self, context: ServerContext) -> None:
        self.context = context
        self.manager = ScrapeManager(parse_scrape_section(context.config.scrape), context.db, context.executor)
        context.services["scrape"] = self.manager

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.get("/api/v1/targets", self.targets)]

    async def targets(self, request: web.Request) -> web.Response:
        state = request.query.get("state", "any")
        body = json.dumps({"status": "success", "data": self.manager.targets_data(state)})
        return web.Response(text=body, content_type="application/json")

    async def start(self) -> None:
        await self.manager.start()

    async def reload(self) -> None:
        await self.manager.apply(parse_scrape_section(self.context.config.scrape))

    async def stop(self) -> None:
        await self.manager.stop()


def build(context: ServerContext) -> Any:
    if not context.config.scrape:
        return None
    return ScrapeComponent(context)
