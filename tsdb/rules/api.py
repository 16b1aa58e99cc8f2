"""The ``data`` of ``/api/v1/rules`` and ``/api/v1/alerts`` in Prometheus's shapes."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from tsdb.errors import InvalidArgumentError
from tsdb.rules.alerting import Alert, AlertingRuleState
from tsdb.rules.group import RecordingRuleState
from tsdb.rules.manager import RuleManager
from tsdb.timefmt import ZERO_TIME, format_rfc3339


@functools.lru_cache(maxsize=4096)  # alerts that became active together share it
def _rfc3339(ms: int) -> str:
    return format_rfc3339(ms / 1000, "ms+") if ms else ZERO_TIME


@functools.lru_cache(maxsize=4096)
def _value(v: float) -> str:
    """Go's ``FormatFloat(v, 'e', -1, 64)``, as Prometheus renders an alert's value."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return str(np.format_float_scientific(v, unique=True, trim="-", exp_digits=2))


def alert_json(alert: Alert) -> dict[str, Any]:
    out: dict[str, Any] = {"labels": alert.labels.to_dict(), "annotations": alert.annotations,
                           "state": alert.state, "activeAt": _rfc3339(alert.active_at),
                           "value": _value(alert.value)}
    if alert.keep_firing_since:
        out["keepFiringSince"] = _rfc3339(alert.keep_firing_since)
    return out


def _parse_bool(raw: Any, name: str) -> bool:
    """Go's ``strconv.ParseBool`` as Prometheus applies it to a parameter (absent or empty: false)."""
    if raw is None or raw == "":
        return False
    text = str(raw)
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if text in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise InvalidArgumentError(f"parsing {name}: invalid boolean {text!r}")


def rules_data(manager: RuleManager, form: dict[str, Any]) -> dict[str, Any]:
    """``{"groups": [...]}``; ``type=alert|record`` filters like Prometheus; ``exclude_alerts=true`` leaves
    out the alerting rules' active alerts (``"alerts": null``, as Prometheus does), for views that list rules
    only. In a cluster spreading rule groups each group also names the member evaluating it (``evaluatedBy``);
    a group evaluated elsewhere shows no evaluation here."""
    kind = str(form.get("type") or "")
    exclude_alerts = _parse_bool(form.get("exclude_alerts"), "exclude_alerts")
    groups = []
    for group, states in manager.rule_states():
        rules = []
        for state in states:
            if isinstance(state, AlertingRuleState):
                if kind == "record":
                    continue
                rule = state.rule
                rules.append({
                    "state": state.state, "name": rule.name, "query": rule.expr_text,
                    "duration": rule.for_ms / 1000, "keepFiringFor": rule.keep_firing_for_ms / 1000,
                    "labels": rule.labels, "annotations": rule.annotations,
                    "alerts": None if exclude_alerts else [alert_json(a) for a in state.active()],
                    "health": state.health,
                    **({"lastError": state.last_error} if state.last_error else {}),
                    "evaluationTime": state.evaluation_seconds, "lastEvaluation": _rfc3339(state.last_evaluation),
                    "type": "alerting"})
            elif isinstance(state, RecordingRuleState):
                if kind == "alert":
                    continue
                rules.append({
                    "name": state.rule.name, "query": state.rule.expr_text, "labels": state.rule.labels,
                    "health": state.health, **({"lastError": state.last_error} if state.last_error else {}),
                    "evaluationTime": state.evaluation_seconds, "lastEvaluation": _rfc3339(state.last_evaluation),
                    "type": "recording"})
        entry = {"name": group.group.name, "file": group.group.file, "rules": rules,
                 "interval": group.interval_ms / 1000, "limit": group.group.limit,
                 "evaluationTime": group.evaluation_seconds, "lastEvaluation": _rfc3339(group.last_evaluation)}
        if manager.placement is not None:  # extension: the cluster member evaluating it ("" while unknown)
            entry["evaluatedBy"] = manager.evaluator(group)
        groups.append(entry)
    return {"groups": groups}


def alerts_data(manager: RuleManager) -> dict[str, Any]:
    """``{"alerts": [...]}``: every pending and firing alert."""
    return {"alerts": [alert_json(a) for _, a in manager.active_alerts()]}
