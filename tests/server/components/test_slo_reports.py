"""The SLO reports component in-process: its schedule delivers through the server's engine with an injected
clock, and a reload with a bad ``slos.reports`` entry is refused naming it, leaving the schedule alone."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiohttp import web

from tests.aiohttp_thread import AiohttpThread
from tests.server.components.context import server_context, with_sections
from tests.slo.report_data import utc, write_month, write_spec
from tsdb.errors import ConfigError
from tsdb.server.components.slo_reports import SLOReportsComponent
from tsdb.slo.report_period import month_period


def test_schedule_and_reload(tmp_path: Path) -> None:
    november = month_period("2026-11")
    outage = utc("2026-11-10T12:00")
    write_month(tmp_path / "data", november.start_s, november.end_s, [(outage, outage + 1800)])
    received: list[dict[str, object]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response()

    app = web.Application()
    app.router.add_post("/", hook)
    peer = AiohttpThread(app)
    spec = str(write_spec(tmp_path))
    slos = {"files": [spec], "reports": [{"name": "m", "trend": 0, "webhook": {"url": peer.url + "/"}}]}
    clock = [float(utc("2026-11-20T00:00"))]

    async def scenario() -> None:
        with server_context(tmp_path, slos=slos) as context:
            component = SLOReportsComponent(context, clock=lambda: clock[0])
            try:
                assert await component.scheduler.tick() == []
                clock[0] = utc("2026-12-01T00:10")
                [delivered] = await component.scheduler.tick()
                assert delivered.status == "delivered"
                data = received[0]["data"]
                assert isinstance(data, dict)
                assert round(data["slos"][0]["attained_percent"], 4) == 99.9306
                bad = {**slos, "reports": [{"name": "m", "format": "docx", "webhook": {"url": peer.url}}]}
                with pytest.raises(ConfigError, match=r"slos.reports\[0\] \(m\).format: unknown report format"):
                    await component.prepare_reload(with_sections(context, slos=bad))
                assert component.config.reports[0].format == "html"
                reload = await component.prepare_reload(with_sections(context, slos={"files": [spec]}))
                await reload.apply()
                assert component.config.reports == ()
            finally:
                await component.stop()

    try:
        asyncio.run(scenario())
    finally:
        peer.close()
    assert json.dumps(received)  # what was posted is plain JSON
