"""Delivery guarantees against real HTTP receivers on 127.0.0.1: a receiver down for 5 minutes (answering
503, or its port closed) gets every dispatcher notification and escalation page of the outage exactly once
when it is back; of two integrations of a receiver only the failing one is retried; a page that never gets
through is given up, logged and counted. Time is the dispatcher's and the hook's injectable clock driven
by ``tick()``; the HTTP traffic is real."""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from tests.aiohttp_thread import AiohttpThread
from tsdb.alerting.config import parse_config
from tsdb.alerting.dispatcher import Dispatcher
from tsdb.alerting.escalation import RETRY_FOR_S, EscalationHook, EscalationStore, parse_policies
from tsdb.alerting.model import Alert
from tsdb.alerting.oncall import parse_oncall
from tsdb.alerting.receivers import ReceiverSet, build_receivers
from tsdb.alerting.store import AlertingStore
from tsdb.server.components.groups import group_json

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class Peer:
    """Webhook endpoints ``/<name>`` recording each body received while up (200); 503 while down."""

    def __init__(self) -> None:
        self.up = True
        self.down_paths: set[str] = set()  # paths answering 503 even while up
        self.received: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        app = web.Application()
        app.router.add_post("/{name}", self.handle)
        self.server = AiohttpThread(app)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not self.up or request.path in self.down_paths:
            return web.Response(status=503, text="down")
        self.received[request.match_info["name"]].append(json.loads(body))
        return web.Response(text="ok")

    def url(self, name: str) -> str:
        return f"{self.server.url}/{name}"


@pytest.fixture
def peer() -> Iterator[Peer]:
    p = Peer()
    yield p
    p.server.close()


def _config(peer: Peer) -> str:
    return f"""
route:
  receiver: pager
  group_by: [alertname]
  group_wait: 10s
  group_interval: 1m
  repeat_interval: 4h
receivers:
  - name: pager
    webhook_configs: [{{url: "{peer.url('pager')}"}}]
  - name: lead
    webhook_configs: [{{url: "{peer.url('lead')}"}}]
  - name: team
    webhook_configs: [{{url: "{peer.url('team-a')}"}}, {{url: "{peer.url('team-b')}"}}]
"""


POLICIES = {"policies": {"critical": {"steps": [{"wait": "1m", "notify": "lead"}, {"wait": "2m", "notify": "lead"}]},
                         "team": {"steps": [{"wait": "1m", "notify": "team"}]}},
            "routes": {"pager": "critical"}}


class System:
    """A dispatcher and an escalation hook over real receivers, persisted under ``path``."""

    def __init__(self, peer: Peer, path: Path, clock: Clock, policies: dict[str, Any] = POLICIES) -> None:
        self.clock, self.path, self.policies = clock, path, policies
        self.registry = CollectorRegistry()
        # one attempt per flush: retries happen at later ticks of the injected clock, not in real sleeps
        self.receivers: ReceiverSet = build_receivers(list(parse_config(_config(peer)).receivers),
                                                      global_config={}, templates=[], base_dir=None,
                                                      external_url="http://tsdb", registry=self.registry,
                                                      clock=clock, max_attempts=1)
        self.store = AlertingStore(path / "alerting.sqlite")
        self.dispatcher = Dispatcher(parse_config(_config(peer)), self.receivers, clock=clock)
        self.dispatcher.nflog.update(self.store.load_nflog())
        self.dispatcher.on_log = self.store.save_nflog
        self.hook = self._hook()
        self.dispatcher.add_hook(self.hook)

    def _hook(self) -> EscalationHook:
        policies, bindings = parse_policies(self.policies)
        return EscalationHook(policies, bindings, parse_oncall({}), self.receivers.notify,
                              EscalationStore(self.path / "escalation.sqlite"), self.clock, "http://tsdb",
                              self.receivers.metrics)

    def restart_hook(self) -> None:
        """A new hook over the same escalation store (as after a server restart)."""
        self.hook.store.close()
        self.dispatcher.hooks.remove(self.hook)
        self.hook = self._hook()
        self.dispatcher.add_hook(self.hook)

    async def run(self, until: float, step: float = 10.0) -> None:
        """Tick both every ``step`` seconds of the clock up to ``until``."""
        while self.clock.now < until:
            self.clock.now = min(until, self.clock.now + step)
            await self.dispatcher.tick()
            await self.hook.tick()

    def metric(self, name: str, receiver: str, integration: str = "webhook") -> float:
        value = self.registry.get_sample_value(name, {"receiver": receiver, "integration": integration})
        return value or 0.0

    async def close(self) -> None:
        await self.receivers.close()
        self.store.close()
        self.hook.store.close()


def _alert(clock: Clock, name: str) -> Alert:
    """A firing alert (with an end far ahead, as Prometheus sends, so it stays firing through the test)."""
    return Alert({"alertname": name, "severity": "critical"}, {"summary": name}, clock.now, clock.now + 36_000, "",
                 clock.now)


