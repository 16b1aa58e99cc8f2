"""Differential test: the same alertmanager.yml (webhook, Slack, PagerDuty and email receivers, with the
defaults and with Go templates from ``templates:`` files) loaded by a real Alertmanager 0.25 (Debian's
prometheus-alertmanager) and by tsdb's notification system; the same alerts posted to both; what each
delivers to local sinks (an aiohttp server, two aiosmtpd servers) compared field by field.

Two rounds: the alerts fire (one group also holds a resolved alert), then one group resolves (only the
integrations with ``send_resolved`` hear of it). The receiver's name has regexp and URL metacharacters.

Ignored, with reasons: the webhook's timestamps are compared as instants, not as text (Alertmanager
prints the zone an alert was posted with, tsdb always UTC), its ``truncatedAlerts`` (always 0 here) and
tsdb's ``tsdb`` extension key. Everything else must be equal: Slack JSON, PagerDuty JSON (dedup keys
included), the email Subject/To/From headers, text part and HTML body (line ends normalised), the
webhook JSON with ``groupKey`` and fingerprints.
"""

from __future__ import annotations

import datetime as dt
import difflib
import email
import email.policy
import json
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
    """Firing alerts that started a few seconds ago, so each group waits its ``group_wait`` (6 s) for the
    whole batch: Alertmanager flushes a new group at once when an alert joining it started more than
    ``group_wait`` ago, and then how many of a batch's alerts make the first notification is a race. The
    resolved alert comes last in its group and started long ago: it is that immediate flush."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def at(seconds: int) -> str:
        return (now + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")

    url = "http://prometheus.example.com:9090/graph?g0.expr=disk_free+%3C+0.1&g0.tab=1"
    return [
        {"labels": {"alertname": "DiskFull", "severity": "critical", "instance": "db-2", "job": "node"},
         "annotations": {"summary": "Disk almost full", "description": "db-2 has <10% free & falling"},
         "startsAt": at(-3), "generatorURL": url},
        {"labels": {"alertname": "DiskFull", "severity": "critical", "instance": "db-1", "job": "node"},
         "annotations": {"summary": "Disk almost full", "description": "db-1 has 5% free"},
         "startsAt": at(-2), "generatorURL": url},
        {"labels": {"alertname": "HighLatency", "severity": "warning", "instance": "web-1", "team": "front"},
         "annotations": {"summary": "p99 over 2s"}, "startsAt": at(-1),
         "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=latency"},
        {"labels": {"alertname": "HighLatency", "severity": "warning", "instance": "web-2", "team": "front"},
         "annotations": {"summary": "p99 over 2s", "runbook": "https://runbooks.example.com/latency"},
         "startsAt": at(-2400), "endsAt": at(-60)},
    ]


KINDS = ("webhook/plain", "slack/default", "slack/custom", "pagerduty/default", "pagerduty/custom")


def _collect(sinks: Sinks, http: dict[str, int], mails: int, deadline_s: float = 60) -> None:
    """Wait until each system's sinks hold ``http`` bodies per kind and ``mails`` mails, then a moment more."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        complete = all(len(sinks.http.get(f"{s}/{k}", [])) == n for s in SYSTEMS for k, n in http.items())
        if complete and all(len(m) == mails for m in sinks.mail.values()):
            time.sleep(1.5)  # nothing more should arrive
            break
        time.sleep(0.3)
    counts = {p: len(v) for p, v in sinks.http.items()} | {f"mail/{s}": len(m) for s, m in sinks.mail.items()}
    if not (all(len(sinks.http.get(f"{s}/{k}", [])) == n for s in SYSTEMS for k, n in http.items())
            and all(len(m) == mails for m in sinks.mail.values())):
        pytest.fail(f"expected {http} and {mails} mails per system, got {json.dumps(counts, sort_keys=True)}; "
                    f"bodies: {json.dumps(sinks.http, sort_keys=True)[:4000]}")


def _by_group(bodies: list[Any]) -> dict[str, list[Any]]:
    """The bodies of each alert group, in the order they arrived."""
    groups: dict[str, list[Any]] = {}
    for body in bodies:
        groups.setdefault("DiskFull" if "DiskFull" in json.dumps(body) else "HighLatency", []).append(body)
    return groups


def _instant(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _webhook(body: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in body.items() if k not in ("truncatedAlerts", "tsdb")}
    body["alerts"] = [{**a, "startsAt": _instant(a["startsAt"]), "endsAt": _instant(a["endsAt"])}
                      for a in body["alerts"]]
    return body


def _differences(theirs: Any, ours: Any, where: str = "") -> list[str]:
    """Where two JSON values differ (for the failure message)."""
    if isinstance(theirs, dict) and isinstance(ours, dict):
        return [d for k in sorted({*theirs, *ours}) for d in _differences(theirs.get(k), ours.get(k), f"{where}.{k}")]
    if isinstance(theirs, list) and isinstance(ours, list) and len(theirs) == len(ours):
        pairs = enumerate(zip(theirs, ours, strict=True))
        return [d for i, (a, b) in pairs for d in _differences(a, b, f"{where}[{i}]")]
    return [] if theirs == ours else [f"{where}: Alertmanager {theirs!r}, tsdb {ours!r}"]


def _mail(message: EmailMessage) -> dict[str, Any]:
    parts: dict[str, str] = {}
    for part in message.walk():
        if part.get_content_maintype() == "text":
            content = part.get_content()
            parts[part.get_content_type()] = content.replace("\r\n", "\n")
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
        for url in (f"http://127.0.0.1:{am_port}", server.url):
            _post_alerts(url, alerts)
        _collect(sinks, {k: 2 for k in KINDS}, 4)
        ended = dt.datetime.now(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
        resolved = [{**a, "endsAt": ended} for a in alerts[:2]]
        for url in (f"http://127.0.0.1:{am_port}", server.url):
            _post_alerts(url, resolved)
        _collect(sinks, {k: 2 if k == "slack/default" else 3 for k in KINDS}, 5)
    finally:
        server.stop()
        am.kill()
        am.wait(timeout=10)

    for kind in KINDS:
        am_bodies, tsdb_bodies = _by_group(sinks.http[f"am/{kind}"]), _by_group(sinks.http[f"tsdb/{kind}"])
        assert set(am_bodies) == set(tsdb_bodies) == {"DiskFull", "HighLatency"}, kind
        for group, theirs in am_bodies.items():
            ours = tsdb_bodies[group]
            if kind.startswith("webhook"):
                theirs, ours = [_webhook(b) for b in theirs], [_webhook(b) for b in ours]
            assert ours == theirs, f"{kind} {group}: {_differences(theirs, ours)}"

    am_mail = sorted((_mail(m) for m in sinks.mail["am"]), key=lambda m: json.dumps(m, sort_keys=True))
    tsdb_mail = sorted((_mail(m) for m in sinks.mail["tsdb"]), key=lambda m: json.dumps(m, sort_keys=True))
    assert len(am_mail) == len(tsdb_mail) == 5
    for theirs, ours in zip(am_mail, tsdb_mail, strict=True):
        assert ours.keys() == theirs.keys()
        for key in theirs:
            diff = "".join(list(difflib.unified_diff(theirs[key].splitlines(True), ours[key].splitlines(True),
                                                     "alertmanager", "tsdb", n=1))[:40])
            assert ours[key] == theirs[key], f"email {theirs['To']} {theirs['Subject']}: {key}\n{diff}"
