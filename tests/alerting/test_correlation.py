"""Correlation into incidents and flap detection, as dispatcher hooks; and end to end through a server."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from tests.alerting.receivers.test_channels import Endpoint, _serve
from tsdb.alerting.correlation import Correlator
from tsdb.alerting.flapping import FlapDetector
from tsdb.alerting.model import Alert, Notification
from tsdb.config import ServerConfig
from tsdb.server.app import Server

T = 1_000_000.0


def _a(start: float, ends: float | None = None, **labels: str) -> Alert:
    return Alert(labels, {}, start, ends, "", start)


def test_incidents_window_topology_and_root_cause() -> None:
    c = Correlator(window_s=300, labels=("cluster", "instance"))
    node = _a(T + 10, alertname="HighLatency", cluster="eu", instance="web1")
    cluster = _a(T, alertname="ClusterDown", cluster="eu")
    other = _a(T + 20, alertname="Disk", cluster="us", instance="db9")
    late = _a(T + 1000, alertname="Late", cluster="eu", instance="web2")
    c.on_alerts([node, cluster, other], T + 20)
    c.on_alerts([late], T + 1000)
    data = c.data(T + 1000)
    by_root = {d["rootCause"]["alertname"]: d for d in data}
    assert set(by_root) == {"ClusterDown", "Disk", "Late"}  # eu alerts joined; us apart; late: new incident
    assert len(by_root["ClusterDown"]["alerts"]) == 2  # the cluster-wide alert explains the instance one
    n = Notification("r", "k", {}, [node], "firing", T + 30)
    assert c.before_send(n).extras["incident"]["root_cause"]["alertname"] == "ClusterDown"  # type: ignore[union-attr]
    c.on_alerts([_a(T, T + 50, alertname="ClusterDown", cluster="eu"),
                 _a(T + 10, T + 50, alertname="HighLatency", cluster="eu", instance="web1")], T + 60)
    assert {d["rootCause"]["alertname"]: d["status"] for d in c.data(T + 60)}["ClusterDown"] == "resolved"


def test_flapping_is_summarised() -> None:
    f = FlapDetector(changes=2, window_s=600)
    now = T
    for i in range(4):  # firing, resolved, firing, resolved...
        f.on_alerts([_a(T, None if i % 2 == 0 else now, alertname="Flappy")], now)
        now += 60
    flappy = _a(T, None, alertname="Flappy")
    assert f.flapping(flappy.fingerprint, now)
    assert f.before_send(Notification("r", "g", {}, [flappy], "firing", now)) is None
    steady = _a(T, None, alertname="Steady")
    out = f.before_send(Notification("r", "g", {}, [flappy, steady], "firing", now))
    assert out is not None and out.extras["flapping"]["suppressed_notifications"] == 1
    assert not f.flapping(flappy.fingerprint, now + 3600)  # calm again after the window


def test_related_alerts_arrive_as_one_incident(tmp_path: Path) -> None:
    hook = Endpoint()

    async def scenario() -> list[object]:
        runner, url = await _serve(hook)
        config = ServerConfig(data_dir=str(tmp_path / "d"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                              notifications={
                                  "config": {"route": {"receiver": "w", "group_by": ["cluster"], "group_wait": "1s"},
                                             "receivers": [{"name": "w", "webhook_configs": [{"url": url}]}]},
                                  "correlation": {"window": "5m", "labels": ["cluster", "instance"]}})
        server = Server(config)
        await server.start()
        try:
            import aiohttp

            base = f"http://127.0.0.1:{server.http_port}"
            alerts = [{"labels": {"alertname": "ClusterDown", "cluster": "eu"}},
                      {"labels": {"alertname": "HighLatency", "cluster": "eu", "instance": "web1"}},
                      {"labels": {"alertname": "Errors", "cluster": "eu", "instance": "web2"}}]
            async with aiohttp.ClientSession() as session:
                async with session.post(base + "/api/v2/alerts", json=alerts) as r:
                    assert r.status == 200
                deadline = time.monotonic() + 20
                while not hook.requests and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                await asyncio.sleep(0.5)
                async with session.get(base + "/api/v1/incidents") as r:
                    return list((await r.json())["data"])
        finally:
            await server.stop()
            await runner.cleanup()

    incidents = asyncio.run(scenario())
    assert len(hook.requests) == 1
    body = json.loads(hook.requests[0]["body"])
    assert len(body["alerts"]) == 3
    incident = body["tsdb"]["incident"]
    assert incident["members"] == 3 and incident["root_cause"]["alertname"] == "ClusterDown"
    assert len(incidents) == 1 and incidents[0]["rootCause"]["alertname"] == "ClusterDown"  # type: ignore[index]


def test_history_is_bounded(monkeypatch: object) -> None:
    """Ever new alerts (a long-running server) do not grow memory without bound: incidents past the kept
    history let go of their alerts, and resolved alerts quiet for a flapping window are forgotten."""
    import tsdb.alerting.correlation as correlation
    monkeypatch.setattr(correlation, "MAX_INCIDENTS", 3)  # type: ignore[attr-defined]
    c = Correlator(window_s=60, labels=("instance",))
    f = FlapDetector(changes=2, window_s=600)
    for i in range(10):  # unrelated alerts far apart: one incident each, then resolved
        now = T + i * 1000
        alert = _a(now, None, alertname="Once", instance=f"i{i}")
        c.on_alerts([alert], now)
        f.on_alerts([alert], now)
        gone = _a(now, now + 10, alertname="Once", instance=f"i{i}")
        c.on_alerts([gone], now + 10)
        f.on_alerts([gone], now + 10)
    assert len(c.incidents) == 3 and len(c._of) == 3
    assert f.tracked() <= 2  # the last ones, still within a window
    steady = _a(T, None, alertname="Steady")
    f.on_alerts([steady], T + 20_000)
    f.prune(T + 50_000)
    assert f.tracked() == 1  # a firing alert is kept however long ago it was seen
