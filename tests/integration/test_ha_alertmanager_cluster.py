"""Two ``tsdb serve`` replicas in front of a two-node Alertmanager cluster behave like Prometheus replicas.

Real components on 127.0.0.1: two Debian prometheus-alertmanager processes gossiping with each other
(``tests/alertmanager_peer.py``), two tsdb servers with the same rule file and ``rules.alertmanagers`` listing
both Alertmanagers, and an aiohttp webhook receiver counting notifications. Each replica carries its own
``external_labels: {replica: a|b}`` (as for the global view's deduplication) and drops it from its alerts with
``rules.alert_relabel_configs: [{action: labeldrop, regex: replica}]``, as Prometheus HA pairs do.

1. Every replica sends its alerts to every Alertmanager (each Alertmanager shows the alert as last posted by
   replica a, then by replica b), with identical label sets: no ``replica`` label.
2. The Alertmanager cluster deduplicates: the receiver gets the firing notification once, also after waiting
   past the second node's ``--cluster.peer-timeout`` (when it would send a duplicate).
3. After SIGKILL of one replica and of the Alertmanager that notified, a new alert still reaches the receiver
   exactly once (from the surviving Alertmanager, sent by the surviving replica).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from benchmarks.webhook import Delivery, WebhookReceiver
from tests.alertmanager_peer import AlertmanagerNode, running_alertmanager_cluster
from tests.contracts.prometheus_peer import remote_write
from tests.integration.serve import ServeProcess
from tests.waiting import wait_until
from tsdb.labels import Labels

# every wait below has its own deadline; the timeout only stops a hung child process (about 25 s normally)
pytestmark = [pytest.mark.external, pytest.mark.timeout(300)]

PEER_TIMEOUT_S = 2
"""``--cluster.peer-timeout``: the node at position 1 waits this long for position 0 to notify, then sends
itself unless the notification log gossiped to it says the notification went out."""
DUPLICATE_WINDOW_S = PEER_TIMEOUT_S + 3
"""How long after a delivery a duplicate could still come: the peer timeout, then a group_interval tick (1 s)
and slack for the webhook call. "Exactly once" is asserted only after this."""

RULES = """
groups:
  - name: ha
    interval: 1s
    rules:
      - alert: HAFirst
        expr: vector(1)
        labels: {severity: page}
      - alert: HASecond
        expr: ha_trigger > 0
        for: 4s
        labels: {severity: page}
