"""Two nodes of a notification cluster built in one process (real components, real etcd, a real webhook):
one dispatches; the notification log, silences, acknowledgements, escalations and on-call overrides made on
one node reach the other; the status route and metrics; the rule placement's shared state; reloads."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from benchmarks.webhook import WebhookReceiver
from tests.etcd_peer import EtcdProcess, running_etcd
from tests.server.components.context import server_context, with_sections
from tests.waiting import wait_until_async
from tsdb.alerting.matchers import parse_matchers
from tsdb.alerting.model import Alert
from tsdb.alerting.oncall import Override
from tsdb.alerting.silences import Silence
from tsdb.errors import ConfigError
from tsdb.server.components import cluster, escalation, notifications
from tsdb.server.components.base import ServerContext
from tsdb.server.rule_placement import ClusterPlacement
from tsdb.server.shared_alerting import override_json, override_key

pytestmark = pytest.mark.external


def _sections(etcd: EtcdProcess, hook: str, node: str) -> dict[str, Any]:
    return {
        "cluster": {"name": "inproc", "etcd": {"endpoints": [etcd.url]}, "lease_ttl": "2s", "node": node,
                    "rule_groups": "spread"},
        "notifications": {
            "config": {"route": {"receiver": "hook", "group_wait": "0s", "group_interval": "1s",
                                 "repeat_interval": "1h"},
                       "receivers": [{"name": "hook", "webhook_configs": [{"url": hook}]}]},
            "escalation": {"policies": {"slow": {"steps": [{"wait": "1h", "notify": "hook"}]}},
                           "routes": {"hook": "slow"}},
            "oncall": {"users": {"alice": {"email": "a@example.com"}, "bob": {"email": "b@example.com"}},
                       "schedules": {"primary": {"layers": [{"users": ["alice"], "shift": "1w",
                                                             "start": "2026-01-05"}]}}}}}


class Node:
    """One node's components built as the server builds them (cluster, notifications, escalation)."""

    def __init__(self, context: ServerContext) -> None:
        self.context = context
        self.cluster = cluster.build(context)
        assert self.cluster is not None
        self.notifications = notifications.build(context)
        self.escalation = escalation.build(context)
        self.placement = ClusterPlacement(self.cluster)

    async def start(self) -> None:
        for component in (self.cluster, self.notifications, self.escalation):
            await component.start()

    async def stop(self) -> None:
        for component in (self.escalation, self.notifications, self.cluster):
            await component.stop()


def test_two_nodes_share_the_alerting_state(tmp_path: Path) -> None:
    receiver = WebhookReceiver()
    with running_etcd(tmp_path) as etcd, ExitStack() as stack:
        contexts = [stack.enter_context(server_context(tmp_path / name, **_sections(etcd, receiver.url, name)))
                    for name in ("a", "b")]

        async def scenario() -> None:
            nodes = [Node(c) for c in contexts]
            for node in nodes:
                await node.start()
            try:
                leader = await wait_until_async(lambda: [n for n in nodes if n.cluster.is_active()])
                assert len(leader) == 1
                leader = leader[0]
                standby = next(n for n in nodes if n is not leader)
                await wait_until_async(lambda: all(len(n.cluster.session.status.members) == 2 for n in nodes))
                assert standby.cluster.peer_urls() == ["http://tsdb.example:9201"]

                # an alert held by both: only the leader sends; its log entry reaches the standby
                for node in nodes:
                    assert node.context.services.notifier is not None
                    node.context.services.notifier.send([Alert({"alertname": "Disk"}, starts_at=time.time())])
                await wait_until_async(lambda: receiver.deliveries())
                standby_log = standby.notifications.dispatcher.nflog
                await wait_until_async(lambda: standby_log)
                assert len(receiver.deliveries()) == 1

                # the escalation the leader started, and an acknowledgement made on the standby
                key = next(iter(leader.notifications.dispatcher.groups))
                await wait_until_async(lambda: key in standby.escalation.hook.escalations)
                standby.escalation.hook.ack(key, "carol", "on it", ["x"])
                await wait_until_async(lambda: key in leader.escalation.hook.acks and
                             key not in leader.escalation.hook.escalations)
                assert leader.escalation.hook.acks[key]["by"] == "carol"

                # a silence set on the standby mutes on the leader; expiring it reaches the leader too
                silence = Silence("", parse_matchers('{alertname="Other"}'), time.time(), time.time() + 3600)
                silence_id = standby.notifications.dispatcher.silences.set(silence)
                leader_silences = leader.notifications.dispatcher.silences
                await wait_until_async(lambda: leader_silences.get(silence_id) is not None)
                assert leader_silences.mutes({"alertname": "Other"}) == [silence_id]
                standby.notifications.dispatcher.silences.expire(silence_id)
                await wait_until_async(lambda: not leader_silences.mutes({"alertname": "Other"}))

                # an on-call override published by one node is in effect on the other, and its deletion
                override = Override("bob", time.time() - 60, time.time() + 3600, "o1", True, "t", "", time.time())
                standby.cluster.state.publish("overrides", override_key("primary", "o1"), override_json(override))
                oncall = leader.escalation

                def on_call() -> str:
                    user, _ = oncall.oncall.who_is_on_call("primary", time.time())
                    return user.name if user else ""

                await wait_until_async(lambda: on_call() == "bob")
                standby.cluster.state.publish("overrides", override_key("primary", "o1"), None)
                await wait_until_async(lambda: on_call() == "alice")

                # the rule placement: one evaluator per group, state published by one read by the other
                group = "rules.yml;g"
                owner = leader.placement.evaluator(group)
                assert owner in ("a", "b") and standby.placement.evaluator(group) == owner
                assert [n.placement.evaluates(group) for n in nodes].count(True) == 1
                state = {json.dumps(["rules.yml", "g", "alert", "A"]): [{"labels": {}, "active_at": 1,
                                                                         "state": "firing", "value": 1.0}]}
                leader.placement.save(group, state)
                leader.placement.save(group, state)  # unchanged: not published again
                await wait_until_async(lambda: standby.placement.saved(group) == state)

                # status route and metrics
                response = await standby.cluster.status(None)  # type: ignore[arg-type]
                data = json.loads(response.text or "")["data"]
                assert data["dispatching"] is False and data["leader"] == leader.cluster.node
                assert data["members"] == ["a", "b"] and data["ruleGroups"] == "spread"
                assert data["state"]["ready"] and data["etcd"]["connected"]
                text = generate_latest(leader.context.metrics.registry).decode()
                assert "tsdb_cluster_leader 1.0" in text and "tsdb_cluster_members 2.0" in text

                # reloads: the same section changes nothing, another one needs a restart
                same = await leader.cluster.prepare_reload(leader.context.config)
                assert not same.changed
                changed = dict(leader.context.config.cluster, lease_ttl="5s")
                with pytest.raises(ConfigError, match="restart"):
                    await leader.cluster.prepare_reload(with_sections(leader.context, cluster=changed))

                # the leader stops (resigning): the standby dispatches
                await leader.stop()
                await wait_until_async(standby.cluster.is_active, 10)
                nodes.remove(leader)
            finally:
                for node in nodes:
                    await node.stop()

        try:
            asyncio.run(scenario())
        finally:
            receiver.close()
