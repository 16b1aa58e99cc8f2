"""The scrape component's reload: targets added on reload are scraped (a real aiohttp target on
127.0.0.1), removed ones stop, a bad section raises and changes nothing; ``/api/v1/targets`` answers empty
lists while scraping is not configured, as Prometheus does without scrape configs."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from tests.aiohttp_thread import AiohttpThread
from tests.server.components.context import server_context, with_sections
from tsdb.errors import ConfigError
from tsdb.server.components import scrape


def _target() -> AiohttpThread:
    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text="# TYPE reload_probe gauge\nreload_probe 7\n")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    return AiohttpThread(app)


def _section(*targets: str, job: str = "probe") -> dict[str, Any]:
    return {"scrape_configs": [{"job_name": job, "scrape_interval": "1s", "scrape_timeout": "1s",
                                "static_configs": [{"targets": list(targets)}]}]}


def test_scrape_reload(tmp_path: Path) -> None:
    target = _target()

    async def scenario() -> None:
        with server_context(tmp_path) as context:
            component = scrape.build(context)
            await component.start()
            try:
                # no scrape config: empty lists, as Prometheus answers with no scrape_configs
                response = await component.targets(make_mocked_request("GET", "/api/v1/targets"))
                assert json.loads(response.text) == {"status": "success",
                                                     "data": {"activeTargets": [], "droppedTargets": []}}
                address = f"127.0.0.1:{target.port}"
                plan = await component.prepare_reload(with_sections(context, scrape=_section(address)))
                assert component.manager.targets == {}
                await plan.apply()
                deadline = time.monotonic() + 20
                while not context.query("reload_probe", int(time.time() * 1000)).labels:  # scraped and stored
                    assert time.monotonic() < deadline, component.manager.targets_data()
                    await asyncio.sleep(0.1)
                response = await component.targets(make_mocked_request("GET", "/api/v1/targets"))
                assert b'"scrapePool": "probe"' in response.body  # type: ignore[operator]

                for bad in ({"scrape_configs": [{"job_name": "x", "scrape_interval": "often"}]},
                            {"bogus": 1}, {"config_file": str(tmp_path / "missing.yml")},
                            {"scrape_configs": _section(address)["scrape_configs"] * 2}):
                    with pytest.raises(ConfigError):
                        await component.prepare_reload(with_sections(context, scrape=bad))
                assert len(component.manager.targets) == 1

                await (await component.prepare_reload(with_sections(context, scrape={}))).apply()
                assert component.manager.targets == {}
                response = await component.targets(make_mocked_request("GET", "/api/v1/targets"))
                assert json.loads(response.text)["data"]["activeTargets"] == []
            finally:
                await component.stop()

    try:
        asyncio.run(scenario())
    finally:
        target.close()
