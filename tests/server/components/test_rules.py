"""The rule evaluator inside a real server: /api/v1/rules and /api/v1/alerts, reload, alerts delivered to a
real Alertmanager (Debian's prometheus-alertmanager) on 127.0.0.1, alert relabelling applied alike to the
built-in notification system and to Alertmanagers, and the notifier's metrics on /metrics."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from aiohttp import web

from tests.aiohttp_thread import AiohttpThread
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
                          web_enable_lifecycle=True,
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
                alerting = next(r for r in group["rules"] if r["type"] == "alerting")
                assert len(alerting["alerts"]) == 1
                # exclude_alerts (Prometheus): the rules without their alerts; a bad boolean is bad_data
                async with session.get(base + "/api/v1/rules", params={"exclude_alerts": "true"}) as response:
                    lean = (await response.json())["data"]["groups"][0]["rules"]
                assert next(r for r in lean if r["type"] == "alerting")["alerts"] is None
                assert next(r for r in lean if r["type"] == "alerting")["state"] == "firing"
                async with session.get(base + "/api/v1/rules", params={"exclude_alerts": "yes"}) as response:
                    assert response.status == 400 and (await response.json())["errorType"] == "bad_data"
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


def test_rules_component_reload(tmp_path: Path) -> None:
    """Rule files named only on reload start the evaluator; new files, interval and Alertmanagers apply
    (unchanged rules keep their state); a bad file raises in phase 1 and changes nothing."""
    from tests.server.components.context import server_context, with_sections
    from tsdb.errors import ConfigError
    from tsdb.server.components import rules

    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(RULES)

    async def scenario() -> None:
        with server_context(tmp_path) as context:
            component = rules.build(context)
            await component.start()
            try:
                assert component.manager is None and context.backend.rules_status is None
                plan = await component.prepare_reload(with_sections(context, rules={"files": [str(rules_file)]}))
                assert component.manager is None  # not before apply
                await plan.apply()
                manager = component.manager
                assert manager is not None and manager._thread is not None  # evaluating
                assert context.backend.rules_status is not None
                assert [r.rule.name for r in manager.groups[0].rules] == ["ValueHigh", "demo:value:max"]
                kept = manager.groups[0].rules[0]

                rules_file.write_text(RULES + "      - record: demo:extra\n        expr: vector(1)\n")
                section = {"files": [str(rules_file)], "evaluation_interval": "5s",
                           "alertmanagers": ["http://127.0.0.1:9/"]}
                await (await component.prepare_reload(with_sections(context, rules=section))).apply()
                assert component.manager is manager and manager.interval_ms == 5000
                assert [r.rule.name for r in manager.groups[0].rules][-1] == "demo:extra"
                assert manager.groups[0].rules[0] is kept  # unchanged rule keeps its state
                assert component.am.urls == ["http://127.0.0.1:9"] and component.am in manager.notifiers

                rules_file.write_text("groups: [{name: x, rules: [{alert: A, expr: 'sum('}]}]")
                with pytest.raises(ConfigError):
                    await component.prepare_reload(with_sections(context, rules=section))
                with pytest.raises(ConfigError):
                    await component.prepare_reload(with_sections(context, rules={"evaluation_interval": "0s"}))
                assert [r.rule.name for r in manager.groups[0].rules][-1] == "demo:extra"

                await (await component.prepare_reload(with_sections(context, rules={}))).apply()
                assert manager.groups == [] and component.am.urls == [] and component.am not in manager.notifiers
            finally:
                await component.stop()

    asyncio.run(scenario())


def test_reload_applies_alert_relabel_configs(tmp_path: Path) -> None:
    """A reload hands new alert relabelling to the running manager; a bad one is refused naming the key and
    changes nothing."""
    from tests.server.components.context import server_context, with_sections
    from tsdb.errors import ConfigError
    from tsdb.server.components import rules

    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(RULES)
    labeldrop = [{"action": "labeldrop", "regex": "replica"}]

    async def scenario() -> None:
        with server_context(tmp_path, rules={"files": [str(rules_file)], "alert_relabel_configs": labeldrop}) \
                as context:
            component = rules.build(context)
            await component.start()
            try:
                manager = component.manager
                assert manager is not None and [r.action for r in manager.alert_relabel] == ["labeldrop"]
                section = {"files": [str(rules_file)],
                           "alert_relabel_configs": [{"action": "drop", "source_labels": ["severity"],
                                                      "regex": "page"}]}
                await (await component.prepare_reload(with_sections(context, rules=section))).apply()
                assert component.manager is manager and [r.action for r in manager.alert_relabel] == ["drop"]
                bad = {"files": [str(rules_file)], "alert_relabel_configs": [{"action": "nope"}]}
                with pytest.raises(ConfigError, match=r"^rules\.alert_relabel_configs\[0\]\.action: "):
                    await component.prepare_reload(with_sections(context, rules=bad))
                assert [r.action for r in manager.alert_relabel] == ["drop"]
                await (await component.prepare_reload(with_sections(context, rules={"files": [str(rules_file)]}))
                       ).apply()
                assert manager.alert_relabel == ()
            finally:
                await component.stop()

    asyncio.run(scenario())


class _PushReceiver:
    """An Alertmanager API v2 push endpoint on 127.0.0.1 keeping the label sets it was sent."""

    def __init__(self) -> None:
        self.labels: list[dict[str, str]] = []

        async def push(request: web.Request) -> web.Response:
            self.labels.extend(a["labels"] for a in await request.json())
            return web.json_response({})

        app = web.Application()
        app.router.add_post("/api/v2/alerts", push)
        self.thread = AiohttpThread(app)


def test_relabelled_alerts_reach_both_notifiers_and_metrics_are_exposed(tmp_path: Path) -> None:
    receiver = _PushReceiver()
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    with_password = receiver.thread.url.replace("http://", "http://tsdb:pa55word@")
    config = ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          external_labels={"cluster": "test", "replica": "a"},
                          rules={"files": [str(rules)], "evaluation_interval": "1s", "resend_delay": "1s",
                                 "alertmanagers": [{"url": with_password}],
                                 "alert_relabel_configs": [{"action": "labeldrop", "regex": "replica"}]})
    expected = {"alertname": "ValueHigh", "job": "demo", "severity": "page", "cluster": "test"}

    async def scenario() -> None:
        server = Server(config)
        await server.start()
        try:
            base = f"http://127.0.0.1:{server.http_port}"
            async with aiohttp.ClientSession() as session:
                await _write(session, base, 42.0)
                # the built-in notification system (its Alertmanager API) holds the relabelled alert ...
                built_in = await _poll(session, base + "/api/v2/alerts", lambda d: bool(d))
                assert [a["labels"] for a in built_in] == [expected]  # type: ignore[union-attr]
                # ... and so does the external one
                deadline = time.monotonic() + 10
                while not receiver.labels and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                assert receiver.labels and all(lb == expected for lb in receiver.labels)
                async with session.get(base + "/metrics") as response:
                    text = await response.text()
        finally:
            await server.stop()
            receiver.thread.close()
        label = f'alertmanager="{receiver.thread.url}"'
        sent = [line for line in text.splitlines() if line.startswith("tsdb_notifications_sent_total{")]
        assert len(sent) == 1 and label in sent[0] and float(sent[0].split()[-1]) >= 1
        assert f"tsdb_notifications_errors_total{{{label}}} 0.0" in text
        assert "tsdb_notifications_dropped_total 0.0" in text
        assert "tsdb_notifications_queue_length " in text and "tsdb_notifications_queue_capacity 10000.0" in text
        assert "pa55word" not in text

    asyncio.run(scenario())
