"""Alerting rules: the inactive -> pending -> firing state machine of Prometheus, per label set.

One :class:`AlertingRuleState` per rule keeps its active alerts by label set. :meth:`evaluate` takes the
rule expression's result at time ``t`` and moves alerts: new -> pending (or firing at once when ``for`` is
0), pending long enough -> firing, gone -> resolved (after ``keep_firing_for``), pending and gone ->
dropped. Resolved alerts are kept 15 minutes so notifiers re-send them. Extensions (docs/rules.md):
``recovery_expr`` (a firing alert resolves only once the recovery expression also returns it) and
``no_data`` (what an empty result means when the expression's selectors have no data at all).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tsdb.labels import Labels
from tsdb.rules.loader import Rule
from tsdb.rules.templates import QueryVector, TemplateData, expand

RESOLVED_RETENTION_MS = 15 * 60_000
"""Resolved alerts are kept (and re-sent) this long, as Prometheus does."""


@dataclass
class Alert:
    """One alert instance of a rule."""

    labels: Labels
    annotations: dict[str, str]
    value: float
    active_at: int
    state: str = "pending"  # pending | firing | inactive (resolved)
    fired_at: int = 0
    resolved_at: int = 0
    keep_firing_since: int = 0
    last_sent_at: int = 0
    valid_until: int = 0

    def to_state(self) -> dict[str, Any]:
        return {"labels": dict(self.labels.items()), "annotations": self.annotations, "value": self.value,
                "active_at": self.active_at, "state": self.state, "fired_at": self.fired_at,
                "resolved_at": self.resolved_at, "keep_firing_since": self.keep_firing_since,
                "last_sent_at": self.last_sent_at}

    @classmethod
    def from_state(cls, raw: dict[str, Any]) -> Alert:
        return cls(Labels(raw["labels"]), dict(raw.get("annotations") or {}), float(raw.get("value", 0.0)),
                   int(raw["active_at"]), str(raw.get("state", "pending")), int(raw.get("fired_at", 0)),
                   int(raw.get("resolved_at", 0)), int(raw.get("keep_firing_since", 0)),
                   int(raw.get("last_sent_at", 0)))


@dataclass
class AlertingRuleState:
    """The live state of one alerting rule."""

    rule: Rule
    group_labels: dict[str, str] = field(default_factory=dict)
    alerts: dict[Labels, Alert] = field(default_factory=dict)
    health: str = "unknown"
    last_error: str = ""
    last_evaluation: int = 0
    evaluation_seconds: float = 0.0

    def alert_labels(self, series: Labels, value: float, external: dict[str, str], url: str,
                     query: QueryVector | None = None, t: int = 0) -> Labels:
        """The alert's label set: the series' labels without ``__name__``, plus templated rule labels."""
        data = TemplateData(series.to_dict(), value, external, url, query, t)
        merged = {k: v for k, v in series.items() if k != "__name__"}
        for source in (self.group_labels, self.rule.labels):
            for name, template in source.items():
                merged[name] = expand(template, data, self.rule.name)
        merged["alertname"] = self.rule.name
        return Labels({k: v for k, v in merged.items() if v != ""})

    def evaluate(self, t: int, result: list[tuple[Labels, float]], external: dict[str, str], url: str,
                 recovered: set[Labels] | None = None, no_data: bool = False,
                 query: QueryVector | None = None) -> None:
        """Advance the state machine to ``t`` given the expression's result ``(labels, value)``.

        ``recovered``: alert label sets the recovery expression returned (None: no recovery expression).
        ``no_data``: the result is empty because the selectors have no data (for the no-data policy).
        ``query``: what the templates' ``query`` function runs (at ``t``).
        Templates see the series' labels (``__name__`` included, rule labels not), as Prometheus's do.
        """
        rule = self.rule
        if no_data and rule.no_data == "keep_last":
            result = [(a.labels, a.value) for a in self.alerts.values() if a.state != "inactive"]
        elif no_data and rule.no_data == "alerting" and not result:
            result = [(Labels({"nodata": "true"}), float("nan"))]
        seen: set[Labels] = set()
        for series, value in result:
            labels = self.alert_labels(series, value, external, url, query, t)
            if labels in seen:
                self.health, self.last_error = "err", "vector contains metrics with the same labelset after " \
                                                      "applying alert labels"
                return
            seen.add(labels)
            data = TemplateData(series.to_dict(), value, external, url, query, t)
            annotations = {k: expand(v, data, rule.name) for k, v in rule.annotations.items()}
            alert = self.alerts.get(labels)
            if alert is None or alert.state == "inactive":
                alert = Alert(labels, annotations, value, active_at=t)
                self.alerts[labels] = alert
            alert.value = value
            alert.annotations = annotations
            alert.keep_firing_since = 0
            if alert.state == "pending" and t - alert.active_at >= rule.for_ms:
                alert.state = "firing"
                alert.fired_at = t
        for labels, alert in list(self.alerts.items()):
            if labels in seen:
                continue
            if alert.state == "pending":
                del self.alerts[labels]
            elif alert.state == "firing":
                if recovered is not None and labels not in recovered:
                    continue  # hysteresis: stays firing until the recovery expression holds
                if rule.keep_firing_for_ms:
                    if not alert.keep_firing_since:
                        alert.keep_firing_since = t
                    if t - alert.keep_firing_since < rule.keep_firing_for_ms:
                        continue
                alert.state = "inactive"
                alert.resolved_at = t
            elif alert.state == "inactive" and t - alert.resolved_at > RESOLVED_RETENTION_MS:
                del self.alerts[labels]
        self.health, self.last_error = "ok", ""

    @property
    def state(self) -> str:
        """The rule's state: firing if any alert fires, else pending if any is pending, else inactive."""
        states = {a.state for a in self.alerts.values()}
        return "firing" if "firing" in states else "pending" if "pending" in states else "inactive"

    def active(self) -> list[Alert]:
        return [a for a in self.alerts.values() if a.state != "inactive"]
