"""One rule group's evaluation: its rules in order at one timestamp, results written and alerts handed on.

:meth:`GroupState.evaluate` runs each rule's parsed expression through the ``query`` function (the
``QueryFunc`` of :mod:`tsdb.storage.interfaces`) at ``t - query_offset``, writes recording-rule outputs
and the ``ALERTS`` / ``ALERTS_FOR_STATE`` series through the appender (stale markers for series that
disappeared), and returns the alerts to send. A failing rule marks only itself unhealthy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tsdb.labels import Labels
from tsdb.rules.alerting import AlertingRuleState
from tsdb.rules.loader import Rule, RuleGroup
from tsdb.storage.interfaces import STALE_NAN, Appendable

QueryFunc = Callable[[Any, int], Any]
"""Evaluates a parsed PromQL expression at a time (ms); returns the engine's value."""

RESEND_DELAY_MS = 60_000


def vector_of(value: Any) -> list[tuple[Labels, float]]:
    """``(labels, value)`` pairs of an instant query result (a scalar becomes one series without labels)."""
    if hasattr(value, "present") and hasattr(value, "labels"):
        rows = np.flatnonzero(value.present[:, 0]).tolist() if value.present.size else []
        return [(value.labels[i], float(value.values[i, 0])) for i in rows]
    if hasattr(value, "values"):
        return [(Labels(), float(value.values[0]))]
    return []


@dataclass
class RecordingRuleState:
    """The live state of one recording rule: which series it wrote last time (for stale markers)."""

    rule: Rule
    group_labels: dict[str, str] = field(default_factory=dict)
    last_series: set[Labels] = field(default_factory=set)
    health: str = "unknown"
    last_error: str = ""
    last_evaluation: int = 0
    evaluation_seconds: float = 0.0


RuleState = RecordingRuleState | AlertingRuleState


@dataclass
class GroupState:
    """A group and the states of its rules."""

    group: RuleGroup
    interval_ms: int
    rules: list[RuleState]
    last_evaluation: int = 0
    evaluation_seconds: float = 0.0
    missed_iterations: int = 0
    alerts_series: set[Labels] = field(default_factory=set)

    @classmethod
    def build(cls, group: RuleGroup, default_interval_ms: int, previous: dict[tuple[str, ...], RuleState]
              ) -> GroupState:
        """States for ``group``; rules whose definition is unchanged keep their ``previous`` state."""
        states: list[RuleState] = []
        for rule in group.rules:
            old = previous.get((group.file, group.name, *rule.key()))
            if old is not None:
                old.group_labels = group.labels
                states.append(old)
            elif rule.kind == "recording":
                states.append(RecordingRuleState(rule, group.labels))
            else:
                states.append(AlertingRuleState(rule, group.labels))
        return cls(group, group.interval_ms or default_interval_ms, states)

    def evaluate(self, t: int, query: QueryFunc, appendable: Appendable, external: dict[str, str],
                 url: str) -> list[AlertingRuleState]:
        """Evaluate every rule at ``t`` (ms); returns the alerting rule states (for notifying)."""
        started = time.perf_counter()
        at = t - self.group.query_offset_ms
        app = appendable.appender()
        stamp = np.array([t], dtype=np.int64)
        current_alert_series: set[Labels] = set()
        for state in self.rules:
            rule_started = time.perf_counter()
            try:
                if isinstance(state, RecordingRuleState):
                    self._record(state, at, t, query, app, stamp)
                else:
                    self._alert(state, at, t, query, external, url)
                    for alert in state.active():
                        base = {**alert.labels.to_dict()}
                        firing = Labels({**base, "__name__": "ALERTS", "alertstate": alert.state})
                        for_state = Labels({**base, "__name__": "ALERTS_FOR_STATE"})
                        app.append(firing, stamp, np.array([1.0]))
                        app.append(for_state, stamp, np.array([alert.active_at / 1000.0]))
                        current_alert_series.update((firing, for_state))
            except Exception as err:  # one broken rule must not stop the group
                state.health, state.last_error = "err", str(err)
            state.last_evaluation = t
            state.evaluation_seconds = time.perf_counter() - rule_started
        for gone in self.alerts_series - current_alert_series:
            app.append(gone, stamp, np.array([STALE_NAN]))
        self.alerts_series = current_alert_series
        app.commit()
        self.last_evaluation = t
        self.evaluation_seconds = time.perf_counter() - started
        return [s for s in self.rules if isinstance(s, AlertingRuleState)]

    def _record(self, state: RecordingRuleState, at: int, t: int, query: QueryFunc, app: Any,
                stamp: np.ndarray) -> None:
        rule = state.rule
        out: dict[Labels, float] = {}
        for series, value in vector_of(query(rule.expr, at)):
            merged = {k: v for k, v in series.items() if k != "__name__"}
            merged.update(self.group.labels)
            merged.update(rule.labels)
            merged["__name__"] = rule.name
            labels = Labels({k: v for k, v in merged.items() if v != ""})
            if labels in out:
                raise ValueError(f"vector contains metrics with the same labelset after applying rule labels: "
                                 f"{labels}")
            out[labels] = value
        limit = self.group.limit
        if limit and len(out) > limit:
            raise ValueError(f"exceeded limit of {limit} with {len(out)} series")
        for labels, value in out.items():
            app.append(labels, stamp, np.array([value]))
        for gone in state.last_series - out.keys():
            app.append(gone, stamp, np.array([STALE_NAN]))
        state.last_series = set(out)
        state.health, state.last_error = "ok", ""

    def _alert(self, state: AlertingRuleState, at: int, t: int, query: QueryFunc, external: dict[str, str],
               url: str) -> None:
        rule = state.rule
        result = vector_of(query(rule.expr, at))
        recovered = None
        if rule.recovery_expr is not None:
            recovered = {state.alert_labels(s, v, external, url) for s, v in vector_of(query(rule.recovery_expr, at))}
        no_data = False
        if not result and rule.no_data:
            no_data = not _selectors_have_data(rule.expr, at, query)
        state.evaluate(t, result, external, url, recovered, no_data, _template_query(query))
        limit = self.group.limit
        if limit and len(state.active()) > limit:
            state.alerts.clear()
            state.health, state.last_error = "err", f"exceeded limit of {limit} with {len(result)} alerts"


def _template_query(query: QueryFunc) -> Callable[[str, int], list[tuple[Labels, float]]]:
    """The templates' ``query`` function: PromQL text run through the rules' query function."""
    from tsdb.query.parser.parser import parse

    def run(text: str, at: int) -> list[tuple[Labels, float]]:
        return vector_of(query(parse(text), at))

    return run


def _selectors_have_data(expr: Any, at: int, query: QueryFunc) -> bool:
    """Whether any vector selector of ``expr`` returns a series at ``at`` (for the no-data policy)."""
    from tsdb.query.parser.ast import walk
    from tsdb.query.parser.parser import parse

    for node in walk(expr):
        if type(node).__name__ == "VectorSelector" and vector_of(query(parse(f"count({node})"), at)):
            return True
    return False
