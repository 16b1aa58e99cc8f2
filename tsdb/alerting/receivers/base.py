"""The receiver set: integrations by receiver name, concurrent delivery, retries, a delivery log."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Histogram

from tsdb.alerting.gotmpl.fields import engine_of
from tsdb.alerting.gotmpl.render import NotificationTemplates, default_templates
from tsdb.alerting.model import DeliveryResult, Notification
from tsdb.alerting.receivers.channels import ForwardIntegration, SmsIntegration
from tsdb.alerting.receivers.email import EmailIntegration
from tsdb.alerting.receivers.integration import DeliveryError, Integration
from tsdb.alerting.receivers.pagerduty import PagerDutyIntegration
from tsdb.alerting.receivers.slack import SlackIntegration
from tsdb.alerting.receivers.webhook import WebhookIntegration
from tsdb.errors import ConfigError

log = logging.getLogger("tsdb.alerting.receivers")


class TokenBucket:
    """Rate limiting: ``rate`` tokens per second up to ``burst``; :meth:`take` spends one if available."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate, self.burst, self.clock = rate, max(1, burst), clock
        self.tokens = float(self.burst)
        self.at = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class DeliveryMetrics:
    """The notification counters, shared by every receiver set of a server (reloads keep counting).

    ``tsdb_notifications_total`` counts attempts, ``tsdb_notifications_failed_total`` failed attempts,
    ``tsdb_notifications_retried_total`` attempts repeating a failed one (within a flush, at a later flush,
    or an escalation page's retry), ``tsdb_notifications_given_up_total`` notifications abandoned after
    their last failed attempt. It also remembers which (group, receiver, integration) last failed (the
    newest 10,000), so that a later attempt counts as a retry.
    """

    MAX_FAILING = 10_000

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry or CollectorRegistry()
        labels = ["receiver", "integration"]
        self.sent = Counter("tsdb_notifications_total", "Notification attempts by receiver and integration.",
                            labels, registry=registry)
        self.failed = Counter("tsdb_notifications_failed_total", "Failed notification attempts.", labels,
                              registry=registry)
        self.retried = Counter("tsdb_notifications_retried_total",
                               "Notification attempts repeating a failed one.", labels, registry=registry)
        self.given_up = Counter("tsdb_notifications_given_up_total",
                                "Notifications abandoned after their last failed attempt.", labels,
                                registry=registry)
        self.latency = Histogram("tsdb_notification_latency_seconds", "Notification delivery latency.",
                                 ["integration"], registry=registry)
        self._failing: collections.OrderedDict[tuple[str, str, str], None] = collections.OrderedDict()

    def failing(self, group_key: str, receiver: str, key: str) -> bool:
        """Whether the last delivery of this group to this integration failed."""
        return (group_key, receiver, key) in self._failing

    def outcome(self, group_key: str, receiver: str, key: str, ok: bool) -> None:
        """Remember a delivery's outcome (bounded)."""
        entry = (group_key, receiver, key)
        if ok:
            self._failing.pop(entry, None)
            return
        self._failing[entry] = None
        self._failing.move_to_end(entry)
        while len(self._failing) > self.MAX_FAILING:
            self._failing.popitem(last=False)

    def gave_up(self, group_key: str, receiver: str, kind: str, key: str) -> None:
        """Count a notification abandoned after its last failed attempt."""
        self.given_up.labels(receiver, kind).inc()
        self._failing.pop((group_key, receiver, key), None)


MAX_ATTEMPTS = 20
"""At most this many attempts per delivery (besides the ``retry_until`` deadline)."""


