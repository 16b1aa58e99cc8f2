"""Every channel against a real endpoint on 127.0.0.1: aiohttp servers (webhook, Slack, SMS gateway,
PagerDuty), an aiosmtpd SMTP server with STARTTLS and AUTH, and a real Alertmanager for forwarding.
Retries: a receiver outage is bridged (delivered exactly once), a 4xx is not retried."""

from __future__ import annotations

import asyncio
import email
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.alertmanager_peer import running_alertmanager
from tests.needs import needs_binary
from tsdb.alerting.model import Alert, Notification
from tsdb.alerting.receivers import build_receivers
from tsdb.alerting.receivers.channels import truncate_sms

NOW = 1_800_000_000.0


def _notification(receiver: str, status: str = "firing", n: int = 1, retry: float | None = None) -> Notification:
    alerts = [Alert({"alertname": "DiskFull", "instance": f"db{i}", "severity": "critical"},
                    {"summary": f"disk {i} is full"}, NOW - 60, None if status == "firing" else NOW - 1,
                    "http://tsdb/graph", NOW) for i in range(n)]
    return Notification(receiver, '{}:{alertname="DiskFull"}', {"alertname": "DiskFull"}, alerts, status,  # type: ignore[arg-type]
                        NOW, "http://tsdb", retry_until=retry, extras={"ack_url": "http://tsdb/ack/1"})


class Endpoint:
    """An aiohttp server recording requests; ``fail`` statuses are answered first, then 200."""

    def __init__(self, fail: list[int] | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail = list(fail or [])

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append({"path": request.path, "headers": dict(request.headers), "body": body,
                              "form": dict(await request.post()) if request.content_type.endswith("urlencoded")
                              else {}})
        if self.fail:
            return web.Response(status=self.fail.pop(0), text="nope")
        return web.Response(text="ok")


async def _serve(endpoint: Endpoint) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", endpoint.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


def test_http_channels_deliver_their_formats() -> None:
    async def scenario() -> dict[str, Endpoint]:
        endpoints = {k: Endpoint() for k in ("webhook", "slack", "sms", "pd")}
        runners = {k: await _serve(e) for k, e in endpoints.items()}
        url = {k: r[1] for k, r in runners.items()}
        receivers = build_receivers([
            {"name": "all", "webhook_configs": [{"url": url["webhook"] + "/hook"}],
             "slack_configs": [{"api_url": url["slack"] + "/slack", "channel": "#ops", "send_resolved": True,
                                "text": "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ end }}"}],
             "sms_configs": [{"url": url["sms"] + "/sms", "to": "+15550001", "from": "+15550002",
                              "http_config": {"basic_auth": {"username": "sid", "password": "tok"}}}],
             "pagerduty_configs": [{"routing_key": "rk", "url": url["pd"] + "/v2/enqueue"}],
             "opsgenie_configs": [{"api_key": "x"}]}],
            global_config={}, templates=[], base_dir=None, external_url="http://tsdb")
        assert receivers.unsupported == {"all": ["opsgenie_configs"]}
        try:
            results = await receivers.notify(_notification("all", n=2))
            assert sorted(r.integration for r in results) == ["pagerduty", "slack", "sms", "webhook"]
            assert all(r.ok for r in results)
            await receivers.notify(_notification("all", status="resolved"))
        finally:
            await receivers.close()
            for runner, _ in runners.values():
                await runner.cleanup()
        return endpoints

    import json

    endpoints = asyncio.run(scenario())
    hook = json.loads(endpoints["webhook"].requests[0]["body"])
    assert hook["version"] == "4" and len(hook["alerts"]) == 2 and hook["commonLabels"]["severity"] == "critical"
    slack = json.loads(endpoints["slack"].requests[0]["body"])
    attachment = slack["attachments"][0]
    assert slack["channel"] == "#ops" and attachment["color"] == "danger"
    # Alertmanager's default title (the common labels beyond the group's in parentheses), a configured text
    assert attachment["title"] == "[FIRING:2] DiskFull (critical)" and "disk 0 is full" in attachment["text"]
    assert attachment["title_link"] == "http://tsdb/#/alerts?receiver=all" and slack["username"] == "Alertmanager"
    assert json.loads(endpoints["slack"].requests[1]["body"])["attachments"][0]["color"] == "good"
    sms = endpoints["sms"].requests[0]
    assert sms["form"]["To"] == "+15550001" and sms["form"]["From"] == "+15550002"
    assert len(sms["form"]["Body"]) <= 160 and sms["form"]["Body"].startswith("[FIRING] DiskFull@db0")
    assert sms["headers"]["Authorization"].startswith("Basic ")
    trigger, resolve = (json.loads(r["body"]) for r in endpoints["pd"].requests)
    assert trigger["event_action"] == "trigger" and trigger["routing_key"] == "rk"
    assert resolve["event_action"] == "resolve" and resolve["dedup_key"] == trigger["dedup_key"]
    assert trigger["payload"]["severity"] == "error"
    assert trigger["payload"]["summary"] == "[FIRING:2] DiskFull (critical)"
    assert trigger["client"] == "Alertmanager" and trigger["payload"]["custom_details"]["num_firing"] == "2"


def test_outage_then_recovery_and_no_retry_on_4xx() -> None:
    async def scenario() -> tuple[Endpoint, Endpoint, list[Any], list[Any]]:
        flaky, broken = Endpoint(fail=[503, 429]), Endpoint(fail=[400])
        (r1, u1), (r2, u2) = await _serve(flaky), await _serve(broken)
        receivers = build_receivers([{"name": "flaky", "webhook_configs": [{"url": u1}]},
                                     {"name": "broken", "webhook_configs": [{"url": u2}]}],
                                    global_config={}, templates=[], base_dir=None, external_url="")
        try:
            ok = await receivers.notify(_notification("flaky", retry=time.time() + 30))
            bad = await receivers.notify(_notification("broken", retry=time.time() + 30))
            log = receivers.delivery_log()
        finally:
            await receivers.close()
            await r1.cleanup()
            await r2.cleanup()
        return flaky, broken, ok + bad, log

    flaky, broken, results, log = asyncio.run(scenario())
    ok, bad = results
    assert ok.ok and ok.attempts == 3 and len(flaky.requests) == 3  # 503, 429, then delivered exactly once
    assert not bad.ok and bad.attempts == 1 and bad.status_code == 400 and len(broken.requests) == 1
    assert [entry["ok"] for entry in log] == [True, False]


def test_sms_truncation_and_broken_template_fails_the_attempt() -> None:
    text = "word " * 100
    assert len(truncate_sms(text, 160)) <= 160 and truncate_sms(text, 160).endswith("…")
    assert truncate_sms("short", 160) == "short"

    async def scenario() -> list[Any]:
        endpoint = Endpoint()
        runner, url = await _serve(endpoint)
        receivers = build_receivers([{"name": "x", "sms_configs": [{"url": url, "to": "+1", "text": "{{ broken"}]}],
                                    global_config={}, templates=[], base_dir=None, external_url="")
        try:
            results = await receivers.notify(_notification("x", retry=time.time() + 30))
        finally:
            await receivers.close()
            await runner.cleanup()
        assert endpoint.requests == []  # nothing sent, as Alertmanager sends nothing for a failed template
        return results

    (result,) = asyncio.run(scenario())
    assert not result.ok and result.attempts == 1 and "template of 'text' failed" in result.error


@pytest.fixture
def tls_cert(tmp_path: Path) -> tuple[Path, Path]:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return key, cert


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@needs_binary("openssl", package="openssl")
def test_email_over_starttls_with_auth(tls_cert: tuple[Path, Path]) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    received: list[Message] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            received.append(email.message_from_bytes(envelope.content))
            return "250 OK"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"alerts" and auth_data.password == b"s3cret"
        return AuthResult(success=ok)

    key, cert = tls_cert
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    port = _free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=authenticator, auth_require_tls=True)
    controller.start()
    try:
        receivers = build_receivers([{"name": "mail", "email_configs": [{
            "to": "oncall@example.com", "from": "tsdb@example.com", "smarthost": f"127.0.0.1:{port}",
            "auth_username": "alerts", "auth_password": "s3cret", "tls_config": {"ca_file": str(cert)},
            "text": "{{ with .Extras.ack_url }}Acknowledge: {{ . }}{{ end }}"}]}],
            global_config={}, templates=[], base_dir=None, external_url="http://tsdb")

        async def go() -> Any:
            try:
                return await receivers.notify(_notification("mail"))
            finally:
                await receivers.close()

        (result,) = asyncio.run(go())
    finally:
        controller.stop()
    assert result.ok, result.error
    (msg,) = received
    assert msg["Subject"] == "[FIRING:1] DiskFull (db0 critical)" and msg["To"] == "oncall@example.com"
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in msg.walk() if not p.is_multipart()}
    assert "disk 0 is full" in parts["text/html"] and "View in Alertmanager" in parts["text/html"]
    assert parts["text/plain"] == "Acknowledge: http://tsdb/ack/1"


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    with running_alertmanager(tmp_path) as url:
        yield url


