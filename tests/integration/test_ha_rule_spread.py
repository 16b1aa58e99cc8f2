"""Rule groups spread over a notification cluster (``cluster.rule_groups: spread``) of three real nodes and a
real etcd: every group is evaluated by exactly one node, every node's ``/api/v1/rules`` names it, every alert
reaches the dispatcher (whichever node evaluates it) and is notified once; when a node is killed, its groups
move to the survivors with their alert state (same ``activeAt``) and nothing is notified again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks.webhook import WebhookReceiver
from tests.etcd_peer import running_etcd
from tests.integration.serve import ServeProcess
from tests.integration.test_ha_notifications import _dispatchers, _status, _until
from tsdb.timefmt import parse_rfc3339

pytestmark = pytest.mark.external

GROUPS = 12
RULES = {"groups": [{"name": f"g{i}", "interval": "1s",
                     "rules": [{"alert": f"A{i}", "expr": "vector(1)"}]} for i in range(GROUPS)]}


def _evaluators(node: ServeProcess) -> dict[str, str]:
    code, body = node.get("/api/v1/rules")
    assert code == 200, body
    return {g["name"]: g["evaluatedBy"] for g in body["data"]["groups"]}


def _evaluated_here(node: ServeProcess) -> set[str]:
    """Groups this node evaluated in the last 3 s (a node starting first evaluates all until others join)."""
    _, body = node.get("/api/v1/rules")
    now = time.time()
    return {g["name"] for g in body["data"]["groups"]
            if now - parse_rfc3339(g["lastEvaluation"]) < 3}


def _active_at(node: ServeProcess) -> dict[str, str]:
    _, body = node.get("/api/v1/alerts")
    return {a["labels"]["alertname"]: a["activeAt"] for a in body["data"]["alerts"]}


@pytest.fixture
def spread(tmp_path: Path) -> Iterator[tuple[list[ServeProcess], WebhookReceiver]]:
    receiver = WebhookReceiver()
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(RULES))
    with running_etcd(tmp_path) as etcd:
        config = tmp_path / "tsdb.yml"
        config.write_text(yaml.safe_dump({
            "rules": {"files": [str(rules)], "evaluation_interval": "1s"},
            "notifications": {"config": {
                "route": {"receiver": "hook", "group_by": ["alertname"], "group_wait": "1s",
                          "group_interval": "2s", "repeat_interval": "1h"},
                "receivers": [{"name": "hook", "webhook_configs": [{"url": receiver.url,
                                                                    "send_resolved": False}]}]}},
            "cluster": {"name": "spread", "etcd": {"endpoints": [etcd.url]}, "lease_ttl": "3s",
                        "rule_groups": "spread"}}))
        nodes: list[ServeProcess] = []
        try:
            for i in range(3):
                nodes.append(ServeProcess(tmp_path / f"data{i}", "--config", str(config)))
            yield nodes, receiver
        finally:
            for node in nodes:
                node.kill()
            receiver.close()


def test_each_group_on_one_node_and_groups_move_with_their_state(
        spread: tuple[list[ServeProcess], WebhookReceiver]) -> None:
    nodes, receiver = spread
    _until(lambda: all(len(_status(n)["members"]) == 3 for n in nodes), 30, "three members")
    names = {n.url: n for n in nodes}

    def agreed(among: list[ServeProcess]) -> dict[str, str] | None:
        views = [_evaluators(n) for n in among]
        first = views[0]
        if all(v == first for v in views) and all(first.get(f"g{i}") in [n.url for n in among]
                                                   for i in range(GROUPS)):
            return first
        return None

    placement: dict[str, str] = _until(lambda: agreed(nodes), 30, "one placement seen by every node")
    assert len(set(placement.values())) >= 2  # spread, not all on one node
    _until(lambda: all(_evaluated_here(n) == {g for g, e in placement.items() if e == n.url} for n in nodes),
           20, "each group evaluated by its node only")

    # every alert reaches the dispatcher and is notified once
    _until(lambda: len(receiver.deliveries()) >= GROUPS, 30, "a notification per alert")
    time.sleep(5)
    assert len(receiver.deliveries()) == GROUPS
    (leader,) = _dispatchers(nodes)
    assert {d.sender for d in receiver.deliveries()} == {leader.url}
    before: dict[str, Any] = {}
    for node in nodes:
        before.update({a: t for a, t in _active_at(node).items()
                       if placement[f"g{a[1:]}"] == node.url})
    assert len(before) == GROUPS

    # kill a node that evaluates groups and does not dispatch: its groups move with their state
    victim = next(n for n in nodes if n is not leader and n.url in placement.values())
    moved = sorted(g for g, e in placement.items() if e == victim.url)
    victim.kill()
    survivors = [n for n in nodes if n is not victim]
    after: dict[str, str] = _until(lambda: (p := agreed(survivors)) and victim.url not in p.values() and p, 30,
                                   "the victim's groups placed on survivors")
    assert all(after[g] == placement[g] for g in placement if g not in moved)  # only its groups moved
    _until(lambda: all(_evaluated_here(names[after[g]]) >= {g} for g in moved), 20, "moved groups evaluated")
    for g in moved:
        alert = f"A{g[1:]}"
        assert _active_at(names[after[g]])[alert] == before[alert]  # the same alert, still active since then
    time.sleep(5)
    assert len(receiver.deliveries()) == GROUPS  # nothing notified again