class ReceiverSet:
    """Delivers a notification to all integrations of its receiver (see :class:`tsdb.alerting.model.Sender`),
    or to those ``notification.integrations`` names. Each result carries its integration's ``key``."""

    def __init__(self, integrations: dict[str, list[Integration]], unsupported: dict[str, list[str]],
                 registry: CollectorRegistry | None, clock: Callable[[], float], *,
                 metrics: DeliveryMetrics | None = None, max_attempts: int = MAX_ATTEMPTS) -> None:
        self._integrations = integrations
        self._keys = {name: _keys(found) for name, found in integrations.items()}
        self.names = set(integrations)
        self.unsupported = unsupported
        self.clock = clock
        self.max_attempts = max(1, max_attempts)
        self._log: collections.deque[dict[str, Any]] = collections.deque(maxlen=1000)
        self._buckets: dict[str, TokenBucket] = {}
        self._suppressed: collections.Counter[str] = collections.Counter()
        self._session: aiohttp.ClientSession | None = None
        self.metrics = metrics or DeliveryMetrics(registry)

    def integration_keys(self, receiver: str) -> list[str]:
        """The keys (``<kind>/<index>``) of the receiver's integrations, in config order ([] if unknown)."""
        return list(self._keys.get(receiver, ()))

    def set_rate_limit(self, receiver: str, per_minute: float, burst: int) -> None:
        """A token bucket for ``receiver``: at most ``burst`` at once, refilled ``per_minute``."""
        self._buckets[receiver] = TokenBucket(per_minute / 60.0, burst, self.clock)

    async def notify(self, notification: Notification) -> list[DeliveryResult]:
        if notification.receiver not in self._integrations:
            raise ValueError(f"unknown receiver {notification.receiver!r}")
        bucket = self._buckets.get(notification.receiver)
        if bucket is not None:
            if not bucket.take():
                self._suppressed[notification.receiver] += 1
                self._log.append({"time": self.clock(), "receiver": notification.receiver, "integration": "",
                                  "ok": False, "attempts": 0, "status": None, "error": "rate limited",
                                  "latency_s": 0.0, "group_key": notification.group_key})
                return [DeliveryResult(notification.receiver, "", False, 0, error="rate limited")]
            suppressed = self._suppressed.pop(notification.receiver, 0)
            if suppressed:  # summarised in the next notification that goes out
                notification.extras = {**notification.extras, "suppressed": suppressed}
        if self._session is None:
            self._session = aiohttp.ClientSession()
        tasks = []
        wanted = notification.integrations
        for key, integration in zip(self._keys[notification.receiver], self._integrations[notification.receiver],
                                    strict=True):
            if wanted is not None and key not in wanted:
                continue
            if notification.status == "resolved" and not integration.send_resolved:
                continue
            if not integration.send_resolved and notification.resolved:
                # as Alertmanager: an integration without send_resolved is told of the firing alerts only
                tasks.append(self._deliver(integration, key, dataclasses.replace(notification,
                                                                                 alerts=notification.firing)))
                continue
            tasks.append(self._deliver(integration, key, notification))
        return list(await asyncio.gather(*tasks))

    async def _deliver(self, integration: Integration, key: str, notification: Notification) -> DeliveryResult:
        assert self._session is not None
        m, receiver, kind = self.metrics, notification.receiver, integration.kind
        attempts = 0
        started = time.monotonic()
        delay = 0.5
        retrying = m.failing(notification.group_key, receiver, key)
        while True:
            attempts += 1
            m.sent.labels(receiver, kind).inc()
            if retrying or attempts > 1:
                m.retried.labels(receiver, kind).inc()
            try:
                status = await integration.send(notification, self._session)
                result = DeliveryResult(receiver, kind, True, attempts, status,
                                        latency_s=time.monotonic() - started, key=key)
                break
            except DeliveryError as err:
                m.failed.labels(receiver, kind).inc()
                result = DeliveryResult(receiver, kind, False, attempts, err.status, str(err),
                                        time.monotonic() - started, key)
                deadline = notification.retry_until
                if (not err.retry or deadline is None or self.clock() + delay > deadline
                        or attempts >= self.max_attempts):
                    break
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 30.0)
        m.outcome(notification.group_key, receiver, key, result.ok)
        m.latency.labels(kind).observe(result.latency_s)
        self._log.append({"time": self.clock(), "receiver": result.receiver, "integration": result.integration,
                          "ok": result.ok, "attempts": result.attempts, "status": result.status_code,
                          "error": result.error, "latency_s": round(result.latency_s, 4),
                          "group_key": notification.group_key})
        return result

    def delivery_log(self, limit: int = 100) -> list[dict[str, Any]]:
        return list(self._log)[-limit:]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def build_receivers(receivers: list[dict[str, Any]], *, global_config: dict[str, Any],
                    templates: list[str] | NotificationTemplates, base_dir: Path | None, external_url: str,
                    registry: CollectorRegistry | None = None, clock: Callable[[], float] = time.time,
                    source: str = "alertmanager.yml", metrics: DeliveryMetrics | None = None,
                    max_attempts: int = MAX_ATTEMPTS) -> ReceiverSet:
    """The receiver set of Alertmanager ``receivers:``. ``templates`` are the ``templates:`` globs (relative
    to ``base_dir``) or an already loaded set; a template file that fails to parse is a ConfigError.
    ``metrics`` (shared across reloads) wins over ``registry``; ``max_attempts`` bounds each delivery's
    attempts besides its ``retry_until`` deadline."""
    g = global_config
    if isinstance(templates, NotificationTemplates):
        tmpl = templates
    else:
        tmpl = NotificationTemplates.load(templates, base_dir, source) if templates else default_templates()
    Builder = Callable[[dict[str, Any], str, str], Integration]
    builders: dict[str, Builder] = {
        "webhook_configs": lambda c, w, e: WebhookIntegration.from_config(c, w),
        "slack_configs": lambda c, w, e: SlackIntegration.from_config(c, g, w, tmpl, e),
        "email_configs": lambda c, w, e: EmailIntegration.from_config(c, g, w, tmpl, e),
        "pagerduty_configs": lambda c, w, e: PagerDutyIntegration.from_config(c, g, w, tmpl, e),
        "sms_configs": lambda c, w, e: SmsIntegration.from_config(c, w, tmpl, e),
        "alertmanager_configs": lambda c, w, e: ForwardIntegration.from_config(c, w),
    }
    integrations: dict[str, list[Integration]] = {}
    unsupported: dict[str, list[str]] = {}
    for i, raw in enumerate(receivers):
        name = str(raw.get("name", ""))
        if not name:
            raise ConfigError(f"receivers[{i}]: missing name")
        engine_of({}, raw, f"receivers[{name}]")
        found: list[Integration] = []
        for key, build in builders.items():
            for j, cfg in enumerate(raw.get(key) or []):
                where = f"receivers[{name}].{key}[{j}]"
                found.append(build(cfg or {}, where, engine_of(cfg or {}, raw, where)))
        missing = [k for k in raw if k.endswith("_configs") and k not in builders and raw[k]]
        if missing:
            unsupported[name] = missing
            log.warning("receiver integrations not implemented", extra={"receiver": name, "keys": missing})
        integrations[name] = found
    receiver_set = ReceiverSet(integrations, unsupported, registry, clock, metrics=metrics,
                               max_attempts=max_attempts)
    return receiver_set


def _keys(integrations: list[Integration]) -> list[str]:
    """``<kind>/<index among that kind>`` per integration, as Alertmanager names notification log entries."""
    seen: collections.Counter[str] = collections.Counter()
    out = []
    for integration in integrations:
        out.append(f"{integration.kind}/{seen[integration.kind]}")
        seen[integration.kind] += 1
    return out
