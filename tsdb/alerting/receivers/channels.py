"""tsdb's own integrations: an HTTP SMS gateway and forwarding to another Alertmanager."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from tsdb.alerting.gotmpl.fields import FieldRenderer
from tsdb.alerting.gotmpl.render import NotificationTemplates
from tsdb.alerting.model import Notification
from tsdb.alerting.receivers.common import build_or_fail, http_url
from tsdb.alerting.receivers.http import HttpOptions, post
from tsdb.alerting.receivers.webhook import rfc3339
from tsdb.errors import ConfigError

SMS_DEFAULT = '{{ template "tsdb.sms.default.text" . }}'

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
    templates: NotificationTemplates | None = None
    engine: str = "go"
    kind: str = "sms"

    @classmethod
    def from_config(cls, raw: dict[str, Any], where: str, templates: NotificationTemplates | None = None,
                    engine: str = "go") -> SmsIntegration:
        if not raw.get("to"):
            raise ConfigError(f"{where}: 'to' (the phone number) is required")
        return cls(http_url(raw, "url", where), HttpOptions.from_config(raw.get("http_config"), where), str(raw["to"]),
                   str(raw.get("from") or ""), raw.get("text"), bool(raw.get("long", False)),
                   bool(raw.get("send_resolved", True)), templates, engine)

    def body(self, notification: Notification) -> str:
        """The message text; :class:`FieldTemplateError` when its template fails."""
        text = FieldRenderer(notification, self.templates, self.engine, self.kind).text("text", self.text,
                                                                                        SMS_DEFAULT)
        return truncate_sms(text, 1600 if self.long else 160)

    async def send(self, notification: Notification, session: aiohttp.ClientSession) -> int:
        return await post(session, self.url, self.options, "sms",
                          form={"From": self.from_, "To": self.to, "Body": build_or_fail(self.body, notification)})


@dataclass
class ForwardIntegration:
    """Forwards the group's alerts to another Alertmanager's API v2."""

    url: str
    options: HttpOptions
    send_resolved: bool = True
    kind: str = "alertmanager"

    @classmethod
    def from_config(cls, raw: dict[str, Any], where: str) -> ForwardIntegration:
        return cls(http_url(raw, "url", where).rstrip("/"), HttpOptions.from_config(raw.get("http_config"), where))

    async def send(self, notification: Notification, session: aiohttp.ClientSession) -> int:
        body = [{"labels": a.labels, "annotations": a.annotations, "startsAt": rfc3339(a.starts_at),
                 "endsAt": rfc3339(a.ends_at) if a.ends_at is not None else rfc3339(notification.now + 300),
                 "generatorURL": a.generator_url} for a in notification.alerts]
        return await post(session, f"{self.url}/api/v2/alerts", self.options, "alertmanager", json_body=body)
