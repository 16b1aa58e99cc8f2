"""Delivering scheduled compliance reports: when each is due, sending it, retrying, remembering.

A report is due for the previous month once its time zone's month has begun and ``delay`` has passed
(after local midnight of the 1st), for months that end after the server first saw the schedule (a new
schedule does not send old months). Each channel (email, webhook) of each report and month is delivered
once: the outcome is kept in ``<data dir>/slo_reports/deliveries.sqlite``, so a restart neither resends
nor skips the last month's report. A failed attempt is retried with a doubling back-off (1 minute to
1 hour) up to :data:`MAX_ATTEMPTS` times; a refused one (HTTP 4xx, SMTP 5xx) is not retried.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path
from typing import Any

import aiohttp

from tsdb.alerting.receivers.email import EmailIntegration
from tsdb.alerting.receivers.http import HttpOptions, post
from tsdb.alerting.receivers.integration import DeliveryError
from tsdb.slo.report import Report
from tsdb.slo.report_period import Period, month_of, month_period
from tsdb.slo.report_render import filename, get_format, pct, render
from tsdb.slo.report_schedule import ReportSchedule
from tsdb.sqlite_store import open_store

log = logging.getLogger("tsdb.slo.reports")

MAX_ATTEMPTS = 10
BACKOFF_S = 60.0
MAX_BACKOFF_S = 3600.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (report TEXT, period TEXT, channel TEXT, status TEXT, attempts INTEGER,
                                       next_at REAL, at REAL, error TEXT, PRIMARY KEY (report, period, channel));
"""


@dataclass
class Delivery:
    """One channel's state for one report and month: ``status`` is delivered, retrying or failed."""

    report: str
    period: str
    channel: str
    status: str
    attempts: int = 0
    next_at: float = 0.0
    at: float = 0.0
    error: str = ""


