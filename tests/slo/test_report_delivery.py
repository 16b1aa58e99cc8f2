"""Scheduled report delivery with a real SMTP server (aiosmtpd) and a real webhook receiver on 127.0.0.1,
the schedule driven by an injected clock: due after local midnight + delay, retried, never resent."""

from __future__ import annotations

import asyncio
import email
import json
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.aiohttp_thread import AiohttpThread
from tests.integration.serve import free_port
from tests.slo.report_data import utc, write_month, write_spec
from tsdb.cli.main import main
from tsdb.embedded import EmbeddedDB, open_db
from tsdb.errors import ConfigError
from tsdb.slo.config import SLOsConfig
from tsdb.slo.report import Report, ReportInputs, build_report, engine_query
from tsdb.slo.report_delivery import DeliveryStore, ReportScheduler, due_period
from tsdb.slo.report_period import Period, month_period
from tsdb.slo.report_schedule import parse_reports
from tsdb.slo.spec import parse_specs

OUTAGE = utc("2026-11-10T12:00")


class Smtp:
    """An aiosmtpd server keeping the messages it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Message] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                outer.messages.append(email.message_from_bytes(envelope.content))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()


class Hook:
    """A webhook receiver answering ``statuses`` in turn (then 200), keeping bodies and headers."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[bytes, dict[str, str]]] = []
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.server = AiohttpThread(app)
        self.url = f"{self.server.url}/hook"

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((await request.read(), dict(request.headers)))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedDB]:
    data = tmp_path_factory.mktemp("delivery")
    november = month_period("2026-11", "Europe/Berlin")
    write_month(data / "d", november.start_s, november.end_s, [(OUTAGE, OUTAGE + 1800)])
    with open_db(str(data / "d")) as opened:
        yield opened


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    server = Smtp()
    yield server
    server.controller.stop()


def _scheduler(db: EmbeddedDB, tmp_path: Path, raw: list[dict[str, Any]], clock: list[float]) -> ReportScheduler:
    slos = [s for spec in parse_specs(write_spec(tmp_path).read_text(), "shop.yml") for s in spec.slos]

    def make(period: Period, trend: int) -> Report:
        return build_report(slos, ReportInputs(engine_query(db.engine.instant)), period, trend, now=clock[0])

    store = DeliveryStore(tmp_path / "data" / "slo_reports" / "deliveries.sqlite")
    return ReportScheduler(parse_reports(raw), store, make, lambda: clock[0])


def test_monthly_email_and_webhook_with_retries_and_restart(db: EmbeddedDB, tmp_path: Path, smtp: Smtp) -> None:
    hook = Hook([503])
    raw = [{"name": "monthly-shop", "schedule": "monthly", "time_zone": "Europe/Berlin", "format": "pdf",
            "trend": 1, "delay": "10m",
            "email": {"to": "sre@example.org", "from": "tsdb@example.org", "smarthost": f"127.0.0.1:{smtp.port}",
                      "require_tls": False},
            "webhook": {"url": hook.url}}]
    clock = [float(utc("2026-11-30T22:59"))]  # 23:59 in Berlin: November is not over
    try:
        scheduler = _scheduler(db, tmp_path, raw, clock)
        assert asyncio.run(scheduler.tick()) == []  # and October's is not sent: the schedule is new
        clock[0] = utc("2026-11-30T23:05")  # 00:05 on 1 December in Berlin, within the 10-minute delay
        assert asyncio.run(scheduler.tick()) == []
        clock[0] = utc("2026-11-30T23:11")
        attempted = asyncio.run(scheduler.tick())
        assert [(d.channel, d.status, d.period) for d in attempted] == \
            [("email", "delivered", "2026-11"), ("webhook", "retrying", "2026-11")]
        [message] = smtp.messages
        assert message["Subject"] == "SLO report monthly-shop 2026-11: 2 passed, 0 breached"
        parts = list(message.walk())
        text = next(p for p in parts if p.get_content_type() == "text/plain").get_payload(decode=True)
        assert b"shop-availability: 99.9306% of 99.9% (pass), budget remaining 30.56%" in text
        attachment = next(p for p in parts if p.get_content_type() == "application/pdf")
        assert attachment.get_filename() == "slo-report-2026-11.pdf"
        assert attachment.get_payload(decode=True).startswith(b"%PDF")

        assert asyncio.run(scheduler.tick()) == []  # the webhook waits for its back-off
        clock[0] += 61
        retried = asyncio.run(scheduler.tick())
        assert [(d.channel, d.status, d.attempts) for d in retried] == [("webhook", "delivered", 2)]
        body = json.loads(hook.received[-1][0])
        assert (body["report"], body["period"], body["time_zone"]) == ("monthly-shop", "2026-11", "Europe/Berlin")
        assert round(body["data"]["slos"][0]["attained_percent"], 4) == 99.9306
        assert len(hook.received) == 2 and len(smtp.messages) == 1

        scheduler.store.close()  # a restart: a new scheduler over the same state file resends nothing
        clock[0] += 3600
        again = _scheduler(db, tmp_path, raw, clock)
        assert asyncio.run(again.tick()) == []
        assert len(hook.received) == 2 and len(smtp.messages) == 1
        clock[0] = utc("2027-01-02T08:00")  # down over new year: December's report goes out late, not skipped
        assert [d.period for d in asyncio.run(again.tick())] == ["2026-12", "2026-12"]
        assert len(smtp.messages) == 2
        assert [(d.report, d.period, d.channel, d.status) for d in again.store.all()][-2:] == \
            [("monthly-shop", "2026-12", "email", "delivered"), ("monthly-shop", "2026-12", "webhook", "delivered")]
        again.store.close()
    finally:
        hook.server.close()


