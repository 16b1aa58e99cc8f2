"""The JSON form of an aggregation group for the acknowledgement page and the escalations list."""

from __future__ import annotations

from typing import Any

from tsdb.alerting.dispatcher import Dispatcher
from tsdb.alerting.escalation import EscalationHook, encode_key
from tsdb.timefmt import format_rfc3339


def _time(seconds: float | None) -> str | None:
    return None if seconds is None else format_rfc3339(seconds, "ms")


def group_json(dispatcher: Dispatcher, hook: EscalationHook, group_key: str) -> dict[str, Any] | None:
    """``{groupKey, token, receiver, labels, alerts, escalation, ack, history, pendingPages}`` of an active
    group (None when the dispatcher has no such group). ``escalation.step`` counts from 1 (the next step to
    run); ``pendingPages`` are failed pages awaiting a retry (step from 1, target, attempts so far, nextAt)."""
    group = dispatcher.groups.get(group_key)
    if group is None:
        return None
    now = dispatcher.clock()
    alerts = []
    for fp, alert in sorted(list(group.alerts.items()), key=lambda item: sorted(item[1].labels.items())):
        silenced, inhibited = dispatcher.silences.mutes(alert.labels), dispatcher.inhibited(alert, now)
        state = "resolved" if dispatcher.is_resolved(alert, now) else (
            "suppressed" if silenced or inhibited else "firing")
        alerts.append({"fingerprint": fp, "labels": alert.labels, "annotations": alert.annotations,
                       "startsAt": _time(alert.starts_at), "state": state, "silencedBy": silenced})
    receiver, labels = group.route.receiver, dict(group.labels)
    esc = hook.escalations.get(group_key)
    escalation = None
    if esc is not None:
        policy = hook.policies.get(esc.policy)
        escalation = {"policy": esc.policy, "step": esc.step + 1, "steps": len(policy.steps) if policy else 0,
                      "nextAt": _time(esc.next_at), "repeats": esc.repeats}
    ack = hook.acks.get(group_key)
    pending = [{"step": p.step + 1, "target": p.target, "attempts": p.attempts, "nextAt": _time(p.next_at),
                "integrations": None if p.integrations is None else list(p.integrations)}
               for p in sorted(hook.retries.values(), key=lambda p: p.next_at) if p.group_key == group_key]
    return {"groupKey": group_key, "token": encode_key(group_key), "receiver": receiver, "labels": labels,
            "alerts": alerts, "escalation": escalation,
            "ack": None if ack is None else {"by": ack["by"], "comment": ack["comment"], "at": _time(ack["at"])},
            "history": [{"at": _time(e["at"]), "event": e["event"]} for e in hook.history.get(group_key, [])],
            "pendingPages": pending}
