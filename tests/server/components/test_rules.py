"""The rule evaluator inside a real server: /api/v1/rules and /api/v1/alerts, reload, and alerts delivered
to a real Alertmanager (Debian's prometheus-alertmanager) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from tests.alertmanager_peer import running_alertmanager
from tsdb.config import ServerConfig
from tsdb.labels import Labels
from tsdb.server.app import Server
from tsdb.server.remote_write import compress_snappy, encode_write_request

RULES = """
groups:
  - name: demo
    interval: 1s
    rules:
      - alert: ValueHigh
        expr: demo_value > 10
        labels: {severity: page}
        annotations: {summary: "value is {{ $value }}"}
      - record: demo:value:max
        expr: max(demo_value)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    with running_alertmanager(tmp_path) as url:
        yield url


async def _write(session: aiohttp.ClientSession, base: str, value: float) -> None:
    ts = np.array([int(time.time() * 1000)], np.int64)
    body = compress_snappy(encode_write_request([(Labels({"__name__": "demo_value", "job": "demo"}), ts,
                                                  np.array([value]))]))
    async with session.post(base + "/api/v1/write", data=body,
                            headers={"Content-Type": "application/x-protobuf"}) as response:
        assert response.status == 204


async def _poll(session: aiohttp.ClientSession, url: str, check: object, seconds: float = 30) -> object:
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        async with session.get(url) as response:
            last = await response.json()
        if check(last):  # type: ignore[operator]
            return last
        await asyncio.sleep(0.3)
    raise AssertionError(f"condition not met within {seconds} s; last answer: {last}")


def test_rules_fire_into_alertmanager_and_resolve(tmp_path: Path, alertmanager: str) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    config = ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          external_labels={"cluster": "test"},
                          rules={"files": [str(rules)], "evaluation_interval": "1s", "resend_delay": "1s",
                                 "alertmanagers": [{"url": alertmanager}]})

    async def scenario() -> None:
        server = Server(config)
        await server.start()
        try:
            base = f"http://127.0.0.1:{server.http_port}"
            async with aiohttp.ClientSession() as session:
                await _write(session, base, 42.0)
                firing = await _poll(session, base + "/api/v1/alerts",
                                     lambda d: d["data"]["alerts"] and d["data"]["alerts"][0]["state"] == "firing")
                alert = firing["data"]["alerts"][0]  # type: ignore[index]
                assert alert["labels"] == {"alertname": "ValueHigh", "job": "demo", "severity": "page"}
                assert alert["annotations"] == {"summary": "value is 42"} and alert["value"] == "4.2e+01"
                received = await _poll(session, alertmanager + "/api/v2/alerts",
                                       lambda d: any(a["labels"].get("alertname") == "ValueHigh" for a in d))
                am_alert = next(a for a in received if a["labels"]["alertname"] == "ValueHigh")  # type: ignore[union-attr]
                assert am_alert["labels"]["cluster"] == "test" and am_alert["status"]["state"] == "active"
                assert am_alert["generatorURL"].startswith(base + "/graph?g0.expr=")
                async with session.get(base + "/api/v1/rules") as response:
                    data = (await response.json())["data"]
                (group,) = data["groups"]
                assert group["name"] == "demo" and group["interval"] == 1
                assert {r["type"] for r in group["rules"]} == {"alerting", "recording"}
                assert set(group["rules"][0]) >= {"state", "name", "query", "duration", "labels", "annotations",
                                                  "alerts", "health", "evaluationTime", "lastEvaluation", "type"}
                # resolve: the value drops; Alertmanager gets the alert with endsAt and stops listing it
                await _write(session, base, 1.0)
                await _poll(session, base + "/api/v1/alerts", lambda d: d["data"]["alerts"] == [])
                await _poll(session, alertmanager + "/api/v2/alerts?active=true",
                            lambda d: not any(a["labels"].get("alertname") == "ValueHigh" for a in d))
                # reload with an extra rule keeps serving
                rules.write_text(RULES + "      - record: demo:extra\n        expr: vector(1)\n")
                async with session.post(base + "/-/reload") as response:
                    assert response.status == 200
                async with session.get(base + "/api/v1/rules", params={"type": "record"}) as response:
                    names = [r["name"] for r in (await response.json())["data"]["groups"][0]["rules"]]
                assert names == ["demo:value:max", "demo:extra"]
                rules.write_text("groups: [{name: x, rules: [{alert: A, expr: 'sum('}]}]")
                async with session.post(base + "/-/reload") as response:
                    assert response.status == 500 and "could not parse" in await response.text()
        finally:
            await server.stop()

    asyncio.run(scenario())