def test_forwarding_to_a_real_alertmanager(alertmanager: str) -> None:
    receivers = build_receivers([{"name": "fwd", "alertmanager_configs": [{"url": alertmanager}]}],
                                global_config={}, templates=[], base_dir=None, external_url="")

    async def go() -> Any:
        try:
            n = _notification("fwd")
            n.alerts[0].starts_at = time.time() - 60
            n.now = time.time()
            results = await receivers.notify(n)
            async with aiohttp.ClientSession() as session, session.get(alertmanager + "/api/v2/alerts") as r:
                return results, await r.json()
        finally:
            await receivers.close()

    (result,), alerts = asyncio.run(go())
    assert result.ok
    assert [a["labels"]["alertname"] for a in alerts] == ["DiskFull"]


def test_rate_limit_suppresses_and_summarises() -> None:
    clock = [1000.0]

    async def scenario() -> tuple[Endpoint, list[Any]]:
        endpoint = Endpoint()
        runner, url = await _serve(endpoint)
        receivers = build_receivers([{"name": "r", "webhook_configs": [{"url": url}]}], global_config={},
                                    templates=[], base_dir=None, external_url="", clock=lambda: clock[0])
        receivers.set_rate_limit("r", per_minute=1, burst=2)
        results = []
        try:
            for _ in range(4):
                results.append((await receivers.notify(_notification("r")))[0])
            clock[0] += 60  # one token back
            results.append((await receivers.notify(_notification("r")))[0])
        finally:
            await receivers.close()
            await runner.cleanup()
        return endpoint, results

    import json

    endpoint, results = asyncio.run(scenario())
    assert [r.ok for r in results] == [True, True, False, False, True]
    assert len(endpoint.requests) == 3
    assert json.loads(endpoint.requests[-1]["body"])["tsdb"]["suppressed"] == 2
