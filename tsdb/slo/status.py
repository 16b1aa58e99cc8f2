"""Error-budget status of the configured SLOs, computed with the PromQL engine from the specs' SLI queries.

Every number comes from the SLI queries of the spec (not from the ``slo:*`` recordings), so it is right as
soon as the raw series have history, before the recordings have any. The error ratio of a window is the
spec's SLI expression for that window (``(error)/(total)`` or the raw ratio query), reduced with ``max`` when
it gives several series (the worst one, as the alerts do). Over the SLO period this is the events-weighted
ratio, where Sloth's ``slo:sli_error:ratio_rate30d`` averages the 5m ratios; the two agree for steady
traffic.

- error budget: ``(100 - objective) / 100`` of the events (and, as time, of the period: 99.9 % of 30d is
  43.2 min), the ratio the alert thresholds use;
- burn rate of a window: its error ratio divided by the error budget (1 spends exactly the budget in a
  period); the current burn rate is the shortest window's (5m);
- budget consumed: the period's burn rate; remaining: 1 minus that (negative when overspent);
- time to exhaustion: remaining budget over the current burn rate (``remaining * period / burn``), 0 when
  the budget is spent, None when nothing burns; errors leaving the rolling window are not forecast.

An SLO with a calendar (OpenSLO ``isRolling: false``) budgets the current calendar period instead: the
period's error ratio is taken from its start to now, and the budget consumed is that ratio times the time
elapsed over the budget as time (``ratio * elapsed / (budget * period length)``); its burn-rate windows
are the rolling ones of its alerts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tsdb.query.value import ScalarValue, Value, VectorValue
from tsdb.rules.alerting import AlertingRuleState
from tsdb.rules.manager import RuleManager
from tsdb.slo.config import SLOsConfig, load_slo_specs
from tsdb.slo.sloth import generate_all
from tsdb.slo.spec import SLO, render_window
from tsdb.slo.windows import DEFAULT_WINDOWS, MINUTE, AlertWindows, Window, prom_duration
from tsdb.timefmt import format_rfc3339

QueryFunc = Callable[[str, int], Value]
ALERT_STATES = ("firing", "pending", "inactive")


@dataclass(frozen=True)
class ConfiguredSLO:
    """One SLO of the ``slos:`` specs with what the server adds: its period, labels and spec file."""

    slo: SLO
    period_s: int
    labels: dict[str, str] = field(default_factory=dict)
    source: str = ""

    @property
    def windows(self) -> AlertWindows:
        return DEFAULT_WINDOWS[self.period_s]

    @property
    def budget(self) -> float:
        """The error budget ratio, as the alert thresholds write it: ``(100 - objective) / 100``."""
        return (100 - self.slo.objective) / 100


def load_slos(config: SLOsConfig) -> list[ConfiguredSLO]:
    """The SLOs of the configured spec files, in file order (raises ConfigError/SpecError naming the file)."""
    specs = load_slo_specs(config)
    generate_all(specs)  # refuses an SLO id defined twice, as the rules component does
    return [ConfiguredSLO(slo, slo.period_s or config.period_s, {**slo.labels, **config.extra_labels},
                          spec.source)
            for spec in specs for slo in spec.slos]


def error_ratio_query(slo: SLO, window_s: int) -> str:
    """The SLI error ratio over a window, as one series: ``max`` of the spec's SLI expression."""
    window = prom_duration(window_s)
    if slo.error_ratio_query:
        return "max(" + render_window(f"({slo.error_ratio_query})", window) + ")"
    return "max(" + render_window(f"({slo.error_query}) / ({slo.total_query})", window) + ")"


def _num(value: float) -> str:
    return repr(float(value))


def queries(item: ConfiguredSLO) -> dict[str, Any]:
    """The PromQL expressions behind the status, for range queries (charts): the period's availability
    and remaining budget, and each window's burn rate by its Prometheus duration."""
    slo, windows, budget = item.slo, item.windows, _num(item.budget)
    period = error_ratio_query(slo, windows.period_s)
    return {
        "availability": f"1 - {period}",
        "budget_remaining": f"1 - {period} / {budget}",
        "burn_rate": {prom_duration(w): f"{error_ratio_query(slo, w)} / {budget}"
                      for w in (*windows.durations(), windows.period_s)},
    }


