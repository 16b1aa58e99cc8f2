"""Alertmanager's template data (``template.Data`` of Alertmanager 0.25) built from a notification.

``.Receiver .Status .Alerts .GroupLabels .CommonLabels .CommonAnnotations .ExternalURL``; ``.Alerts`` has
``.Firing``/``.Resolved``; each alert has ``.Status .Labels .Annotations .StartsAt .EndsAt .GeneratorURL
.Fingerprint``. Label and annotation sets are :class:`KV` (``.SortedPairs .Names .Values .Remove``; a
missing key reads as ""). Times are :class:`GoTime`; a firing alert's ``.EndsAt`` is the zero time.
tsdb adds ``.GroupKey`` and ``.Extras`` (e.g. ``ack_url``), which Alertmanager 0.25 does not have.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tsdb.alerting.gotmpl.gotime import GoTime
from tsdb.alerting.model import Alert, Notification


@dataclass(frozen=True)
class Pair:
    """One name/value pair of :meth:`KV.SortedPairs`."""

    Name: str
    Value: str


class Pairs(list[Pair]):
    """A list of pairs with ``.Names`` and ``.Values``."""

    GO_TYPE = "template.Pairs"
    GO_METHODS = frozenset({"Names", "Values"})

    def Names(self) -> list[str]:  # noqa: N802 - Go's method names
        return [p.Name for p in self]

    def Values(self) -> list[str]:  # noqa: N802
        return [p.Value for p in self]


class KV(dict[str, str]):
    """A label or annotation set; a missing key reads as the empty string."""

    GO_TYPE = "template.KV"
    GO_METHODS = frozenset({"SortedPairs", "Names", "Values", "Remove"})

    def __missing__(self, key: str) -> str:
        return ""

    def SortedPairs(self) -> Pairs:  # noqa: N802
        """The pairs sorted by name, with ``alertname`` first when present."""
        names = sorted(k for k in self if k != "alertname")
        if "alertname" in self:
            names.insert(0, "alertname")
        return Pairs(Pair(k, self[k]) for k in names)

    def Names(self) -> list[str]:  # noqa: N802
        return self.SortedPairs().Names()

    def Values(self) -> list[str]:  # noqa: N802
        return self.SortedPairs().Values()

    def Remove(self, keys: Iterable[str]) -> KV:  # noqa: N802
        """A copy without ``keys``."""
        drop = set(keys)
        return KV({k: v for k, v in self.items() if k not in drop})


@dataclass
class AlertData:
    """One alert of the template data."""

    Status: str
    Labels: KV
    Annotations: KV
    StartsAt: GoTime
    EndsAt: GoTime
    GeneratorURL: str
    Fingerprint: str


class Alerts(list[AlertData]):
    """The group's alerts, with ``.Firing`` and ``.Resolved``."""

    GO_TYPE = "template.Alerts"
    GO_METHODS = frozenset({"Firing", "Resolved"})

    def Firing(self) -> list[AlertData]:  # noqa: N802
        return [a for a in self if a.Status == "firing"]

    def Resolved(self) -> list[AlertData]:  # noqa: N802
        return [a for a in self if a.Status == "resolved"]


@dataclass
class Data:
    """What every notification template is executed with."""

    Receiver: str
    Status: str
    Alerts: Alerts
    GroupLabels: KV
    CommonLabels: KV
    CommonAnnotations: KV
    ExternalURL: str
    GroupKey: str = ""
    Extras: dict[str, Any] = field(default_factory=dict)


def quote_meta(text: str) -> str:
    """Go's ``regexp.QuoteMeta`` (Alertmanager quotes the receiver name so)."""
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", text)


def common(maps: list[dict[str, str]]) -> KV:
    """The name/value pairs all maps share."""
    if not maps:
        return KV()
    shared = dict(maps[0])
    for m in maps[1:]:
        shared = {k: v for k, v in shared.items() if m.get(k) == v}
    return KV(shared)


def alert_data(alert: Alert, now: float) -> AlertData:
    resolved = alert.resolved_at(now)
    return AlertData("resolved" if resolved else "firing", KV(alert.labels), KV(alert.annotations),
                     GoTime.from_seconds(alert.starts_at), GoTime.from_seconds(alert.ends_at if resolved else None),
                     alert.generator_url, alert.fingerprint)


def template_data(notification: Notification) -> Data:
    """The data Alertmanager would execute this notification's templates with."""
    alerts = Alerts(alert_data(a, notification.now) for a in notification.alerts)
    return Data(Receiver=quote_meta(notification.receiver),
                Status=notification.status, Alerts=alerts, GroupLabels=KV(notification.group_labels),
                CommonLabels=common([a.labels for a in notification.alerts]),
                CommonAnnotations=common([a.annotations for a in notification.alerts]),
                ExternalURL=notification.external_url, GroupKey=notification.group_key,
                Extras=dict(notification.extras))
