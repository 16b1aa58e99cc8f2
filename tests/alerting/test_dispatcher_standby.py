"""The dispatcher in a notification cluster: a standby sends nothing but keeps its groups and timers, drops
resolved alerts the shared log says were told, and on becoming active resumes each group one group_interval
after the last logged notification (so the new dispatcher neither repeats the old one's nor waits longer)."""

from __future__ import annotations

import asyncio

from tests.alerting.test_dispatcher import CONFIG, Clock, Recorder, _alert
from tsdb.alerting.config import parse_config
from tsdb.alerting.dispatcher import Dispatcher, NflogEntry


def _pair() -> tuple[Dispatcher, Recorder, Dispatcher, Recorder, Clock]:
    """Two nodes with one clock: ``leader`` logs into the standby's log as a shared log would."""
    clock = Clock()
    leader_out, standby_out = Recorder(), Recorder()
    leader = Dispatcher(parse_config(CONFIG), leader_out, clock=clock)
    standby = Dispatcher(parse_config(CONFIG), standby_out, clock=clock)
    standby.active = lambda: False
    leader.on_log = lambda g, r, i, e: standby.merge_log((g, r, i), e)
    return leader, leader_out, standby, standby_out, clock


def _tick(*dispatchers: Dispatcher) -> None:
    for d in dispatchers:
        asyncio.run(d.tick())


def test_standby_sends_nothing_and_takes_over_where_the_leader_was() -> None:
    leader, leader_out, standby, standby_out, clock = _pair()
    alerts = [_alert(clock, alertname="Disk", cluster="a")]
    leader.put(alerts)
    standby.put(alerts)
    clock.now += 31
    _tick(leader, standby)
    assert len(leader_out.sent) == 1 and standby_out.sent == []
    key = leader_out.sent[0].group_key
    assert standby.groups[key].alerts and standby.nflog  # holds the group and knows it was told

    # the leader dies 100 s after its notification; a new alert joined meanwhile
    clock.now += 100
    alerts2 = [_alert(clock, alertname="Disk", cluster="a", instance="2")]
    standby.put(alerts2)
    standby.active = lambda: True
    _tick(standby)
    assert standby_out.sent == []  # group_interval (5m) after the last notification has not passed yet
    clock.now += 200  # 300 s after the leader's notification
    standby.put([*alerts, *alerts2])  # the rules re-send what still fires
    _tick(standby)
    assert len(standby_out.sent) == 1 and len(standby_out.sent[0].firing) == 2
    clock.now += 300
    standby.put([*alerts, *alerts2])
    _tick(standby)
    assert len(standby_out.sent) == 1  # nothing new, repeat_interval (4h) not reached: no duplicate


def test_standby_drops_resolved_alerts_the_log_says_were_told() -> None:
    leader, leader_out, standby, _, clock = _pair()
    firing = _alert(clock, alertname="Disk", cluster="a")
    leader.put([firing])
    standby.put([firing])
    clock.now += 31
    _tick(leader, standby)
    resolved = _alert(clock, ends=clock.now, alertname="Disk", cluster="a")
    resolved.starts_at = firing.starts_at
    leader.put([resolved])
    standby.put([resolved])
    clock.now += 301
    _tick(leader, standby)
    assert leader_out.sent[-1].status == "resolved"
    clock.now += 301
    _tick(leader, standby)
    assert leader.groups == {} and standby.groups == {} and standby.alerts == {}


def test_a_group_never_told_flushes_at_once_on_takeover_and_leadership_lost_mid_tick_stops_sending() -> None:
    _, _, standby, standby_out, clock = _pair()
    standby.put([_alert(clock, alertname="A", cluster="a"), _alert(clock, alertname="B", cluster="a")])
    clock.now += 31
    _tick(standby)  # flushes nothing: not active
    calls = iter([True, True, False])  # active at the tick's start, lost before the second delivery
    standby.active = lambda: next(calls, False)
    _tick(standby)
    assert len(standby_out.sent) == 1
    standby.active = lambda: True
    _tick(standby)
    assert len(standby_out.sent) == 2  # the other group, sent by the next active tick


def test_merge_log_keeps_the_later_entry() -> None:
    _, _, standby, _, _ = _pair()
    key = ("g", "r", "")
    assert standby.merge_log(key, NflogEntry(frozenset({"a"}), frozenset(), 10.0))
    assert not standby.merge_log(key, NflogEntry(frozenset(), frozenset(), 5.0))
    assert standby.nflog[key].at == 10.0
    assert standby.merge_log(key, None) and not standby.merge_log(key, None)
