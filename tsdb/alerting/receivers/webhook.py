"""The webhook integration: Alertmanager's webhook v4 JSON body, POSTed to ``url``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from tsdb.alerting.gotmpl.data import quote_meta
from tsdb.alerting.model import Alert, Notification
from tsdb.alerting.receivers.integration import DeliveryError
from tsdb.alerting.receivers.templates import common_pairs
from tsdb.errors import ConfigError
from tsdb.secrets import redact_url, redact_urls
from tsdb.timefmt import ZERO_TIME, format_rfc3339


def rfc3339(seconds: float | None) -> str:
    if seconds is None:
        return ZERO_TIME
    return format_rfc3339(seconds, "us")


def webhook_body(notification: Notification, max_alerts: int = 0) -> dict[str, Any]:
    """The v4 body Alertmanager sends (truncated to ``max_alerts`` when > 0); as in Alertmanager, the
    receiver name is quoted as a regular expression (``team.a`` -> ``team\\.a``)."""
    alerts = notification.alerts
    truncated = max(0, len(alerts) - max_alerts) if max_alerts else 0
    shown = alerts[:max_alerts] if max_alerts else alerts

    def one(a: Alert) -> dict[str, Any]:
        resolved = a.resolved_at(notification.now)
        return {"status": "resolved" if resolved else "firing", "labels": a.labels, "annotations": a.annotations,
                "startsAt": rfc3339(a.starts_at), "endsAt": rfc3339(a.ends_at if resolved else None),
                "generatorURL": a.generator_url, "fingerprint": a.fingerprint}

    return {"receiver": quote_meta(notification.receiver), "status": notification.status,
            "alerts": [one(a) for a in shown],
            "groupLabels": notification.group_labels,
            "commonLabels": common_pairs([a.labels for a in alerts]),
            "commonAnnotations": common_pairs([a.annotations for a in alerts]),
            "externalURL": notification.external_url, "version": "4",
            "groupKey": notification.group_key, "truncatedAlerts": truncated,
            **({"tsdb": notification.extras} if notification.extras else {})}


@dataclass
class WebhookIntegration:
    """``webhook_configs`` entry: url, send_resolved (default true), max_alerts, http_config timeout."""

    url: str
    send_resolved: bool = True
    max_alerts: int = 0
    timeout_s: float = 10.0
    kind: str = "webhook"

    @classmethod
    def from_config(cls, raw: dict[str, Any], where: str) -> WebhookIntegration:
        url = raw.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}: url must be an http(s) URL")
        return cls(url, bool(raw.get("send_resolved", True)), int(raw.get("max_alerts") or 0),
                   float((raw.get("http_config") or {}).get("timeout_s", 10.0)))

    async def send(self, notification: Notification, session: aiohttp.ClientSession) -> int:
        body = json.dumps(webhook_body(notification, self.max_alerts))
        try:
            async with session.post(self.url, data=body, headers={"Content-Type": "application/json"},
                                    timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as response:
                await response.read()
                if response.status >= 500 or response.status == 429:
                    raise DeliveryError(f"webhook {redact_url(self.url)}: HTTP {response.status}", response.status)
                if response.status >= 300:
                    raise DeliveryError(f"webhook {redact_url(self.url)}: HTTP {response.status}", response.status,
                                        retry=False)
                return response.status
        except (aiohttp.ClientError, TimeoutError) as err:
            raise DeliveryError(f"webhook {redact_url(self.url)}: {redact_urls(str(err))}") from err
