"""Alert correlation: related alerts become one incident with a root-cause candidate.

Alerts that start within ``window_s`` of an open incident's first alert and share at least one value of
the configured topology labels (e.g. ``cluster``, ``service``, ``instance``) join that incident. The root
cause candidate is the member whose topology labels are a subset of every other member's (the most
general: a cluster-wide alert explains per-instance ones), else the earliest. An incident resolves when
all its members have. Notifications carry ``extras["incident"]``; :meth:`Correlator.incidents` feeds
``GET /api/v1/incidents``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tsdb.alerting.model import Alert, DeliveryResult, Notification

DEFAULT_LABELS = ("cluster", "service", "namespace", "job", "instance")
MAX_INCIDENTS = 1000
"""Incidents kept (the newest); older ones are forgotten with their alerts."""


@dataclass
class Incident:
    id: int
    started: float
    members: dict[str, Alert] = field(default_factory=dict)
    resolved_at: float | None = None

    def status(self, now: float) -> str:
        return "resolved" if self.resolved_at is not None else "open"


class Correlator:
    """A DispatchHook linking alerts into incidents (see module docstring). Not thread-safe by itself: the
    dispatcher calls it under its own ordering."""

    def __init__(self, window_s: float = 300.0, labels: Sequence[str] = DEFAULT_LABELS,
                 clock: Callable[[], float] | None = None) -> None:
        self.window_s = window_s
        self.labels = tuple(labels)
        self.incidents: list[Incident] = []
        self._of: dict[str, Incident] = {}
        self._ids = itertools.count(1)

    def _topology(self, alert: Alert) -> dict[str, str]:
        return {k: alert.labels[k] for k in self.labels if k in alert.labels}

    def root_cause(self, incident: Incident) -> Alert:
        members = list(incident.members.values())
        for candidate in members:
            mine = set(self._topology(candidate).items())
            if mine and all(mine <= set(self._topology(m).items()) for m in members):
                return candidate
        return min(members, key=lambda a: a.starts_at)

    def on_alerts(self, alerts: Sequence[Alert], now: float) -> None:
        for alert in alerts:
            fp = alert.fingerprint
            incident = self._of.get(fp)
            if alert.ends_at is not None and alert.ends_at <= now:
                if incident is not None:
                    incident.members[fp] = alert
                    if all(m.ends_at is not None and m.ends_at <= now for m in incident.members.values()):
                        incident.resolved_at = now
                continue
            if incident is not None and incident.resolved_at is None:
                incident.members[fp] = alert
                continue
            topo = set(self._topology(alert).items())
            target = None
            for candidate in reversed(self.incidents):
                if candidate.resolved_at is not None or (alert.starts_at or now) - candidate.started > self.window_s:
                    continue
                if any(topo & set(self._topology(m).items()) for m in candidate.members.values()):
                    target = candidate
                    break
            if target is None:
                target = Incident(next(self._ids), alert.starts_at or now)
                self.incidents.append(target)
                self._forget(self.incidents[:-MAX_INCIDENTS])
                del self.incidents[:-MAX_INCIDENTS]
            target.members[fp] = alert
            self._of[fp] = target

    def _forget(self, gone: list[Incident]) -> None:
        """Incidents leaving the kept history: their alerts are no longer linked to them."""
        for incident in gone:
            for fp in incident.members:
                if self._of.get(fp) is incident:
                    del self._of[fp]

    def before_send(self, notification: Notification) -> Notification | None:
        incident = next((self._of[a.fingerprint] for a in notification.alerts if a.fingerprint in self._of), None)
        if incident is not None:
            root = self.root_cause(incident)
            notification.extras = {**notification.extras, "incident": {
                "id": incident.id, "root_cause": root.labels, "members": len(incident.members)}}
        return notification

    async def after_send(self, notification: Notification, results: list[DeliveryResult]) -> None:
        return None

    def data(self, now: float) -> list[dict[str, Any]]:
        out = []
        for incident in reversed(self.incidents):
            root = self.root_cause(incident)
            out.append({"id": incident.id, "status": incident.status(now), "started": incident.started,
                        "rootCause": root.labels,
                        "alerts": [{"labels": a.labels, "startsAt": a.starts_at,
                                    "state": "resolved" if a.ends_at is not None and a.ends_at <= now else "firing"}
                                   for a in incident.members.values()]})
        return out
