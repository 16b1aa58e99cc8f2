"""``slos.reports`` in tsdb.yml: compliance reports the server delivers every month by email and/or webhook.

``{name, schedule: monthly, time_zone: UTC, format: html, trend: 3, delay: 10m, email: {to, from,
smarthost, auth_username, auth_password, auth_password_file, require_tls, tls_config, subject},
webhook: {url, body: json|file, http_config}}``; at least one of ``email`` and ``webhook``. Errors name
``slos.reports[<i>]`` and the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tsdb.config import parse_duration_ms
from tsdb.errors import ConfigError, TsdbError
from tsdb.slo.report_period import zone

FORMATS = ("json", "csv", "html", "pdf")
_KEYS = {"name", "schedule", "time_zone", "format", "trend", "delay", "email", "webhook"}
_EMAIL_KEYS = {"to", "from", "smarthost", "auth_username", "auth_password", "auth_password_file",
               "auth_identity", "require_tls", "tls_config", "subject"}
_WEBHOOK_KEYS = {"url", "body", "http_config"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_.]*$")


@dataclass(frozen=True)
class ReportSchedule:
    """One scheduled report; ``email`` and ``webhook`` are their raw blocks (validated), empty when unset."""

    name: str
    time_zone: str = "UTC"
    format: str = "html"
    trend: int = 3
    delay_s: float = 600.0
    email: dict[str, Any] = field(default_factory=dict)
    webhook: dict[str, Any] = field(default_factory=dict)

    @property
    def channels(self) -> list[str]:
        return [name for name in ("email", "webhook") if getattr(self, name)]


def _block(raw: Any, keys: set[str], where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
    unknown = sorted(set(map(str, raw)) - keys)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(keys))})")
    return {str(k): v for k, v in raw.items()}


def _parse_one(raw: Any, where: str) -> ReportSchedule:
    block = _block(raw, _KEYS, where)
    if not block:
        raise ConfigError(f"{where}: expected a mapping with name, schedule and email or webhook")
    name = str(block.get("name") or "")
    if not _NAME_RE.match(name):
        raise ConfigError(f"{where}.name: required; letters, digits, '.', '_' and '-', got {name!r}")
    where = f"{where} ({name})"
    schedule = str(block.get("schedule") or "monthly")
    if schedule != "monthly":
        raise ConfigError(f"{where}.schedule: unknown schedule {schedule!r} (known: monthly)")
    tz = str(block.get("time_zone") or "UTC")
    try:
        zone(tz)
    except TsdbError as err:
        raise ConfigError(f"{where}.time_zone: {err}") from err
    fmt = str(block.get("format") or "html")
    if fmt not in FORMATS:
        raise ConfigError(f"{where}.format: unknown report format {fmt!r} (known: {', '.join(FORMATS)})")
    trend = block.get("trend", 3)
    if isinstance(trend, bool) or not isinstance(trend, int) or not 0 <= trend <= 24:
        raise ConfigError(f"{where}.trend: expected a number of months from 0 to 24, got {trend!r}")
    try:
        delay_s = parse_duration_ms(block.get("delay") or "10m", f"{where}.delay") / 1000
    except TsdbError as err:
        raise ConfigError(str(err)) from err
    email = _block(block.get("email"), _EMAIL_KEYS, f"{where}.email")
    if email:
        to = email.get("to")
        if not isinstance(to, str) or not to.strip():
            raise ConfigError(f"{where}.email.to: required (comma-separated addresses)")
    webhook = _block(block.get("webhook"), _WEBHOOK_KEYS, f"{where}.webhook")
    if webhook:
        url = webhook.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}.webhook.url: must be an http(s) URL")
        if str(webhook.get("body") or "json") not in ("json", "file"):
            raise ConfigError(f"{where}.webhook.body: expected json or file, got {webhook.get('body')!r}")
    if not email and not webhook:
        raise ConfigError(f"{where}: nothing to deliver to: set email or webhook")
    return ReportSchedule(name, tz, fmt, trend, delay_s, email, webhook)


def parse_reports(raw: Any) -> tuple[ReportSchedule, ...]:
    """The ``slos.reports`` list; ConfigError naming the entry and key."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"slos.reports: expected a list of reports, got {type(raw).__name__}")
    out = [_parse_one(item, f"slos.reports[{i}]") for i, item in enumerate(raw)]
    seen: set[str] = set()
    for i, report in enumerate(out):
        if report.name in seen:
            raise ConfigError(f"slos.reports[{i}].name: {report.name!r} is used twice")
        seen.add(report.name)
    return tuple(out)
