"""The alert and notification values passed between the rule evaluator, the dispatcher and receivers.

Times are Unix seconds as floats (Alertmanager's API speaks RFC3339; convert at that edge only).
These are plain values: no I/O, no clocks. Thread-safety: instances are not shared mutably; the
dispatcher copies what it keeps.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211


def fingerprint(labels: Mapping[str, str]) -> str:
    """Prometheus's label-set fingerprint, as Alertmanager shows it: FNV-1a 64 over the sorted names and
    values, each followed by a 0xff byte, in 16 hex digits."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for chunk in (name.encode(), b"\xff", labels[name].encode(), b"\xff"):
            for byte in chunk:
                h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


@dataclass
class Alert:
    """One alert as Alertmanager models it.

    ``ends_at`` is ``None`` for an alert firing without a known end; an alert with ``ends_at <= now`` is
    resolved. ``updated_at`` is when this state was received.
    """

    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    starts_at: float = 0.0
    ends_at: float | None = None
    generator_url: str = ""
    updated_at: float = 0.0

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels)

    def resolved_at(self, now: float) -> bool:
        """True when the alert has ended at or before ``now``."""
        return self.ends_at is not None and self.ends_at <= now

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


def _labels_before(a: Mapping[str, str], b: Mapping[str, str]) -> bool:
    """Prometheus's ``LabelSet.Before``: fewer labels first, then by the sorted names' values."""
    if len(a) != len(b):
        return len(a) < len(b)
    for name in sorted({*a, *b}):
        if name not in a:
            return True
        if name not in b:
            return False
        if a[name] != b[name]:
            return a[name] < b[name]
    return False


def _alert_cmp(x: Alert, y: Alert) -> int:
    for key in ("job", "instance"):
        xv, yv = x.labels.get(key), y.labels.get(key)
        if xv is None and yv is None:
            continue
        if xv is None:
            return 1
        if yv is None:
            return -1
        if xv != yv:
            return -1 if xv < yv else 1
    return -1 if _labels_before(x.labels, y.labels) else (1 if _labels_before(y.labels, x.labels) else 0)


def notification_order(alerts: Sequence[Alert]) -> list[Alert]:
    """The alerts in the order Alertmanager notifies them: by ``job``, then ``instance`` (alerts having the
    label first), then by label set."""
    return sorted(alerts, key=functools.cmp_to_key(_alert_cmp))


class Notifier(Protocol):
    """Where the rule evaluator hands alerts: must be thread-safe and must not block on delivery."""

    def send(self, alerts: Sequence[Alert]) -> None: ...


Status = Literal["firing", "resolved"]


@dataclass
class Notification:
    """One message for one receiver about one aggregation group, as the dispatcher flushes it.

    ``alerts`` holds the group's firing and resolved alerts at flush time ``now``; ``status`` is ``firing``
    when any is firing. ``extras`` carries additions beyond Alertmanager's data model for templates, e.g.
    ``ack_url``, ``incident`` (correlation), ``suppressed`` (rate-limit summary), ``escalation_step``.
    """

    receiver: str
    group_key: str
    group_labels: dict[str, str]
    alerts: list[Alert]
    status: Status
    now: float
    external_url: str = ""
    # Receivers retry failed deliveries (5xx/429/network) with backoff until this time (the dispatcher
    # sets it to flush time + group_interval); None means one attempt.
    retry_until: float | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    # Only these integrations of the receiver (keys ``<kind>/<index>``, see DeliveryResult.key) get it;
    # None means all. Set when some integrations already have it (per-integration retries).
    integrations: frozenset[str] | None = None
    # True when this repeats what an earlier flush already tried to send (to integrations that failed it):
    # no news for hooks (an escalation does not start again).
    retry: bool = False

    @property
    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if not a.resolved_at(self.now)]

    @property
    def resolved(self) -> list[Alert]:
        return [a for a in self.alerts if a.resolved_at(self.now)]


@dataclass
class DeliveryResult:
    """Outcome of delivering one notification to one integration (after the receiver's retries).

    ``key`` names the integration within its receiver, ``<kind>/<index among that kind>`` (``webhook/0``),
    as the notification log keys it; an empty key with ``ok`` false means the whole receiver failed (rate
    limited, unknown receiver, an exception), so every integration asked for has to be tried again.
    """

    receiver: str
    integration: str
    ok: bool
    attempts: int
    status_code: int | None = None
    error: str = ""
    latency_s: float = 0.0
    key: str = ""


class Sender(Protocol):
    """Delivers notifications to a named receiver's integrations (implemented by alerting/receivers)."""

    async def notify(self, notification: Notification) -> list[DeliveryResult]: ...


class DispatchHook(Protocol):
    """Extensions the dispatcher calls (acknowledgement/escalation, correlation, flap detection).

    Hooks are registered with ``Dispatcher.add_hook``; they run on the dispatcher's event loop and must
    not block. ``before_send`` may add ``extras`` or return ``None`` to suppress this notification (e.g. a
    repeat of an acknowledged group, or a flapping alert being summarised).
    """

    def on_alerts(self, alerts: Sequence[Alert], now: float) -> None: ...

    def before_send(self, notification: Notification) -> Notification | None: ...

    async def after_send(self, notification: Notification, results: list[DeliveryResult]) -> None: ...
