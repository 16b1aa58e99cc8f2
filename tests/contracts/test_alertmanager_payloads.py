"""Differential test: the same alertmanager.yml (webhook, Slack, PagerDuty and email receivers, with the
defaults and with Go templates from ``templates:`` files) loaded by a real Alertmanager 0.25 (Debian's
prometheus-alertmanager) and by tsdb's notification system; the same alerts posted to both; what each
delivers to local sinks (an aiohttp server, two aiosmtpd servers) compared field by field.

Ignored, with reasons: timestamps (``startsAt``/``endsAt`` are compared as instants, not as text), the
webhook's ``groupKey`` and ``truncatedAlerts`` (compared separately below where they agree) and tsdb's
``tsdb`` extension key. Everything else — Slack JSON, PagerDuty JSON, the email Subject/To/From headers,
text part and HTML body (whitespace-normalised), webhook JSON — must be equal.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.aiohttp_thread import AiohttpThread
from tests.integration.serve import ServeProcess, free_port
from tests.needs import needs_binary, require_binary, require_module

pytestmark = [pytest.mark.external, needs_binary("prometheus-alertmanager", package="prometheus-alertmanager")]

DATA = Path(__file__).parent / "data" / "amtmpl"
EXTERNAL_URL = "http://alerts.example.com:9093"
SYSTEMS = ("am", "tsdb")


class Sinks:
    """HTTP sinks at ``/<system>/<kind>/<name>`` and one SMTP server per system; all on 127.0.0.1."""

    def __init__(self) -> None:
        self.http: dict[str, list[Any]] = {}
        self.mail: dict[str, list[EmailMessage]] = {s: [] for s in SYSTEMS}
        app = web.Application()
        app.router.add_post("/{path:.*}", self._record)
        self.server = AiohttpThread(app)
        smtp = require_module("aiosmtpd.controller")
        self.controllers = {}
        self.smtp_ports: dict[str, int] = {}
        for system in SYSTEMS:
            port = free_port()
            controller = smtp.Controller(_MailHandler(self.mail[system]), hostname="127.0.0.1", port=port)
            controller.start()
            self.controllers[system], self.smtp_ports[system] = controller, port

    async def _record(self, request: web.Request) -> web.Response:
        self.http.setdefault(request.match_info["path"], []).append(await request.json())
        return web.Response(text="ok")

    def close(self) -> None:
        for controller in self.controllers.values():
            controller.stop()
        self.server.close()


class _MailHandler:
    def __init__(self, into: list[EmailMessage]) -> None:
        self.into = into

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.into.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 OK"


def _config(system: str, sinks: Sinks, directory: Path) -> Path:
    directory.mkdir(parents=True)
    (directory / "custom.tmpl").write_text((DATA / "custom.tmpl").read_text())
    text = (DATA / "alertmanager.yml.in").read_text().replace("@SINK@", f"{sinks.server.url}/{system}")
    path = directory / "alertmanager.yml"
    path.write_text(text.replace("@SMTP@", str(sinks.smtp_ports[system])))
    return path


@pytest.fixture
def sinks() -> Iterator[Sinks]:
    sinks = Sinks()
    try:
        yield sinks
    finally:
        sinks.close()


def _wait_port(port: int, proc: subprocess.Popen[bytes], deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "alertmanager exited"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("alertmanager not ready")


def _post_alerts(base_url: str, alerts: list[dict[str, Any]]) -> None:
    request = urllib.request.Request(f"{base_url}/api/v2/alerts", data=json.dumps(alerts).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def _alerts() -> list[dict[str, Any]]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def at(minutes: int) -> str:
        return (now + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")

    url = "http://prometheus.example.com:9090/graph?g0.expr=disk_free+%3C+0.1&g0.tab=1"
    return [
        {"labels": {"alertname": "DiskFull", "severity": "critical", "instance": "db-2", "job": "node"},
         "annotations": {"summary": "Disk almost full", "description": "db-2 has <10% free & falling"},
         "startsAt": at(-30), "generatorURL": url},
        {"labels": {"alertname": "DiskFull", "severity": "critical", "instance": "db-1", "job": "node"},
         "annotations": {"summary": "Disk almost full", "description": "db-1 has 5% free"},
         "startsAt": at(-20), "generatorURL": url},
        {"labels": {"alertname": "HighLatency", "severity": "warning", "instance": "web-1", "team": "front"},
         "annotations": {"summary": "p99 over 2s"}, "startsAt": at(-10),
         "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=latency"},
        {"labels": {"alertname": "HighLatency", "severity": "warning", "instance": "web-2", "team": "front"},
         "annotations": {"summary": "p99 over 2s", "runbook": "https://runbooks.example.com/latency"},
         "startsAt": at(-40), "endsAt": at(-1)},
    ]


def _expected_paths() -> set[str]:
    kinds = ["webhook/plain", "slack/default", "slack/custom", "pagerduty/default", "pagerduty/custom"]
    return {f"{s}/{k}" for s in SYSTEMS for k in kinds}


def _collect(sinks: Sinks, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        complete = all(len(sinks.http.get(p, [])) == 2 for p in _expected_paths())
        if complete and all(len(m) == 4 for m in sinks.mail.values()):
            time.sleep(1)  # nothing more should arrive
            return
        time.sleep(0.3)
    counts = {p: len(v) for p, v in sinks.http.items()} | {f"mail/{s}": len(m) for s, m in sinks.mail.items()}
    raise AssertionError(f"not everything was delivered in time: {counts}")


def _by_group(bodies: list[Any], key: Any) -> dict[str, Any]:
    return {key(b): b for b in bodies}


def _normal_html(html: str) -> str:
    return re.sub(r"\s+", " ", html).strip()


def _instant(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _webhook(body: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in body.items() if k not in ("groupKey", "truncatedAlerts", "tsdb")}
    body["alerts"] = [{**a, "startsAt": _instant(a["startsAt"]), "endsAt": _instant(a["endsAt"])}
                      for a in body["alerts"]]
    return body


def _mail(message: EmailMessage) -> dict[str, Any]:
    parts: dict[str, str] = {}
    for part in message.walk():
        if part.get_content_maintype() == "text":
            content = part.get_content()
            parts[part.get_content_type()] = _normal_html(content) if part.get_content_subtype() == "html" \
                else content.replace("\r\n", "\n")
    return {"Subject": str(message["Subject"]), "To": str(message["To"]), "From": str(message["From"]), **parts}


def test_same_config_same_alerts_same_notifications(tmp_path: Path, sinks: Sinks) -> None:
    binary = require_binary("prometheus-alertmanager", package="prometheus-alertmanager")
    am_port = free_port()
    am_config = _config("am", sinks, tmp_path / "am")
    check = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    assert "0.25" in check.stdout + check.stderr
    am = subprocess.Popen([binary, f"--config.file={am_config}", f"--storage.path={tmp_path / 'am-data'}",
                           f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address=",
                           f"--web.external-url={EXTERNAL_URL}"],
                          stdout=subprocess.DEVNULL, stderr=(tmp_path / "am.log").open("w"))
    tsdb_config = _config("tsdb", sinks, tmp_path / "tsdb")
    server_yml = tmp_path / "tsdb.yml"
    server_yml.write_text(f"external_url: {EXTERNAL_URL}\nnotifications: {{config_file: {tsdb_config}}}\n")
    server = ServeProcess(tmp_path / "tsdb-data", "--config", str(server_yml))
    try:
        _wait_port(am_port, am)
        alerts = _alerts()
        _post_alerts(f"http://127.0.0.1:{am_port}", alerts)
        _post_alerts(server.url, alerts)
        _collect(sinks)
    finally:
        server.stop()
        am.kill()
        am.wait(timeout=10)

    def group_of(body: dict[str, Any]) -> str:
        if "alerts" in body:
            return str(body["commonLabels"]["alertname"])
        if "attachments" in body:
            return "DiskFull" if "DiskFull" in json.dumps(body) else "HighLatency"
        return "DiskFull" if "DiskFull" in json.dumps(body) else "HighLatency"

    for kind in ("webhook/plain", "slack/default", "slack/custom", "pagerduty/default", "pagerduty/custom"):
        am_bodies = _by_group(sinks.http[f"am/{kind}"], group_of)
        tsdb_bodies = _by_group(sinks.http[f"tsdb/{kind}"], group_of)
        assert set(am_bodies) == set(tsdb_bodies) == {"DiskFull", "HighLatency"}, kind
        for group, am_body in am_bodies.items():
            ours = tsdb_bodies[group]
            if kind.startswith("webhook"):
                assert ours["groupKey"] == am_body["groupKey"]
                am_body, ours = _webhook(am_body), _webhook(ours)
            assert ours == am_body, f"{kind} {group}"

    am_mail = sorted((_mail(m) for m in sinks.mail["am"]), key=lambda m: (m["To"], m["Subject"]))
    tsdb_mail = sorted((_mail(m) for m in sinks.mail["tsdb"]), key=lambda m: (m["To"], m["Subject"]))
    assert len(am_mail) == len(tsdb_mail) == 4
    for theirs, ours in zip(am_mail, tsdb_mail, strict=True):
        assert ours.keys() == theirs.keys()
        for key in theirs:
            assert ours[key] == theirs[key], f"email {theirs['To']} {theirs['Subject']}: {key}"
