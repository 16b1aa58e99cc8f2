"""The PagerDuty integration: Events API v2 messages exactly as Alertmanager 0.25 builds them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tsdb.alerting.gotmpl.fields import FieldRenderer
from tsdb.alerting.gotmpl.render import NotificationTemplates
from tsdb.alerting.model import Notification
from tsdb.alerting.receivers.common import build_or_fail, configured, http_url, omit_empty, truncate_runes
from tsdb.alerting.receivers.http import HttpOptions, post, secret
from tsdb.errors import ConfigError

PAGERDUTY_DEFAULTS = {
    "description": '{{ template "pagerduty.default.description" .}}',
    "client": '{{ template "pagerduty.default.client" . }}',
    "client_url": '{{ template "pagerduty.default.clientURL" . }}',
    "severity": "error", "class": "", "component": "", "group": "",
}
"""Alertmanager 0.25's PagerDuty defaults (``source`` defaults to the ``client`` template)."""
PAGERDUTY_DETAILS = {
    "firing": '{{ template "pagerduty.default.instances" .Alerts.Firing }}',
    "resolved": '{{ template "pagerduty.default.instances" .Alerts.Resolved }}',
    "num_firing": "{{ .Alerts.Firing | len }}",
    "num_resolved": "{{ .Alerts.Resolved | len }}",
}
"""The ``details`` Alertmanager adds unless the configuration sets the same keys."""


@dataclass
class PagerDutyIntegration:
    """``pagerduty_configs`` entry (Events API v2: ``routing_key``); dedup key = sha256 of the group key."""

    routing_key: str
    url: str
    options: HttpOptions
    fields: dict[str, str] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)
    links: list[dict[str, Any]] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    send_resolved: bool = True
    templates: NotificationTemplates | None = None
    engine: str = "go"
    kind: str = "pagerduty"

    @classmethod
    def from_config(cls, raw: dict[str, Any], global_config: dict[str, Any], where: str,
                    templates: NotificationTemplates | None = None, engine: str = "go") -> PagerDutyIntegration:
        key = secret(raw, "routing_key", where)
        if not key:
            raise ConfigError(f"{where}: routing_key is required (Events API v2)")
        url = str(raw.get("url") or global_config.get("pagerduty_url") or "https://events.pagerduty.com/v2/enqueue")
        fields = configured(raw, (*PAGERDUTY_DEFAULTS, "source"))
        details = {str(k): str(v) for k, v in (raw.get("details") or {}).items()}
        return cls(key, http_url({"url": url}, "url", where), HttpOptions.from_config(raw.get("http_config"), where),
                   fields, details, [dict(x) for x in raw.get("links") or []],
                   [dict(x) for x in raw.get("images") or []], bool(raw.get("send_resolved", True)), templates,
                   engine)

    def event(self, notification: Notification) -> dict[str, Any]:
        """The message; :class:`FieldTemplateError` when a template fails."""
        r = FieldRenderer(notification, self.templates, self.engine, self.kind)

        def text(key: str) -> str:
            default = self.fields.get("client", PAGERDUTY_DEFAULTS["client"]) if key == "source" \
                else PAGERDUTY_DEFAULTS[key]
            return r.text(key, self.fields.get(key), default)

        # details: the configured ones, then Alertmanager's four where not configured (always Go's defaults)
        details = {k: r.text(f"details.{k}", v) for k, v in self.details.items()}
        details.update({k: r.text(f"details.{k}", None, v) for k, v in PAGERDUTY_DETAILS.items()
                        if k not in self.details})
        payload = omit_empty({"summary": truncate_runes(text("description"), 1024), "source": text("source"),
                              "severity": text("severity"), "class": text("class"),
                              "component": text("component"), "group": text("group"),
                              "custom_details": details}, ("summary", "source", "severity"))
        images = [omit_empty({"src": r.text("images.src", str(i.get("src") or "")),
                              "alt": r.text("images.alt", str(i.get("alt") or "")),
                              "href": r.text("images.href", str(i.get("href") or ""))}, ("src", "alt", "href"))
                  for i in self.images]
        links = [{"href": r.text("links.href", str(x.get("href") or "")),
                  "text": r.text("links.text", str(x.get("text") or ""))} for x in self.links]
        message = {"routing_key": r.text("routing_key", self.routing_key),
                   "dedup_key": hashlib.sha256(notification.group_key.encode()).hexdigest(),
                   "event_action": "resolve" if notification.status == "resolved" else "trigger",
                   "payload": payload, "client": text("client"), "client_url": text("client_url"),
                   "images": [i for i in images if i["src"]], "links": [x for x in links if x["href"]]}
        return omit_empty(message, ("event_action", "payload"))

    async def send(self, notification: Notification, session: aiohttp.ClientSession) -> int:
        return await post(session, self.url, self.options, "pagerduty",
                          json_body=build_or_fail(self.event, notification))
