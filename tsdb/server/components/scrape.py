"""Scraping as a server component (``scrape:`` config section) and ``GET /api/v1/targets``.

Always built; it scrapes nothing (and ``/api/v1/targets`` answers empty lists) while the section is empty. A
reload re-reads the section (and its ``config_file``): new targets start, removed ones stop with stale
markers, unchanged ones keep running."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tsdb.config import ServerConfig
from tsdb.scrape.config import parse_scrape_section
from tsdb.scrape.manager import ScrapeManager
from tsdb.server.components.base import UNCHANGED, Reload, ServerContext


class ScrapeComponent:
    name = "scrape"

    def __init__(self, context: ServerContext) -> None:
        self.section = dict(context.config.scrape or {})
        self.manager = ScrapeManager(parse_scrape_section(self.section), context.db, context.executor,
                                     metadata=context.db.metadata)

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.get("/api/v1/targets", self.targets)]

    async def targets(self, request: web.Request) -> web.Response:
        state = request.query.get("state", "any")
        body = json.dumps({"status": "success", "data": self.manager.targets_data(state)})
        return web.Response(text=body, content_type="application/json")

    async def start(self) -> None:
        await self.manager.start()

    async def prepare_reload(self, config: ServerConfig) -> Reload:
        section = dict(config.scrape or {})
        jobs = parse_scrape_section(section)  # re-reads scrape.config_file
        if jobs == self.manager.jobs and bool(section) == bool(self.section):
            return UNCHANGED

        async def apply() -> None:
            self.section = section
            await self.manager.apply(jobs)

        return Reload(apply)

    async def stop(self) -> None:
        await self.manager.stop()


def build(context: ServerContext) -> Any:
    return ScrapeComponent(context)
