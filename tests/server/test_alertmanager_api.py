"""The Alertmanager API v2 of a real tsdb server, driven by Debian's amtool, and the whole path from an
alerting rule to a webhook receiver (an aiohttp server on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from aiohttp import web

from tests.needs import needs_binary
from tsdb.config import ServerConfig
from tsdb.labels import Labels
from tsdb.server.app import Server
from tsdb.server.remote_write import compress_snappy, encode_write_request


def _amtool(url: str, *args: str) -> str:
    amtool = shutil.which("amtool")
    assert amtool is not None
    proc = subprocess.run([amtool, f"--alertmanager.url={url}", *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@needs_binary("amtool", package="prometheus-alertmanager")
def test_amtool_alerts_and_silences(tmp_path: Path) -> None:
    config = ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0")

    async def scenario() -> None:
        server = Server(config)
        await server.start()
        loop = asyncio.get_running_loop()
        url = f"http://127.0.0.1:{server.http_port}"

        def run(*args: str) -> str:
            return _amtool(url, *args)

        try:
            await loop.run_in_executor(None, run, "alert", "add", "alertname=DiskFull", "instance=db1",
                                       "severity=warning", "--annotation=summary=disk is full")
            out = await loop.run_in_executor(None, run, "alert", "query", "-o", "json")
            (alert,) = json.loads(out)
            assert alert["labels"] == {"alertname": "DiskFull", "instance": "db1", "severity": "warning"}
            assert alert["annotations"] == {"summary": "disk is full"} and alert["status"]["state"] == "active"
            silence_id = (await loop.run_in_executor(None, run, "silence", "add", "alertname=DiskFull",
                                                     "--comment=maintenance", "--author=ops", "-d", "1h")).strip()
            assert len(silence_id) == 36
            out = await loop.run_in_executor(None, run, "silence", "query", "-o", "json")
            (silence,) = json.loads(out)
            assert silence["id"] == silence_id and silence["status"]["state"] == "active"
            assert silence["createdBy"] == "ops" and silence["comment"] == "maintenance"
            out = await loop.run_in_executor(None, run, "alert", "query", "-o", "json", "--silenced")
            assert json.loads(out)[0]["status"]["silencedBy"] == [silence_id]
            await loop.run_in_executor(None, run, "silence", "expire", silence_id)
            out = await loop.run_in_executor(None, run, "silence", "query", "-o", "json", "--expired")
            assert json.loads(out)[0]["status"]["state"] == "expired"
            async with aiohttp.ClientSession() as session:
                async with session.get(url + "/api/v2/status") as response:
                    status = await response.json()
                assert status["cluster"]["status"] == "disabled" and "route" in status["config"]["original"]
                async with session.post(url + "/api/v2/alerts", json=[{"labels": {}}]) as response:
                    assert response.status == 400 and "labels" in await response.text()
        finally:
            await server.stop()

    asyncio.run(scenario())


def test_rule_to_webhook_end_to_end(tmp_path: Path) -> None:
    """An alerting rule fires; the built-in dispatcher groups it and the webhook receives Alertmanager's
    v4 body; when it resolves the webhook gets the resolved notification."""
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    rules = tmp_path / "rules.yml"
    rules.write_text("groups: [{name: e2e, interval: 1s, rules: [{alert: Overheat, expr: temp > 50, "
                     "labels: {severity: page}, annotations: {summary: 'temp {{ $value }}'}}]}]\n")

    async def scenario() -> None:
        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        config = ServerConfig(
            data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
            rules={"files": [str(rules)], "resend_delay": "1s"},
            notifications={"config": {
                "route": {"receiver": "web", "group_by": ["alertname"], "group_wait": "1s",
                          "group_interval": "1s", "repeat_interval": "1h"},
                "receivers": [{"name": "web", "webhook_configs": [{"url": f"http://127.0.0.1:{port}/hook"}]}]}})
        server = Server(config)
        await server.start()
        try:
            base = f"http://127.0.0.1:{server.http_port}"
            async with aiohttp.ClientSession() as session:
                for value in (80.0, 20.0):
                    ts = np.array([int(time.time() * 1000)], np.int64)
                    body = compress_snappy(encode_write_request([(Labels({"__name__": "temp", "room": "r1"}), ts,
                                                                  np.array([value]))]))
                    async with session.post(base + "/api/v1/write", data=body,
                                            headers={"Content-Type": "application/x-protobuf"}) as response:
                        assert response.status == 204
                    want = "firing" if value > 50 else "resolved"
                    deadline = time.monotonic() + 30
                    while not any(r["status"] == want for r in received) and time.monotonic() < deadline:
                        await asyncio.sleep(0.2)
                    assert any(r["status"] == want for r in received), received
                async with session.get(base + "/api/v1/notifications") as response:
                    log = (await response.json())["data"]
                assert log and all(entry["ok"] for entry in log) and log[0]["integration"] == "webhook"
        finally:
            await server.stop()
            await runner.cleanup()

    asyncio.run(scenario())
    firing = next(r for r in received if r["status"] == "firing")
    assert firing["version"] == "4" and firing["receiver"] == "web"
    assert firing["groupLabels"] == {"alertname": "Overheat"} and firing["groupKey"] == '{}:{alertname="Overheat"}'
    (alert,) = firing["alerts"]
    assert alert["labels"] == {"alertname": "Overheat", "room": "r1", "severity": "page"}
    assert alert["annotations"] == {"summary": "temp 80"} and alert["endsAt"] == "0001-01-01T00:00:00Z"
    resolved = next(r for r in received if r["status"] == "resolved")
    assert resolved["alerts"][0]["status"] == "resolved" and resolved["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"


def test_rule_to_every_channel(tmp_path: Path) -> None:
    """One alerting rule, one receiver with webhook, Slack, SMS and email: all four get the firing alert."""
    from aiosmtpd.controller import Controller

    from tests.alerting.receivers.test_channels import Endpoint, _free_port, _serve

    mails: list[bytes] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            mails.append(envelope.content)
            return "250 OK"

    smtp_port = _free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    rules = tmp_path / "rules.yml"
    rules.write_text("groups: [{name: all, interval: 1s, rules: [{alert: QueueFull, expr: queue > 5, "
                     "annotations: {summary: 'queue at {{ $value }}'}}]}]\n")
    endpoints = {k: Endpoint() for k in ("webhook", "slack", "sms")}

    async def scenario() -> None:
        runners = {k: await _serve(e) for k, e in endpoints.items()}
        url = {k: r[1] for k, r in runners.items()}
        config = ServerConfig(
            data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
            rules={"files": [str(rules)]},
            notifications={"config": {
                "route": {"receiver": "all", "group_wait": "0s", "group_interval": "1s"},
                "receivers": [{"name": "all", "webhook_configs": [{"url": url["webhook"]}],
                               "slack_configs": [{"api_url": url["slack"], "text": "{{ .CommonAnnotations.summary }}"}],
                               "sms_configs": [{"url": url["sms"], "to": "+1555"}],
                               "email_configs": [{"to": "ops@example.com", "from": "tsdb@example.com",
                                                  "smarthost": f"127.0.0.1:{smtp_port}", "require_tls": False}]}]}})
        server = Server(config)
        await server.start()
        try:
            base = f"http://127.0.0.1:{server.http_port}"
            ts = np.array([int(time.time() * 1000)], np.int64)
            body = compress_snappy(encode_write_request([(Labels({"__name__": "queue"}), ts, np.array([9.0]))]))
            async with aiohttp.ClientSession() as session, session.post(base + "/api/v1/write", data=body,
                                    headers={"Content-Type": "application/x-protobuf"}) as response:
                assert response.status == 204
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (mails and all(e.requests for e in endpoints.values())):
                await asyncio.sleep(0.2)
        finally:
            await server.stop()
            for runner, _ in runners.values():
                await runner.cleanup()

    try:
        asyncio.run(scenario())
    finally:
        controller.stop()
    assert mails and b"QueueFull" in mails[0] and b"queue at 9" in mails[0]
    assert b"QueueFull" in endpoints["webhook"].requests[0]["body"]
    assert b"queue at 9" in endpoints["slack"].requests[0]["body"]
    assert "QueueFull" in endpoints["sms"].requests[0]["form"]["Body"]
