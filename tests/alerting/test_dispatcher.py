"""Dispatcher semantics as Alertmanager: routing, grouping and timers, dedup, resolve, inhibition, silences.

A controllable clock drives every timer; the sender under test records notifications (the unit boundary:
delivery itself is tested with real HTTP servers in tests/server/)."""

from __future__ import annotations

import asyncio

import pytest

from tsdb.alerting.config import parse_config
from tsdb.alerting.dispatcher import Dispatcher
from tsdb.alerting.matchers import parse_matchers
from tsdb.alerting.model import Alert, DeliveryResult, Notification
from tsdb.alerting.silences import Silence
from tsdb.errors import ConfigError, InvalidArgumentError

CONFIG = """
route:
  receiver: default
  group_by: [alertname, cluster]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: ['severity="page"']
      receiver: pager
      continue: true
    - match_re: {team: "db|storage"}
      receiver: db
      group_by: ['...']
receivers: [{name: default}, {name: pager}, {name: db}]
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [cluster]
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    async def notify(self, notification: Notification) -> list[DeliveryResult]:
        self.sent.append(notification)
        return [DeliveryResult(notification.receiver, "test", True, 1)]


def _alert(clock: Clock, ends: float | None = None, **labels: str) -> Alert:
    return Alert(labels, {"summary": "s"}, clock.now, ends, "http://gen", clock.now)


@pytest.fixture
def setup() -> tuple[Dispatcher, Recorder, Clock]:
    clock, recorder = Clock(), Recorder()
    return Dispatcher(parse_config(CONFIG), recorder, clock=clock), recorder, clock


def _tick(d: Dispatcher) -> int:
    return asyncio.run(d.tick())


def test_routing_with_continue_and_regex() -> None:
    route = parse_config(CONFIG).route
    assert [r.receiver for r in route.match({"severity": "page", "team": "db"})] == ["pager", "db"]
    assert [r.receiver for r in route.match({"team": "storage"})] == ["db"]
    assert [r.receiver for r in route.match({"x": "y"})] == ["default"]
    assert route.routes[1].group_by is None and route.routes[0].group_wait_ms == 30_000  # inherited


def test_group_wait_interval_repeat_and_resolve(setup: tuple[Dispatcher, Recorder, Clock]) -> None:
    d, rec, clock = setup
    far = clock.now + 10 * 3600  # firing (an end far ahead, as Prometheus sends)
    d.put([_alert(clock, far, alertname="A", cluster="c1", instance="1")])
    assert _tick(d) == 0  # group_wait not over
    clock.now += 10
    d.put([_alert(clock, far, alertname="A", cluster="c1", instance="2")])  # joins the same group
    clock.now += 21
    assert _tick(d) == 1
    first = rec.sent[-1]
    assert first.receiver == "default" and len(first.alerts) == 2 and first.status == "firing"
    assert first.group_labels == {"alertname": "A", "cluster": "c1"}
    assert first.group_key == '{}:{alertname="A",cluster="c1"}'
    clock.now += 300
    assert _tick(d) == 0  # nothing new: no repeat before repeat_interval
    d.put([_alert(clock, far, alertname="A", cluster="c1", instance="3")])
    clock.now += 300
    assert _tick(d) == 1 and len(rec.sent[-1].alerts) == 3  # a new firing alert
    clock.now += 4 * 3600
    assert _tick(d) == 1  # repeat
    for i in ("1", "2", "3"):
        d.put([_alert(clock, ends=clock.now, alertname="A", cluster="c1", instance=i)])
    clock.now += 300
    assert _tick(d) == 1
    assert rec.sent[-1].status == "resolved" and len(rec.sent[-1].resolved) == 3
    clock.now += 300
    assert _tick(d) == 0 and not d.groups and not d.alerts  # told, then forgotten


def test_an_alert_older_than_group_wait_flushes_a_new_group_at_once(
        setup: tuple[Dispatcher, Recorder, Clock]) -> None:
    d, rec, clock = setup
    far = clock.now + 3600
    old = Alert({"alertname": "B", "cluster": "c1", "instance": "1"}, {}, clock.now - 600, far, "", clock.now)
    d.put([_alert(clock, far, alertname="B", cluster="c1", instance="2"), old])  # one batch
    assert _tick(d) == 1 and len(rec.sent[-1].alerts) == 2  # the whole batch, not group_wait later
    clock.now += 1
    later_old = Alert({"alertname": "B", "cluster": "c1", "instance": "3"}, {}, clock.now - 600, far, "", clock.now)
    d.put([later_old])
    assert _tick(d) == 0  # once flushed, group_interval applies
    clock.now += 300
    assert _tick(d) == 1 and len(rec.sent[-1].alerts) == 3
    d.put([_alert(clock, far, alertname="C", cluster="c1")])
    assert _tick(d) == 0  # a fresh alert waits group_wait


def test_resolve_timeout_for_alerts_without_end(setup: tuple[Dispatcher, Recorder, Clock]) -> None:
    d, rec, clock = setup
    d.put([_alert(clock, alertname="B")])
    clock.now += 30
    assert _tick(d) == 1
    clock.now += 301  # no update for more than resolve_timeout (5m): resolved
    assert _tick(d) == 1 and rec.sent[-1].status == "resolved"


def test_inhibition_and_silences(setup: tuple[Dispatcher, Recorder, Clock]) -> None:
    d, rec, clock = setup
    later = clock.now + 7200  # firing for two hours (no resolve timeout in this test)
    d.put([_alert(clock, later, alertname="Disk", cluster="c1", severity="warning"),
           _alert(clock, later, alertname="Down", cluster="c1", severity="critical"),
           _alert(clock, later, alertname="Disk", cluster="c2", severity="warning")])
    clock.now += 30
    _tick(d)
    names = sorted((n.group_labels.get("alertname"), n.group_labels.get("cluster")) for n in rec.sent)
    assert names == [("Disk", "c2"), ("Down", "c1")]  # c1's warning is inhibited by c1's critical
    rec.sent.clear()
    silence = Silence("", parse_matchers('{alertname="Disk"}'), clock.now, clock.now + 3600, "me", "maint")
    sid = d.silences.set(silence)
    d.put([_alert(clock, later, alertname="Disk", cluster="c3", severity="info")])
    clock.now += 30
    _tick(d)
    assert rec.sent == []  # silenced
    assert d.muted_by(d.alerts[_alert(clock, alertname="Disk", cluster="c3", severity="info").fingerprint])[0] == [sid]
    d.silences.expire(sid)
    clock.now += 300
    _tick(d)
    assert [n.group_labels["cluster"] for n in rec.sent] == ["c3"]
    with pytest.raises(InvalidArgumentError, match="already expired"):
        d.silences.expire(sid)


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="undefined receiver 'nope'"):
        parse_config("route: {receiver: nope}\nreceivers: [{name: a}]\n")
    with pytest.raises(ConfigError, match="field colour not found"):
        parse_config("route: {receiver: a, colour: red}\nreceivers: [{name: a}]\n")
    with pytest.raises(ConfigError, match="no route provided"):
        parse_config("receivers: [{name: a}]\n")
    with pytest.raises(ConfigError, match="invalid matcher"):
        parse_config("route: {receiver: a, routes: [{matchers: ['bad matcher']}]}\nreceivers: [{name: a}]\n")