class DeliveryStore:
    """The deliveries of scheduled reports, in SQLite. Thread-safe."""

    def __init__(self, path: Path) -> None:
        self._db = open_store(path, SCHEMA, "SLO report delivery state")
        self._lock = threading.Lock()

    def get(self, report: str, period: str, channel: str) -> Delivery | None:
        with self._lock:
            row = self._db.execute("SELECT report, period, channel, status, attempts, next_at, at, error "
                                   "FROM deliveries WHERE report=? AND period=? AND channel=?",
                                   (report, period, channel)).fetchone()
        return None if row is None else Delivery(*row)

    def put(self, d: Delivery) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (d.report, d.period, d.channel, d.status, d.attempts, d.next_at, d.at, d.error))

    def since(self, report: str, now: float) -> float:
        """When the schedule ``report`` was first seen (recorded now if never before)."""
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO deliveries VALUES (?, '', 'since', 'seen', 0, 0, ?, '')",
                             (report, now))
            row = self._db.execute("SELECT at FROM deliveries WHERE report=? AND period='' AND channel='since'",
                                   (report,)).fetchone()
        return float(row[0])

    def all(self) -> list[Delivery]:
        with self._lock:
            rows = self._db.execute("SELECT report, period, channel, status, attempts, next_at, at, error "
                                    "FROM deliveries WHERE channel != 'since' ORDER BY at").fetchall()
        return [Delivery(*row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def due_period(schedule: ReportSchedule, now: float, since: float = 0.0) -> Period | None:
    """The month whose report is due at ``now``: the previous month, once this one began and ``delay``
    passed, if it ended after ``since`` (when the schedule was first seen)."""
    current = month_period(month_of(now, schedule.time_zone), schedule.time_zone)
    if now < current.start_s + schedule.delay_s or current.start_s < since:
        return None
    return current.previous()


def subject(schedule: ReportSchedule, report: Report) -> str:
    summary = report.summary()
    return (f"SLO report {schedule.name} {report.period.label}: {summary['passed']} passed, "
            f"{summary['breached']} breached")


def email_message(schedule: ReportSchedule, report: Report, sender: str) -> MIMEMultipart:
    """A text summary with the report attached in the schedule's format."""
    msg = MIMEMultipart("mixed")
    msg["Subject"] = str(schedule.email.get("subject") or subject(schedule, report))
    msg["From"], msg["To"] = sender, str(schedule.email["to"])
    lines = [subject(schedule, report), ""]
    lines += [f"{s.slo.id}: {pct(s.attained, 4)} of {s.slo.objective:g}% ({s.status}), budget remaining "
              f"{pct(s.budget_remaining)}" for s in report.slos]
    msg.attach(MIMEText("\n".join(lines) + "\n", "plain", "utf-8"))
    fmt = get_format(schedule.format)
    main, _, sub = fmt.content_type.partition(";")[0].partition("/")
    part = MIMEApplication(render(report, schedule.format), _subtype=sub)
    part.replace_header("Content-Type", f"{main}/{sub}")
    part.add_header("Content-Disposition", "attachment", filename=filename(report, schedule.format))
    msg.attach(part)
    return msg


class ReportScheduler:
    """Delivers the due reports on each :meth:`tick` (the server calls it every minute).

    ``make_report(period, trend)`` builds a report (blocking; run in ``executor``); ``clock`` gives the
    time (Unix seconds), injectable for tests; ``global_config`` supplies Alertmanager's ``smtp_*``
    defaults to the email blocks."""

    def __init__(self, schedules: tuple[ReportSchedule, ...], store: DeliveryStore,
                 make_report: Callable[[Period, int], Report], clock: Callable[[], float],
                 executor: Executor | None = None, global_config: dict[str, Any] | None = None) -> None:
        self.schedules = schedules
        self.store = store
        self.make_report = make_report
        self.clock = clock
        self.executor = executor
        self.global_config = global_config or {}
        for schedule in schedules:  # fail early on a bad email block (ConfigError naming it)
            if schedule.email:
                self._email(schedule)

    def _email(self, schedule: ReportSchedule) -> EmailIntegration:
        return EmailIntegration.from_config(schedule.email, self.global_config,
                                            f"slos.reports ({schedule.name}).email")

    async def tick(self) -> list[Delivery]:
        """Attempt every due, undelivered channel once; returns the deliveries attempted."""
        now = self.clock()
        attempted: list[Delivery] = []
        for schedule in self.schedules:
            period = due_period(schedule, now, self.store.since(schedule.name, now))
            if period is None:
                continue
            waiting = []
            for channel in schedule.channels:
                d = self.store.get(schedule.name, period.label, channel)
                if d is None or (d.status == "retrying" and d.next_at <= now):
                    waiting.append(d or Delivery(schedule.name, period.label, channel, "retrying"))
            if not waiting:
                continue
            loop = asyncio.get_running_loop()
            report = await loop.run_in_executor(self.executor, self.make_report, period, schedule.trend)
            async with aiohttp.ClientSession() as session:
                for d in waiting:
                    await self._attempt(schedule, report, d, session)
                    attempted.append(d)
        return attempted

    async def _attempt(self, schedule: ReportSchedule, report: Report, d: Delivery,
                       session: aiohttp.ClientSession) -> None:
        now = self.clock()
        d.attempts += 1
        d.at = now
        try:
            if d.channel == "email":
                email = self._email(schedule)
                await email.send_message(email_message(schedule, report, email.from_))
            else:
                await self._webhook(schedule, report, session)
        except DeliveryError as err:
            d.error = str(err)
            gave_up = not err.retry or d.attempts >= MAX_ATTEMPTS
            d.status = "failed" if gave_up else "retrying"
            d.next_at = now + min(BACKOFF_S * 2 ** (d.attempts - 1), MAX_BACKOFF_S)
            log.warning("SLO report delivery failed", extra={"report": d.report, "period": d.period,
                                                             "channel": d.channel, "error": d.error,
                                                             "attempts": d.attempts, "gave_up": gave_up})
        else:
            d.status, d.error = "delivered", ""
            log.info("SLO report delivered", extra={"report": d.report, "period": d.period, "channel": d.channel})
        self.store.put(d)

    async def _webhook(self, schedule: ReportSchedule, report: Report, session: aiohttp.ClientSession) -> None:
        hook = schedule.webhook
        where = f"slos.reports ({schedule.name}).webhook"
        options = HttpOptions.from_config(hook.get("http_config"), f"{where}.http_config")
        if str(hook.get("body") or "json") == "file":
            fmt = get_format(schedule.format)
            name = filename(report, schedule.format)
            await post(session, str(hook["url"]), options, "SLO report webhook",
                       body=render(report, schedule.format),
                       extra_headers={"Content-Type": fmt.content_type,
                                      "Content-Disposition": f'attachment; filename="{name}"'})
            return
        body = {"report": schedule.name, "period": report.period.label, "time_zone": report.period.tz,
                "format": "json", "data": json.loads(report.to_json())}
        await post(session, str(hook["url"]), options, "SLO report webhook", json_body=body)
