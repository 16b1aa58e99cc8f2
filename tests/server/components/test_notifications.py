"""The notification component's reload: new receivers take over (real webhook endpoints on 127.0.0.1), an
unchanged section changes nothing, a bad one raises before anything changes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from tests.alerting.receivers.test_channels import Endpoint, _serve
from tests.server.components.context import server_context, with_sections
from tsdb.alerting.model import Alert
from tsdb.errors import ConfigError
from tsdb.server.components import notifications


def _section(url: str, receiver: str = "hook") -> dict[str, Any]:
    return {"config": {"route": {"receiver": receiver, "group_wait": "0s", "group_interval": "1s"},
                       "receivers": [{"name": receiver, "webhook_configs": [{"url": url}]}]}}


async def _until(check: Any, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not met"
        await asyncio.sleep(0.05)


def test_reload_switches_receivers(tmp_path: Path) -> None:
    first, second = Endpoint(), Endpoint()

    async def scenario() -> None:
        (r1, url1), (r2, url2) = await _serve(first), await _serve(second)
        with server_context(tmp_path, notifications=_section(url1)) as context:
            component = notifications.build(context)
            await component.start()
            try:
                context.services.notifier.send([Alert({"alertname": "A"}, starts_at=time.time())])
                await _until(lambda: first.requests)
                old_receivers = context.services.receivers
                plan = await component.prepare_reload(with_sections(context, notifications=_section(url2, "new")))
                assert context.services.receivers is old_receivers  # phase 1 changes nothing
                await plan.apply()
                assert context.services.receivers is component.receivers is not old_receivers
                assert component.dispatcher.config.route.receiver == "new"
                assert "new" in component.api.config_text
                context.services.notifier.send([Alert({"alertname": "B"}, starts_at=time.time())])
                await _until(lambda: second.requests)
                # the server's counters keep counting the new receivers' deliveries
                registry = context.metrics.registry
                await _until(lambda: registry.get_sample_value(
                    "tsdb_notifications_total", {"receiver": "new", "integration": "webhook"}) == 1)
                # the same section again: nothing to do (group timers keep running)
                same = await component.prepare_reload(with_sections(context, notifications=_section(url2, "new")))
                assert not same.changed
            finally:
                await component.stop()
                await r1.cleanup()
                await r2.cleanup()

    asyncio.run(scenario())
    assert b"alertname" in second.requests[0]["body"]


@pytest.mark.parametrize("bad", [
    {"config": {"route": {"receiver": "missing"}, "receivers": [{"name": "hook"}]}},
    {"resolve_timeout": "soon"},
    {"unknown": 1},
    {"config_file": "/nonexistent/am.yml"},
    {"rate_limits": {"hook": {"burst": 2}}},
])
def test_bad_section_raises_and_changes_nothing(tmp_path: Path, bad: dict[str, Any]) -> None:
    async def scenario() -> None:
        with server_context(tmp_path, notifications=_section("http://127.0.0.1:9/")) as context:
            component = notifications.build(context)
            before = (component.receivers, component.dispatcher.config, component.text)
            section = {**_section("http://127.0.0.1:9/"), **bad} if "config" not in bad else bad
            with pytest.raises(ConfigError):
                await component.prepare_reload(with_sections(context, notifications=section))
            assert (component.receivers, component.dispatcher.config, component.text) == before
            await component.stop()

    asyncio.run(scenario())


def test_resolve_timeout_reloads(tmp_path: Path) -> None:
    async def scenario() -> None:
        with server_context(tmp_path) as context:
            component = notifications.build(context)
            plan = await component.prepare_reload(with_sections(context, notifications={"resolve_timeout": "1m"}))
            assert plan.changed
            await plan.apply()
            assert component.dispatcher.resolve_timeout_s == 60
            await component.stop()

    asyncio.run(scenario())