def _scalar(value: Value) -> float | None:
    """The query's one number (the largest of a vector), None for no data or NaN."""
    if isinstance(value, ScalarValue):
        found = [float(value.values[0])]
    elif isinstance(value, VectorValue):
        found = [float(value.values[i, 0]) for i in range(value.num_series) if value.present[i, 0]]
    else:
        raise TypeError(f"expected a number or an instant vector, got {type(value).__name__}")
    found = [v for v in found if not math.isnan(v)]
    return max(found) if found else None


def _ratio(a: float | None, b: float) -> float | None:
    return None if a is None else a / b


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None or not math.isfinite(seconds) else round(seconds, 3)


def _alerts(item: ConfiguredSLO, manager: RuleManager | None) -> list[dict[str, Any]]:
    """The SLO's page and ticket alerts, then its single-window burn-rate alerts (OpenSLO alert policies), with
    their rule state and active alerts (from the rule manager)."""
    rules: dict[str, AlertingRuleState] = {}
    plain: dict[str, AlertingRuleState] = {}
    if manager is not None:
        for group, states in manager.rule_states():
            if group.group.name != f"sloth-slo-alerts-{item.slo.id}":
                continue
            for state in states:
                if not isinstance(state, AlertingRuleState):
                    continue
                severity = state.rule.labels.get("sloth_severity", "")
                if severity:
                    rules[severity] = state
                else:
                    plain.setdefault(state.rule.name, state)
    found = [(severity, meta.name, rules.get(severity))
             for severity, meta in (("page", item.slo.page), ("ticket", item.slo.ticket)) if not meta.disable]
    found += [(alert.severity, alert.name, plain.get(alert.name)) for alert in item.slo.burn_alerts]
    out = []
    for severity, name, rule in found:
        active = [] if rule is None else [
            {"labels": a.labels.to_dict(), "state": a.state, "value": a.value if math.isfinite(a.value) else None,
             "activeAt": format_rfc3339(a.active_at / 1000, "ms+") if a.active_at else None}
            for a in rule.active()]
        out.append({"severity": severity, "name": name, "state": "unknown" if rule is None else rule.state,
                    "alerts": active})
    return out


def _alert_state(alerts: list[dict[str, Any]]) -> str:
    """The worst state of the SLO's alerts: firing, pending, inactive; ``none`` without alerts."""
    states = {a["state"] for a in alerts}
    for state in ("firing", "pending", "inactive", "unknown"):
        if state in states:
            return state
    return "none"


def _window_json(item: ConfiguredSLO, severity: str, window: Window, burn: dict[int, float | None]
                 ) -> dict[str, Any]:
    factor = item.windows.burn_factor(window)
    short, long = burn[window.short_s], burn[window.long_s]
    return {"alert": severity, "budget_percent": window.error_budget_percent,
            "short_window": prom_duration(window.short_s), "long_window": prom_duration(window.long_s),
            "factor": factor, "short": short, "long": long,
            "over": short is not None and long is not None and short > factor and long > factor}