@pytest.mark.parametrize("outage", ["503", "closed port"])
def test_outage_of_five_minutes_loses_nothing_and_duplicates_nothing(peer: Peer, tmp_path: Path,
                                                                     outage: str) -> None:
    async def scenario() -> System:
        clock = Clock()
        system = System(peer, tmp_path, clock)
        try:
            system.dispatcher.put([_alert(clock, "Z")])  # told before the outage
            await system.run(T0 + 100)
            assert [b["groupLabels"]["alertname"] for b in peer.received["pager"]] == ["Z"]
            assert [b["tsdb"]["escalation_step"] for b in peer.received["lead"]] == [1]
            # the outage: 5 minutes
            peer.up = False
            if outage == "closed port":
                peer.server.stop_listening()
            start = clock.now
            system.dispatcher.put([_alert(clock, "A"), _alert(clock, "B")])
            await system.run(start + 120)
            system.dispatcher.put([_alert(clock, "C")])
            await system.run(start + 200)
            system.restart_hook()  # pending page retries survive a restart
            assert system.hook.retries
            pending = group_json(system.dispatcher, system.hook, next(iter(system.hook.retries.values())).group_key)
            assert pending is not None and pending["pendingPages"][0]["attempts"] >= 1
            await system.run(start + 300)
            assert [b["groupLabels"]["alertname"] for b in peer.received["pager"]] == ["Z"]
            assert len(peer.received["lead"]) == 1
            peer.up = True
            if outage == "closed port":
                peer.server.listen_again()
            await system.run(start + 1200)
            assert not system.hook.retries
            return system
        finally:
            await system.close()

    system = asyncio.run(scenario())
    pager = collections.Counter(b["groupLabels"]["alertname"] for b in peer.received["pager"])
    assert pager == {"Z": 1, "A": 1, "B": 1, "C": 1}  # every group's notification, exactly once
    pages = collections.Counter((b["groupLabels"]["alertname"], b["tsdb"]["escalation_step"])
                                for b in peer.received["lead"])
    assert pages == {(g, s): 1 for g in "ZABC" for s in (1, 2)}  # both steps of every group, exactly once
    assert system.metric("tsdb_notifications_failed_total", "pager") > 0
    assert system.metric("tsdb_notifications_retried_total", "pager") >= 3
    assert system.metric("tsdb_notifications_retried_total", "lead") >= 4
    assert system.metric("tsdb_notifications_given_up_total", "lead") == 0


def test_only_the_failing_integration_of_a_receiver_is_retried(peer: Peer, tmp_path: Path) -> None:
    policies = {"policies": {"team": {"steps": [{"wait": "1m", "notify": "team"}]}}, "routes": {"pager": "team"}}
    config = _config(peer).replace("receiver: pager\n", "receiver: team\n", 1)
    peer.down_paths.add("/team-b")

    async def scenario() -> System:
        clock = Clock()
        system = System(peer, tmp_path, clock, policies)
        system.dispatcher.apply_config(parse_config(config), system.receivers)
        system.hook.bindings = {"team": "team"}
        try:
            system.dispatcher.put([_alert(clock, "A")])
            await system.run(T0 + 130)  # flushes at +10s, +70s, +130s; the escalation page at +70s
            assert len(peer.received["team-a"]) == 2 and peer.received["team-b"] == []
            keys = sorted(k[2] for k in system.dispatcher.nflog)
            assert keys == ["webhook/0"]  # only the integration that delivered is logged
            peer.down_paths.clear()
            await system.run(T0 + 1000)
            assert sorted(k[2] for k in system.dispatcher.nflog) == ["webhook/0", "webhook/1"]
            return system
        finally:
            await system.close()

    system = asyncio.run(scenario())
    a = [(b.get("tsdb", {}).get("escalation_step"), b["receiver"]) for b in peer.received["team-a"]]
    b = [(b.get("tsdb", {}).get("escalation_step"), b["receiver"]) for b in peer.received["team-b"]]
    assert sorted(a, key=str) == [(1, "team"), (None, "team")]  # the notification and the page, once each
    assert sorted(b, key=str) == [(1, "team"), (None, "team")]  # retried until delivered, once each
    assert system.metric("tsdb_notifications_retried_total", "team") >= 2
    assert system.metric("tsdb_notifications_failed_total", "team") >= 2


def test_a_page_that_never_gets_through_is_given_up(peer: Peer, tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    peer.down_paths.add("/lead")

    async def scenario() -> System:
        clock = Clock()
        system = System(peer, tmp_path, clock, {"policies": {"p": {"steps": [{"wait": "1m", "notify": "lead"}]}},
                                                 "routes": {"pager": "p"}})
        try:
            system.dispatcher.put([_alert(clock, "A")])
            await system.run(T0 + 80)
            assert len(system.hook.retries) == 1 and system.hook.sent == []
            await system.run(T0 + 80 + RETRY_FOR_S + 600, step=30)
            return system
        finally:
            await system.close()

    system = asyncio.run(scenario())
    assert not system.hook.retries and system.hook.sent == [] and peer.received["lead"] == []
    assert system.metric("tsdb_notifications_given_up_total", "lead") == 1
    assert any("given up" in r.getMessage() for r in caplog.records)
    history = [e["event"] for events in system.hook.history.values() for e in events]
    assert any(e.startswith("step 1: gave up notifying lead after") for e in history)
    assert not any(e.startswith("step 1: notified lead") for e in history)
