"""On-call rotations (DST, layers, overrides) and escalation: steps with a schedule hand-off, repeat,
acknowledgement, re-open on a new alert, resolve, and a restart in the middle."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tsdb.alerting.escalation import (
    EscalationHook,
    EscalationStore,
    decode_key,
    encode_key,
    parse_policies,
    user_receivers,
)
from tsdb.alerting.model import Alert, DeliveryResult, Notification
from tsdb.alerting.oncall import parse_oncall
from tsdb.errors import ConfigError

BERLIN = ZoneInfo("Europe/Berlin")
ONCALL = {
    "users": {"alice": {"email": "alice@example.com", "phone": "+1"}, "bob": {"email": "bob@example.com"},
              "carol": {"slack_url": "http://127.0.0.1:9/carol"}},
    "schedules": {"primary": {
        "layers": [{"users": ["alice", "bob"], "shift": "1w", "start": "2026-03-23", "handoff": "09:00",
                    "time_zone": "Europe/Berlin"},
                   {"users": ["carol"], "shift": "1d", "start": "2026-01-01", "weekdays": ["saturday", "sunday"],
                    "handoff": "00:00", "time_zone": "Europe/Berlin"}],
        "overrides": [{"user": "bob", "start": "2026-04-01T12:00:00+02:00", "end": "2026-04-01T14:00:00+02:00"}]}},
}


def _at(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=BERLIN).timestamp()


def test_rotation_across_dst_layers_and_overrides() -> None:
    oncall = parse_oncall(ONCALL)
    who = lambda t: oncall.who_is_on_call("primary", _at(t))[0].name  # noqa: E731
    assert who("2026-03-23T09:00") == "alice"
    assert who("2026-03-30T08:59") == "alice"  # the week after the DST change (29 March) ...
    assert who("2026-03-30T09:00") == "bob"  # ... still hands off at 09:00 local time
    assert who("2026-03-28T12:00") == "carol"  # weekend layer on top
    assert who("2026-04-01T13:00") == "bob" and oncall.who_is_on_call("primary", _at("2026-04-01T13:00"))[1] == \
        "override"
    assert who("2026-04-06T10:00") == "alice"
    assert oncall.who_is_on_call("primary", _at("2026-03-02T10:00"))[0] is None  # a weekday before the rotation started
    with pytest.raises(KeyError):
        oncall.who_is_on_call("nope", 0)
    with pytest.raises(ConfigError, match="unknown user 'zed'"):
        parse_oncall({"users": {}, "schedules": {"s": {"layers": [{"users": ["zed"]}]}}})


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Deliveries:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    async def __call__(self, notification: Notification) -> list[DeliveryResult]:
        self.sent.append(notification)
        return [DeliveryResult(notification.receiver, "test", True, 1)]


POLICIES = {"policies": {"critical": {"steps": [{"wait": "5m", "notify": "team-lead"},
                                                {"wait": "10m", "notify_oncall": "primary"}], "repeat": 1}},
            "routes": {"pager": "critical"}}


def _hook(tmp_path: Path, clock: Clock, deliveries: Deliveries) -> EscalationHook:
    policies, bindings = parse_policies(POLICIES)
    return EscalationHook(policies, bindings, parse_oncall(ONCALL), deliveries,
                          EscalationStore(tmp_path / "escalation.sqlite"), clock, "http://tsdb")


def _notification(clock: Clock, status: str = "firing", extra: bool = False) -> Notification:
    alerts = [Alert({"alertname": "DBDown", "instance": "db1"}, {}, clock.now - 60, None, "", clock.now)]
    if extra:
        alerts.append(Alert({"alertname": "DBDown", "instance": "db2"}, {}, clock.now, None, "", clock.now))
    if status == "resolved":
        for a in alerts:
            a.ends_at = clock.now
    return Notification("pager", "{}:{alertname=\"DBDown\"}", {"alertname": "DBDown"}, alerts, status,  # type: ignore[arg-type]
                        clock.now)


def _run(hook: EscalationHook) -> int:
    return asyncio.run(hook.tick())


def test_escalation_steps_handoff_repeat_and_restart(tmp_path: Path) -> None:
    clock, deliveries = Clock(_at("2026-03-30T08:50")), Deliveries()
    hook = _hook(tmp_path, clock, deliveries)
    n = hook.before_send(_notification(clock))
    assert n is not None and n.extras["ack_url"].startswith("http://tsdb/ui/ack/")
    asyncio.run(hook.after_send(n, []))
    assert _run(hook) == 0
    clock.now += 300  # step 1: the team lead
    assert _run(hook) == 1 and [d.receiver for d in deliveries.sent] == ["team-lead"]
    assert deliveries.sent[0].extras["escalation_step"] == 1
    # restart in the middle: a new hook over the same store continues at step 2, no duplicate of step 1
    hook = _hook(tmp_path, clock, deliveries)
    clock.now += 600  # 09:05: the hand-off at 09:00 made bob the on-call person
    assert _run(hook) == 1 and deliveries.sent[-1].receiver == "user:bob"
    clock.now += 300  # repeat: step 1 again
    assert _run(hook) == 1 and deliveries.sent[-1].receiver == "team-lead"
    clock.now += 600
    assert _run(hook) == 1 and deliveries.sent[-1].receiver == "user:bob"
    clock.now += 3600
    assert _run(hook) == 0 and not hook.escalations  # policy done (1 repeat)


def test_ack_stops_escalation_and_repeats_until_something_changes(tmp_path: Path) -> None:
    clock, deliveries = Clock(_at("2026-03-30T10:00")), Deliveries()
    hook = _hook(tmp_path, clock, deliveries)
    first = hook.before_send(_notification(clock))
    assert first is not None
    asyncio.run(hook.after_send(first, []))
    fp = first.alerts[0].fingerprint
    hook.ack(first.group_key, "alice", "looking", [fp])
    clock.now += 3600
    assert _run(hook) == 0 and deliveries.sent == []  # no escalation
    assert hook.before_send(_notification(clock)) is None  # a repeat of the acked group is suppressed
    reopened = hook.before_send(_notification(clock, extra=True))  # a new alert in the group
    assert reopened is not None and first.group_key not in hook.acks
    asyncio.run(hook.after_send(reopened, []))
    assert first.group_key in hook.escalations
    resolved = hook.before_send(_notification(clock, status="resolved"))
    assert resolved is not None
    asyncio.run(hook.after_send(resolved, []))
    assert not hook.escalations  # resolved: escalation over
    assert decode_key(encode_key(first.group_key)) == first.group_key


def test_policy_errors_and_user_receivers() -> None:
    with pytest.raises(ConfigError, match="unknown policy"):
        parse_policies({"policies": {}, "routes": {"r": "missing"}})
    with pytest.raises(ConfigError, match="needs notify"):
        parse_policies({"policies": {"p": {"steps": [{"wait": "1m"}]}}})
    receivers = user_receivers(parse_oncall(ONCALL).users, {"email": {"smarthost": "127.0.0.1:25",
                                                                      "from": "tsdb@example.com"},
                                                            "sms": {"url": "http://127.0.0.1:9/sms"}})
    alice = next(r for r in receivers if r["name"] == "user:alice")
    assert alice["email_configs"][0]["to"] == "alice@example.com" and alice["sms_configs"][0]["to"] == "+1"
    assert next(r for r in receivers if r["name"] == "user:carol")["slack_configs"]


def test_sent_pages_are_bounded(tmp_path: Path) -> None:
    clock, deliveries = Clock(_at("2026-03-30T10:00")), Deliveries()
    policies, bindings = parse_policies({"policies": {"p": {"steps": [{"wait": "1s", "notify": "team-lead"}],
                                                            "repeat": 1100}}, "routes": {"pager": "p"}})
    hook = EscalationHook(policies, bindings, parse_oncall(ONCALL), deliveries,
                          EscalationStore(tmp_path / "escalation.sqlite"), clock, "http://tsdb")
    first = hook.before_send(_notification(clock))
    assert first is not None
    asyncio.run(hook.after_send(first, []))

    async def run() -> None:
        for _ in range(1101):
            clock.now += 1
            await hook.tick()

    asyncio.run(run())
    assert len(deliveries.sent) == 1101 and len(hook.sent) == 1000  # the newest 1,000 pages only
