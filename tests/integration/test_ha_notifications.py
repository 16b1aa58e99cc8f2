"""A notification cluster of three real ``tsdb serve`` nodes and a real etcd, delivering to a real webhook.

Every node evaluates the same rule on the same data (written to each, as replicated remote-write would);
exactly one node sends. The test checks: one notification per group (from the elected node); a silence made
with ``amtool`` on one node mutes on all; the escalation the dispatcher started is known to every node; an
on-call override made on a standby holds on all; an acknowledgement made on a standby reaches the dispatcher
and stops the escalation everywhere; the
dispatcher killed with SIGKILL is replaced within the lease TTL plus a group interval, and the new one sends
what is new exactly once and repeats nothing; a restarted node gets the shared state; while etcd is down no
node can prove it alone dispatches, and once etcd is back, what fired meanwhile is delivered once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks.webhook import Delivery, WebhookReceiver
from tests.etcd_peer import EtcdProcess, running_etcd
from tests.integration.serve import ServeProcess
from tests.needs import require_binary
from tests.waiting import wait_until
from tsdb.alerting.escalation import encode_key

pytestmark = pytest.mark.external

LEASE_TTL_S = 3
GROUP_INTERVAL_S = 2
RULES = "groups: [{name: ha, interval: 1s, rules: [{alert: Up, expr: 'ha_value > 0'}]}]\n"


def _until(condition: Callable[[], Any], timeout_s: float, what: str) -> Any:
    return wait_until(condition, what, timeout_s)


def _of(receiver: WebhookReceiver, instance: str) -> list[Delivery]:
    return receiver.deliveries(instance=instance)


def _config(tmp: Path, name: str, etcd: EtcdProcess, hook: str) -> Path:
    rules = tmp / "rules.yml"
    rules.write_text(RULES)
    config = {
        "rules": {"files": [str(rules)], "evaluation_interval": "1s"},
        "notifications": {"config": {
            "route": {"receiver": "hook", "group_by": ["alertname", "instance"], "group_wait": "1s",
                      "group_interval": f"{GROUP_INTERVAL_S}s", "repeat_interval": "1h"},
            "receivers": [{"name": "hook", "webhook_configs": [{"url": hook, "send_resolved": False}]}]},
            # a long first step: the escalation runs (and is shared) for the whole test without paging
            "escalation": {"policies": {"slow": {"steps": [{"wait": "1h", "notify": "hook"}]}},
                           "routes": {"hook": "slow"}},
            "oncall": {"users": {"alice": {"email": "alice@example.com"}, "bob": {"email": "bob@example.com"}},
                       "schedules": {"primary": {"layers": [{"users": ["alice"], "shift": "1w",
                                                             "start": "2026-01-05"}]}}}},
        "cluster": {"name": "ha-test", "etcd": {"endpoints": [etcd.url], "timeout": "1s"},
                    "lease_ttl": f"{LEASE_TTL_S}s"}}
    path = tmp / f"{name}.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _status(node: ServeProcess) -> dict[str, Any]:
    code, body = node.get("/api/v1/status/cluster")
    assert code == 200, body
    return dict(body["data"])


def _dispatchers(nodes: list[ServeProcess]) -> list[ServeProcess]:
    out = []
    for node in nodes:
        try:
            if _status(node)["dispatching"]:
                out.append(node)
        except OSError:
            pass
    return out


def _fire(nodes: list[ServeProcess], instance: str) -> None:
    """``ha_value{instance=...} 1`` written to every node (InfluxDB line protocol: measurement_field)."""
    for node in nodes:
        code, text = node.post("/write", f"ha,instance={instance} value=1\n".encode(), {})
        assert code == 204, text


def _amtool(node: ServeProcess, *args: str) -> str:
    amtool = require_binary("amtool", package="prometheus-alertmanager")
    proc = subprocess.run([amtool, f"--alertmanager.url={node.url}", *args], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[EtcdProcess, list[ServeProcess], WebhookReceiver]]:
    receiver = WebhookReceiver()
    with running_etcd(tmp_path) as etcd:
        nodes: list[ServeProcess] = []
        try:
            for i in range(3):
                config = _config(tmp_path, f"node{i}", etcd, receiver.url)
                nodes.append(ServeProcess(tmp_path / f"data{i}", "--config", str(config)))
            yield etcd, nodes, receiver
        finally:
            for node in nodes:
                node.kill()
            receiver.close()


def test_one_dispatcher_shared_state_and_failover(
        cluster: tuple[EtcdProcess, list[ServeProcess], WebhookReceiver]) -> None:
    etcd, nodes, receiver = cluster
    leader = _until(lambda: _dispatchers(nodes), 30, "a dispatcher elected")
    assert len(leader) == 1
    leader = leader[0]
    _until(lambda: all(len(_status(n)["members"]) == 3 for n in nodes), 15, "three members seen by all")
    standbys = [n for n in nodes if n is not leader]
    assert all(_status(n)["leader"] == _status(leader)["node"] for n in nodes)

    # one notification per group, from the dispatcher only
    _fire(nodes, "i1")
    _until(lambda: _of(receiver, "i1"), 20, "the i1 notification")
    time.sleep(2 * GROUP_INTERVAL_S + 1)
    assert [d.sender for d in _of(receiver, "i1")] == [leader.url]

    # a silence made with amtool on a standby mutes on every node
    silence_id = _amtool(standbys[0], "silence", "add", "instance=i2", "--comment=maintenance",
                         "--duration=1h").strip()
    _until(lambda: all(silence_id in _amtool(n, "silence", "query", "-q") for n in nodes), 10,
           "the silence on every node")
    _fire(nodes, "i2")
    time.sleep(2 * GROUP_INTERVAL_S + 2)
    assert _of(receiver, "i2") == []

    # the escalation the dispatcher started is known to every node
    group_key = '{}:{alertname="Up",instance="i1"}'

    def escalating(node: ServeProcess) -> bool:
        _, body = node.get("/api/v1/escalations")
        return any(e["groupKey"] == group_key and e["policy"] == "slow" for e in body["data"]["escalations"])

    _until(lambda: all(escalating(n) for n in nodes), 10, "the escalation on every node")

    # an on-call override made on a standby is in effect on the others
    start, end = time.time() - 60, time.time() + 3600
    code, text = standbys[0].post("/api/v1/oncall/primary/overrides", json.dumps(
        {"user": "bob", "start": start, "end": end, "comment": "swap"}).encode(), {"Content-Type": "application/json"})
    assert code == 200, text

    def on_call(node: ServeProcess) -> str:
        _, body = node.get("/api/v1/oncall/primary")
        return str((body["data"]["user"] or {}).get("name"))

    _until(lambda: all(on_call(n) == "bob" for n in nodes), 10, "the override on every node")

    # an acknowledgement made on a standby reaches the dispatcher
    code, text = standbys[1].post(f"/api/v1/alerts/groups/{encode_key(group_key)}/ack",
                                  json.dumps({"by": "oncall"}).encode(), {"Content-Type": "application/json"})
    assert code == 200, text

    def acked_on_leader() -> bool:
        _, body = leader.get("/api/v1/escalations")
        return any(a["groupKey"] == group_key and a["by"] == "oncall" for a in body["data"]["acks"])

    _until(acked_on_leader, 10, "the acknowledgement on the dispatcher")
    _until(lambda: not any(escalating(n) for n in nodes), 10, "the acknowledged escalation stopped everywhere")

    # SIGKILL the dispatcher: a survivor takes over and sends only what is new
    leader.kill()
    killed = time.monotonic()
    survivors = standbys
    _fire(survivors, "i3")
    new_leader = _until(lambda: _dispatchers(survivors), LEASE_TTL_S + 10, "a new dispatcher")[0]
    takeover_s = time.monotonic() - killed
    _until(lambda: _of(receiver, "i3"), LEASE_TTL_S + GROUP_INTERVAL_S + 10, "the i3 notification")
    delivered_s = _of(receiver, "i3")[0].at - killed
    time.sleep(2 * GROUP_INTERVAL_S + 1)
    assert [d.sender for d in _of(receiver, "i3")] == [new_leader.url]
    assert len(_of(receiver, "i1")) == 1 and _of(receiver, "i2") == []  # nothing repeated, the silence holds
    # (bounds generous for loaded machines; `python -m benchmarks ha` measures the takeover)
    assert takeover_s < LEASE_TTL_S + 8 and delivered_s < LEASE_TTL_S + GROUP_INTERVAL_S + 10
    print(f"takeover {takeover_s:.1f}s, first new notification {delivered_s:.1f}s after the SIGKILL")

    # the killed node comes back as a standby with the shared state
    leader.restart()
    _until(lambda: len(_status(leader)["members"]) == 3 and _status(leader)["state"]["ready"], 20,
           "the restarted node rejoined")
    assert not _status(leader)["dispatching"]
    assert silence_id in _amtool(leader, "silence", "query", "-q") and on_call(leader) == "bob"

    # etcd down: the dispatcher steps down within its TTL; what fires meanwhile is sent once etcd is back
    etcd.kill()
    _until(lambda: not _dispatchers(nodes), LEASE_TTL_S + 2, "no dispatcher without etcd")
    _fire(nodes, "i4")
    time.sleep(2)
    assert _of(receiver, "i4") == []
    etcd.start()
    _until(lambda: _of(receiver, "i4"), 30, "the i4 notification after etcd returned")
    time.sleep(2 * GROUP_INTERVAL_S + 1)
    assert len(_of(receiver, "i4")) == 1
    assert len(_of(receiver, "i1")) == 1 and len(_of(receiver, "i3")) == 1
    assert len(_dispatchers(nodes)) == 1


def test_cluster_section_errors_name_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.yml"
    config.write_text(yaml.safe_dump({"cluster": {"name": "x", "etcd": {"endpoints": ["127.0.0.1:2379"]}}}))
    proc = subprocess.run([sys.executable, "-m", "tsdb.cli", "serve", "--config", str(config), "--data-dir",
                           str(tmp_path / "d")], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "cluster.etcd.endpoints" in proc.stderr + proc.stdout