def status(item: ConfiguredSLO, query: QueryFunc, t_ms: int, manager: RuleManager | None = None,
           detail: bool = False) -> dict[str, Any]:
    """The SLO's status at ``t_ms`` as JSON-ready data (NaN and missing data as None); query errors
    are reported in ``error`` with the numbers None. ``detail`` adds the ``queries`` for charts."""
    slo, windows, budget = item.slo, item.windows, item.budget
    t_s = t_ms / 1000
    length_s: float = windows.period_s  # the budget's period
    period_w = windows.period_s  # the window of the period's error ratio
    out: dict[str, Any] = {
        "id": slo.id, "service": slo.service, "name": slo.name, "description": slo.description,
        "labels": dict(item.labels), "source": item.source,
        "objective": {"percent": slo.objective, "ratio": slo.objective / 100},
        "period": {"duration": prom_duration(windows.period_s), "seconds": windows.period_s},
    }
    if slo.calendar is not None:
        start_s, end_s = slo.calendar.bounds(t_s)
        length_s, period_w = end_s - start_s, max(MINUTE, int(t_s - start_s))
        out["period"]["calendar"] = {
            "duration": slo.calendar.duration, "time_zone": slo.calendar.time_zone,
            "start": format_rfc3339(start_s), "end": format_rfc3339(end_s), "seconds": length_s,
            "elapsed_seconds": period_w}
    budget_s = budget * length_s
    error: str | None = None
    ratios: dict[int, float | None] = {}
    try:
        for w in windows.durations():
            ratios[w] = _scalar(query(error_ratio_query(slo, w), t_ms))
        period_ratio = _scalar(query(error_ratio_query(slo, period_w), t_ms))
    except Exception as err:  # one SLO's bad query must not hide the others
        error = str(err)
        ratios, period_ratio = dict.fromkeys(windows.durations()), None
    burn = {w: _ratio(r, budget) for w, r in ratios.items()}
    # the share of the period's budget spent: the bad time so far (ratio x window) over the budget as time
    consumed = _ratio(period_ratio, budget)
    if consumed is not None and slo.calendar is not None:
        consumed *= period_w / length_s
    remaining = None if consumed is None else 1 - consumed
    current = burn[windows.page_quick.short_s]
    if remaining is None or current is None or current <= 0:
        exhaustion = None
    else:
        exhaustion = 0.0 if remaining <= 0 else remaining * length_s / current
    alerts = _alerts(item, manager)
    out.update({
        "sli": {"window": prom_duration(windows.page_quick.short_s),
                "error_ratio": ratios[windows.page_quick.short_s]},
        "availability": None if period_ratio is None else 1 - period_ratio,
        "error_budget": {
            "ratio": budget, "seconds": _ms(budget_s),
            "consumed_ratio": consumed, "consumed_seconds": _ms(None if consumed is None else consumed * budget_s),
            "remaining_ratio": remaining,
            "remaining_seconds": _ms(None if remaining is None else remaining * budget_s)},
        "burn_rate": {"current": current, "period": consumed},
        "time_to_exhaustion_seconds": _ms(exhaustion),
        "windows": [_window_json(item, "page", windows.page_quick, burn),
                    _window_json(item, "page", windows.page_slow, burn),
                    _window_json(item, "ticket", windows.ticket_quick, burn),
                    _window_json(item, "ticket", windows.ticket_slow, burn)],
        "alerts": alerts, "alert_state": _alert_state(alerts),
        "time": t_ms / 1000, "error": error,
    })
    if detail:
        out["queries"] = queries(item)
    return out


def parse_label_filters(values: Iterable[str]) -> dict[str, str]:
    """``name=value`` label filters (``?label=`` parameters); ValueError naming a malformed one."""
    out: dict[str, str] = {}
    for text in values:
        name, sep, value = text.partition("=")
        if not sep or not name:
            raise ValueError(f'invalid parameter "label": {text!r} is not of the form name=value')
        out[name] = value
    return out


def matches(item: ConfiguredSLO, search: str, labels: dict[str, str]) -> bool:
    """Whether the SLO has every filter label and every word of ``search`` appears (case-insensitively)
    in its id, service, name, description or label values."""
    if any(item.labels.get(name) != value for name, value in labels.items()):
        return False
    slo = item.slo
    text = " ".join([slo.id, slo.service, slo.name, slo.description, *item.labels.values()]).lower()
    return all(word in text for word in search.lower().split())


def by_remaining_budget(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Statuses with the least remaining budget first; those without data last; ties by id."""
    def key(item: dict[str, Any]) -> tuple[bool, float, str]:
        remaining = item["error_budget"]["remaining_ratio"]
        return remaining is None, remaining if remaining is not None else 0.0, item["id"]

    return sorted(items, key=key)