"""
"""``HAFirst`` fires at the first evaluation; ``HASecond`` once ``ha_trigger`` is written and 4 s passed, long
enough to see it pending on both replicas and kill one before it fires."""

def _firing(receiver: WebhookReceiver, alertname: str) -> list[Delivery]:
    """Firing notifications whose group holds ``alertname``."""
    return [d for d in receiver.deliveries() if alertname in d.alertnames]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver()
    try:
        yield r
    finally:
        r.close()


def _am_alert(node: AlertmanagerNode, alertname: str) -> dict[str, Any] | None:
    """The active alert ``alertname`` as ``node`` holds it (merged over all senders), or None; AssertionError
    when ``node`` holds it under several label sets (the replicas' alerts differ: a replica label got through)."""
    alerts = node.get("/api/v2/alerts?active=true&silenced=false&inhibited=false")
    found = [a for a in alerts if a["labels"].get("alertname") == alertname]
    assert len(found) <= 1, f"{alertname} held as {len(found)} alerts: {[a['labels'] for a in found]}"
    return found[0] if found else None


def _sent_by(node: AlertmanagerNode, alertname: str, replica: ServeProcess) -> bool:
    """True when ``node``'s copy of ``alertname`` was last posted by ``replica``: Alertmanager keeps the
    latest-received copy of an alert, and tsdb's generatorURL starts with the replica's external URL."""
    alert = _am_alert(node, alertname)
    return alert is not None and str(alert["generatorURL"]).startswith(replica.url + "/")


def _pending(replica: ServeProcess, alertname: str) -> bool:
    """True when ``replica``'s rule evaluator holds ``alertname`` as pending (``/api/v1/alerts``)."""
    status, body = replica.get("/api/v1/alerts")
    assert status == 200, body
    return any(a["labels"]["alertname"] == alertname and a["state"] == "pending" for a in body["data"]["alerts"])


def test_replicas_and_alertmanager_cluster_notify_once(tmp_path: Path, receiver: WebhookReceiver) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    am_config = tmp_path / "alertmanager.yml"
    # one group per alert name; repeat_interval far past the test so any second delivery is a duplicate
    am_config.write_text(yaml.safe_dump({
        "route": {"receiver": "hook", "group_by": ["alertname"], "group_wait": "1s", "group_interval": "1s",
                  "repeat_interval": "1h"},
        "receivers": [{"name": "hook", "webhook_configs": [{"url": receiver.url}]}]}))

    with running_alertmanager_cluster(tmp_path / "am", am_config, 2, peer_timeout=f"{PEER_TIMEOUT_S}s") as ams, \
            ExitStack() as stack:
        replicas: list[ServeProcess] = []
        # 1. each replica, once started, posts HAFirst to every Alertmanager
        for name in ("a", "b"):
            config = tmp_path / f"tsdb-{name}.yml"
            config.write_text(yaml.safe_dump({
                # a per-replica label, dropped from alerts: Alertmanager merges alerts only when their label
                # sets are identical
                "external_labels": {"cluster": "ha", "replica": name},
                "rules": {"files": [str(rules)], "evaluation_interval": "1s",
                          # no resend within the test: what each Alertmanager holds shows who posted last
                          "resend_delay": "1m",
                          "alertmanagers": [{"url": am.url} for am in ams],
                          "alert_relabel_configs": [{"action": "labeldrop", "regex": "replica"}]}}))
            replica = ServeProcess(tmp_path / f"replica-{name}", "--config", str(config), "--no-collect")
            stack.callback(replica.kill)
            replicas.append(replica)
            for am in ams:
                wait_until(partial(_sent_by, am, "HAFirst", replica), f"HAFirst from replica {name} on {am.url}", 20)
        for am in ams:
            alert = _am_alert(am, "HAFirst")
            assert alert is not None and alert["labels"] == {"alertname": "HAFirst", "severity": "page",
                                                             "cluster": "ha"}

        # 2. one notification for the group, though both nodes hold the alert from both replicas
        first = wait_until(lambda: _firing(receiver, "HAFirst"), "HAFirst notification", 20)[0]
        time.sleep(max(0.0, first.at + DUPLICATE_WINDOW_S - time.monotonic()))
        assert _firing(receiver, "HAFirst") == [first]
        notifier = next(am for am in ams if am.url == first.sender)

        # 3. both replicas see the trigger (HASecond pending), then one replica and the Alertmanager that
        # notified die before it fires
        now_ms = np.array([int(time.time() * 1000)], np.int64)
        for replica in replicas:
            remote_write(replica.url, "/api/v1/write", [(Labels({"__name__": "ha_trigger"}), now_ms, np.array([1.0]))])
        for replica in replicas:
            wait_until(partial(_pending, replica, "HASecond"), f"HASecond pending on {replica.url}", 3)
        dead_replica, survivor = replicas
        dead_replica.kill()
        notifier.kill()
        assert not _firing(receiver, "HASecond"), "HASecond notified before the kills: the test raced"
        surviving_am = next(am for am in ams if am is not notifier)

        second = wait_until(lambda: _firing(receiver, "HASecond"), "HASecond notification after the kills", 20)[0]
        assert second.sender == surviving_am.url
        assert _sent_by(surviving_am, "HASecond", survivor)
        time.sleep(max(0.0, second.at + DUPLICATE_WINDOW_S - time.monotonic()))
        assert _firing(receiver, "HASecond") == [second]
        assert _firing(receiver, "HAFirst") == [first]
        assert survivor.proc.poll() is None and surviving_am.alive()