def test_webhook_file_body_and_refusal(db: EmbeddedDB, tmp_path: Path) -> None:
    hook = Hook([])
    refusing = Hook([400])
    raw = [{"name": "csv", "format": "csv", "webhook": {"url": hook.url, "body": "file"}},
           {"name": "refused", "webhook": {"url": refusing.url}}]
    clock = [float(utc("2026-11-30T12:00"))]
    try:
        scheduler = _scheduler(db, tmp_path, raw, clock)
        assert asyncio.run(scheduler.tick()) == []  # first seen in November: October's report is not sent
        clock[0] = utc("2026-12-01T00:30")
        attempted = asyncio.run(scheduler.tick())
        assert [(d.report, d.status, d.attempts) for d in attempted] == [("csv", "delivered", 1),
                                                                         ("refused", "failed", 1)]
        body, headers = hook.received[0]
        assert headers["Content-Type"] == "text/csv; charset=utf-8"
        assert headers["Content-Disposition"] == 'attachment; filename="slo-report-2026-11.csv"'
        row = dict(zip(*(line.split(",") for line in body.decode().splitlines()[:2]), strict=False))
        assert (row["attained_percent"], row["budget_remaining_percent"]) == ("99.9306", "30.56")
        assert "HTTP 400" in attempted[1].error
        clock[0] += 7200
        assert asyncio.run(scheduler.tick()) == []  # a refusal is not retried
        scheduler.store.close()
    finally:
        hook.server.close()
        refusing.server.close()


def test_due_period_follows_the_time_zone() -> None:
    [berlin] = parse_reports([{"name": "b", "time_zone": "Europe/Berlin", "delay": "0s",
                               "webhook": {"url": "http://127.0.0.1:1/"}}])
    assert due_period(berlin, utc("2026-10-31T22:59")).label == "2026-09"  # type: ignore[union-attr]
    assert due_period(berlin, utc("2026-10-31T23:00")).label == "2026-10"  # type: ignore[union-attr]


@pytest.mark.parametrize(("raw", "message"), [
    ("monthly", "slos.reports: expected a list"),
    ([{"name": "a"}], r"slos.reports\[0\] \(a\): nothing to deliver to"),
    ([{"name": "a", "schedule": "weekly", "webhook": {"url": "http://x/"}}], r"\(a\).schedule: unknown schedule"),
    ([{"name": "a", "time_zone": "Mars/Base", "webhook": {"url": "http://x/"}}],
     r"\(a\).time_zone: unknown time zone 'Mars/Base'"),
    ([{"name": "a", "format": "docx", "webhook": {"url": "http://x/"}}], r"\(a\).format: unknown report format"),
    ([{"name": "a", "webhook": {"url": "ftp://x/"}}], r"\(a\).webhook.url: must be an http"),
    ([{"name": "a", "email": {"from": "x@y"}}], r"\(a\).email.to: required"),
    ([{"name": "a", "email": {"to": "x@y", "cc": "z"}}], r"\(a\).email: unknown key 'cc'"),
    ([{"name": "a", "webhook": {"url": "http://x/"}}, {"name": "a", "webhook": {"url": "http://x/"}}],
     r"slos.reports\[1\].name: 'a' is used twice"),
    ([{"webhook": {"url": "http://x/"}}], r"slos.reports\[0\].name: required"),
])
def test_config_errors_name_the_entry(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SLOsConfig.from_raw({"reports": raw})


def test_check_config_validates_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_spec(tmp_path)
    config = tmp_path / "tsdb.yml"
    config.write_text(f"slos:\n  files: [{spec}]\n  reports:\n    - name: m\n      email: {{to: a@example.org}}\n")
    assert main(["check", "config", str(config)]) == 1
    assert "slos.reports (m).email: smarthost must be host:port" in capsys.readouterr().err
    config.write_text(f"slos:\n  files: [{spec}]\n  reports:\n    - name: m\n      format: pdf\n"
                      "      email: {to: a@example.org, from: t@example.org, smarthost: 'localhost:25'}\n")
    assert main(["check", "config", str(config)]) == 0
