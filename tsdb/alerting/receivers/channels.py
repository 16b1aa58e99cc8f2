"""Slack, SMS gateway, PagerDuty Events API v2 and Alertmanager forwarding integrations."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import aiohttp

from tsdb.alerting.model import Notification
from tsdb.alerting.receivers import templates
from tsdb.alerting.receivers.http import HttpOptions, post, secret
from tsdb.alerting.receivers.webhook import rfc3339
from tsdb.errors import ConfigError

SEVERITY_COLORS = {"critical": "danger", "page": "danger", "error": "danger", "warning": "warning"}


def _url(raw: dict[str, Any], key: str, where: str, default: str = "") -> str:
    url = secret(raw, key, where) or default
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: {key} must be an http(s) URL")
    return url


@dataclass
class SlackIntegration:
    """Incoming-webhook JSON: one attachment with title, text, a color by status/severity and fields."""

    url: str
    options: HttpOptions
    channel: str = ""
    title: str | None = None
    text: str | None = None
    send_resolved: bool = False
    kind: str = "slack"

    @classmethod
    def from_config(cls, raw: dict[str, Any], global_config: dict[str, Any], where: str) -> SlackIntegration:
        default = str(global_config.get("slack_api_url") or "")
        return cls(_url(raw, "api_url", where, default), HttpOptions.from_config(raw.get("http_config"), where),
                   str(raw.get("channel") or ""), raw.get("title"), raw.get("text"),
                   bool(raw.get("send_resolved", False)))

    def payload(self, notification: Notification) -> dict[str, Any]:
        data = templates.context(notification)
        title = templates.render(self.title, "title", data)
        severities = {a.labels.get("severity", "") for a in notification.firing}
        color = "good" if notification.status == "resolved" else next(
            (SEVERITY_COLORS[s] for s in ("critical", "page", "error", "warning") if s in severities), "warning")
        fields = [{"title": k, "value": v, "short": True} for k, v in sorted(data["common_labels"].items())]
        body: dict[str, Any] = {"attachments": [{"title": title, "text": templates.render(self.text, "text", data),
                                                 "color": color, "fields": fields,
                                                 "title_link": notification.external_url,
                                                 "fallback": title}]}
        if self.channel:
            body["channel"] = self.channel
        return body

    async def send(self, notification: Notification, session: aiohttp.ClientSession) -> int:
        return await post(session, self.url, self.options, "slack", json_body=self.payload(notification))


def truncate_sms(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary with an ellipsis when too long."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut) + "…"


@dataclass
class SmsIntegration:
    """A Twilio-style HTTP gateway: form POST of From, To and Body (160 chars, or 1600 when ``long``)."""

    url: str
    options: HttpOptions
    to: str
    from_: str
    text: str | None = None
    long: bool = False
    send_resolved: bool = True
    kind: str = "sms"

    @classmethod
    def from_config(cls, raw: dict[str, Any], where: str) -> SmsIntegration:
        if not raw.get("to"):
            raise ConfigError(f"{where}: 'to' (the phone number) is required")
        return cls(_url(raw, "url", where), HttpOptions.from_config(raw.get("http_config"), where), str(raw["to"]),
                   str(raw.get("from") or ""), raw.get("text"), bool(raw.get("long", False)),
                   bool(raw.get("send_resolved", True)))

    def body(self, notification: Notification) -> str:
        return truncate_sms(templates.render(self.text, "sms", templates.context(notification)),
                            1600 if self.long else 160)

    async def send(self, notification: Notification, session: aiohttp.ClientSession) -> int:
        return await post(session, self.url, self.options, "sms",
                          form={"From": self.from_, "To": self.to, "Body": self.body(notification)})


@dataclass
class PagerDutyIntegration:
    """PagerDuty Events API v2: trigger / resolve with a dedup key derived from the group key."""

    routing_key: str
    url: str
    options: HttpOptions
    severity: str = "error"
    send_resolved: bool = True
    kind: str = "pagerduty"

    @classmethod
    def from_config(cls, raw: dict[str, Any], global_config: dict[str, Any], where: str) -> PagerDutyIntegration:
        key = secret(raw, "routing_key", where)
        if not key:
            raise ConfigError(f"{where}: routing_key is required (Events API v2)")
        url = str(raw.get("url") or global_config.get("pagerduty_url") or "https://events.pagerduty.com/v2/enqueue")
        return cls(key, _url({"url": url}, "url", where), HttpOptions.from_config(raw.get("http_config"), where),
                   str(raw.get("severity") or "error"), bool(raw.get("send_resolved", True)))

    def event(self, notification: Notification) -> dict[str, Any]:
        data = templates.context(notification)
        dedup = hashlib.sha256(notification.group_key.encode()).hexdigest()
        event: dict[str, Any] = {"routing_key": self.routing_key, "dedup_key": dedup,
                                 "event_action": "resolve" if notification.status == "resolved" else "trigger"}
        if event["event_action"] == "trigger":
            event["payload"] = {"summary": templates.render(None, "title", data)[:1024], "source": "tsdb",
                                "severity": self.severity,
                                "custom_details": {"alerts": templates.render(None, "text", data)}}
            event["client"] = "tsdb"
            event["client_url"] = notification.external_url
        return event

    async def send(self, notification: Notification, session: aiohttp.ClientSession) -> int:
        return await post(session, self.url, self.options, "pagerduty", json_body=self.event(notification))


@dataclass
class ForwardIntegration:
    """Forwards the group's alerts to another Alertmanager's API v2."""

    url: str
    options: HttpOptions
    send_resolved: bool = True
    kind: str = "alertmanager"

    @classmethod
    def from_config(cls, raw: dict[str, Any], where: str) -> ForwardIntegration:
        return cls(_url(raw, "url", where).rstrip("/"), HttpOptions.from_config(raw.get("http_config"), where))

    async def send(self, notification: Notification, session: aiohttp.ClientSession) -> int:
        body = [{"labels": a.labels, "annotations": a.annotations, "startsAt": rfc3339(a.starts_at),
                 "endsAt": rfc3339(a.ends_at) if a.ends_at is not None else rfc3339(notification.now + 300),
                 "generatorURL": a.generator_url} for a in notification.alerts]
        return await post(session, f"{self.url}/api/v2/alerts", self.options, "alertmanager", json_body=body)
