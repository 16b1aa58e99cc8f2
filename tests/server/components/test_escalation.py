"""Escalation through a real server: an unacknowledged group reaches the second step's receiver, a GET of
the ack link or the ack endpoint changes nothing, a POST stops it, and the on-call endpoint answers who is
on call; notifications without any escalation configuration carry the ack link too. Reload: new
policies and schedules apply in place (acks kept); bad ones raise before anything changes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.alerting.receivers.test_channels import Endpoint, _serve
from tests.server.components.context import server_context, with_sections
from tsdb.config import ServerConfig
from tsdb.errors import ConfigError
from tsdb.server.app import Server
from tsdb.server.components import escalation, notifications


def test_escalate_then_ack(tmp_path: Path) -> None:
    pager, lead = Endpoint(), Endpoint()

    async def scenario() -> dict[str, Any]:
        (r1, pager_url), (r2, lead_url) = await _serve(pager), await _serve(lead)
        config = ServerConfig(
            data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
            notifications={
                "config": {"route": {"receiver": "pager", "group_wait": "0s", "group_interval": "1h"},
                           "receivers": [{"name": "pager", "webhook_configs": [{"url": pager_url}]},
                                         {"name": "lead", "webhook_configs": [{"url": lead_url}]}]},
                "escalation": {"policies": {"p": {"steps": [{"wait": "1s", "notify": "lead"},
                                                            {"wait": "1h", "notify": "lead"}]}},
                               "routes": {"pager": "p"}},
                "oncall": {"users": {"ann": {"email": "ann@example.com"}},
                           "schedules": {"s": {"layers": [{"users": ["ann"], "start": "2020-01-01"}]}}}})
        server = Server(config)
        await server.start()
        out: dict[str, Any] = {}
        try:
            base = f"http://127.0.0.1:{server.http_port}"
            async with aiohttp.ClientSession() as session:
                async with session.post(base + "/api/v2/alerts", json=[{"labels": {"alertname": "Down"}}]) as r:
                    assert r.status == 200
                deadline = time.monotonic() + 20
                while not lead.requests and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                first = await _json(pager.requests[0]["body"])
                ack_url = first["tsdb"]["ack_url"]
                out["ack_url"] = ack_url
                token = ack_url.rpartition("/")[2]
                async with session.get(ack_url) as r:  # what a link previewer does
                    out["page"] = (r.status, await r.text())
                api = f"{base}/api/v1/alerts/groups/{token}/ack"
                async with session.get(api, allow_redirects=False) as r:
                    out["get_api"] = (r.status, r.headers.get("Location"))
                async with session.get(base + "/api/v1/escalations") as r:
                    out["after_get"] = await r.json()
                async with session.get(f"{base}/api/v1/alerts/groups/{token}") as r:
                    out["group"] = await r.json()
                async with session.post(api, data={"by": "ann", "comment": "on it"}) as r:
                    out["ack"] = (r.status, await r.json())
                async with session.get(base + "/api/v1/escalations") as r:
                    out["escalations"] = await r.json()
                async with session.get(base + "/api/v1/oncall/s", params={"at": "2026-01-01T00:00:00Z"}) as r:
                    out["oncall"] = await r.json()
                async with session.get(base + "/api/v1/oncall/none") as r:
                    out["missing"] = r.status
        finally:
            await server.stop()
            await r1.cleanup()
            await r2.cleanup()
        return out

    out = asyncio.run(scenario())
    assert len(pager.requests) == 1 and len(lead.requests) == 1  # step 1 reached the lead
    assert out["ack_url"].startswith("http://127.0.0.1:") and "/ui/ack/" in out["ack_url"]
    assert out["page"][0] == 200 and "<html" in out["page"][1]  # the confirmation page, not an action
    assert out["get_api"][0] == 303 and out["get_api"][1].startswith("/ui/ack/")
    before = out["after_get"]["data"]
    assert before["acks"] == [] and len(before["escalations"]) == 1  # GETs acknowledged nothing
    group = out["group"]["data"]
    assert group["escalation"]["step"] == 2 and group["ack"] is None
    assert [a["labels"] for a in group["alerts"]] == [{"alertname": "Down"}]
    assert any("step 1: notified lead" in e["event"] for e in group["history"])
    assert out["ack"][0] == 200 and out["ack"][1]["data"]["by"] == "ann"
    data = out["escalations"]["data"]
    assert data["escalations"] == [] and data["acks"][0]["by"] == "ann" and data["acks"][0]["comment"] == "on it"
    assert "acknowledged by ann: on it" in data["groups"][0]["history"][-1]["event"]
    assert out["oncall"]["data"]["user"]["name"] == "ann" and out["missing"] == 404


async def _json(body: bytes) -> Any:
    import json

    return json.loads(body)


def _notifications(steps: int = 1, user: str = "ann", **extra: Any) -> dict[str, Any]:
    return {"escalation": {"policies": {"p": {"steps": [{"wait": "1m", "notify": "default"}] * steps}},
                           "routes": {"default": "p"}},
            "oncall": {"users": {user: {"email": f"{user}@example.com"}},
                       "schedules": {"s": {"layers": [{"users": [user], "start": "2020-01-01"}]}}},
            **extra}


def test_escalation_reload(tmp_path: Path) -> None:
    async def scenario() -> None:
        with server_context(tmp_path, notifications=_notifications()) as context:
            notifications.build(context)
            component = escalation.build(context)
            assert component is not None
            component.hook.acks["g"] = {"by": "ann", "comment": "", "at": 0.0, "alerts": []}
            old_users = component.user_receivers
            plan = await component.prepare_reload(with_sections(context, notifications=_notifications(2, "bob")))
            assert len(component.hook.policies["p"].steps) == 1  # not yet
            await plan.apply()
            assert len(component.hook.policies["p"].steps) == 2
            assert component.oncall.who_is_on_call("s", 1.8e9)[0].name == "bob"
            assert component.hook.oncall is component.oncall and component.user_receivers is not old_users
            assert "g" in component.hook.acks  # state kept
            same = await component.prepare_reload(with_sections(context, notifications=_notifications(2, "bob")))
            assert not same.changed
            bad = _notifications(2, "bob")
            bad["escalation"]["routes"] = {"default": "nope"}
            with pytest.raises(ConfigError):
                await component.prepare_reload(with_sections(context, notifications=bad))
            assert len(component.hook.policies["p"].steps) == 2
            await component.stop()

    asyncio.run(scenario())


def test_link_without_escalation_config(tmp_path: Path) -> None:
    """No escalation or on-call section: the webhook still receives the ack link, and a POST to it works."""
    hook = Endpoint()

    async def scenario() -> dict[str, Any]:
        runner, url = await _serve(hook)
        config = ServerConfig(
            data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
            notifications={"config": {"route": {"receiver": "hook", "group_wait": "0s"},
                                      "receivers": [{"name": "hook", "webhook_configs": [{"url": url}]}]}})
        server = Server(config)
        await server.start()
        out: dict[str, Any] = {}
        try:
            base = f"http://127.0.0.1:{server.http_port}"
            async with aiohttp.ClientSession() as session:
                async with session.post(base + "/api/v2/alerts", json=[{"labels": {"alertname": "Up"}}]) as r:
                    assert r.status == 200
                deadline = time.monotonic() + 20
                while not hook.requests and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                body = await _json(hook.requests[0]["body"])
                out["ack_url"] = body["tsdb"]["ack_url"]
                token = out["ack_url"].rpartition("/")[2]
                async with session.post(f"{base}/api/v1/alerts/groups/{token}/ack", json={"by": "zoe"}) as r:
                    out["ack"] = r.status
                async with session.get(f"{base}/api/v1/alerts/groups/{token}") as r:
                    out["group"] = (await r.json())["data"]
        finally:
            await server.stop()
            await runner.cleanup()
        return out

    out = asyncio.run(scenario())
    assert out["ack_url"].startswith("http://127.0.0.1:") and "/ui/ack/" in out["ack_url"]
    assert out["ack"] == 200 and out["group"]["ack"]["by"] == "zoe" and out["group"]["escalation"] is None
