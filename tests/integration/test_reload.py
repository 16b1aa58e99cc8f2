"""Configuration reload of a real ``tsdb serve --config F``: rules, notification receivers (real webhook
receivers on 127.0.0.1), scrape targets and collect settings change on SIGHUP and ``POST /-/reload``; an
invalid file keeps the old configuration running and is reported (500, the gauge at 0, a log line), and
a fixed file recovers (the gauge back at 1)."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from tests.aiohttp_thread import AiohttpThread
from tests.integration.serve import ServeProcess
from tests.waiting import wait_until


class Peers:
    """A webhook receiver (``/a``, ``/b``, ``/c`` record the alert names they get) and a scrape target."""

    def __init__(self) -> None:
        self.received: dict[str, list[str]] = {"a": [], "b": [], "c": []}

        async def hook(request: web.Request) -> web.Response:
            body = await request.json()
            self.received[request.match_info["name"]].extend(a["labels"]["alertname"] for a in body["alerts"])
            return web.Response(text="ok")

        async def metrics(request: web.Request) -> web.Response:
            return web.Response(text="# TYPE reload_probe gauge\nreload_probe 7\n")

        app = web.Application()
        app.router.add_post("/{name}", hook)
        app.router.add_get("/metrics", metrics)
        self.thread = AiohttpThread(app)
        self.url = self.thread.url
        self.address = f"127.0.0.1:{self.thread.port}"


@pytest.fixture
def peers() -> Iterator[Peers]:
    p = Peers()
    try:
        yield p
    finally:
        p.thread.close()


def _config(rules: Path, peers: Peers, receiver: str, scrape: bool, collect_self: bool) -> str:
    return yaml.safe_dump({
        "rules": {"files": [str(rules)], "evaluation_interval": "1s"},
        "notifications": {"config": {
            "route": {"receiver": receiver, "group_wait": "0s", "group_interval": "1s", "repeat_interval": "1h"},
            "receivers": [{"name": n, "webhook_configs": [{"url": f"{peers.url}/{n}"}]} for n in ("a", "b", "c")]}},
        "scrape": {"scrape_configs": [{"job_name": "probe", "scrape_interval": "1s", "scrape_timeout": "1s",
                                       "static_configs": [{"targets": [peers.address] if scrape else []}]}]},
        "collect": {"self": collect_self, "host": False, "interval": "1s"},
    })


RULES = "groups: [{name: g, interval: 1s, rules: [{alert: First, expr: vector(1)}]}]\n"
RULES_2 = ("groups: [{name: g, interval: 1s, rules: [{alert: First, expr: vector(1)}, "
           "{record: 'reload:probe', expr: vector(3)}]}]\n")


def _reload_gauges(server: ServeProcess) -> tuple[float, float]:
    status, text = server.get("/metrics")
    assert status == 200
    values = {line.split()[0]: float(line.split()[1]) for line in str(text).splitlines()
              if line.startswith("tsdb_config_last_reload")}
    return values["tsdb_config_last_reload_successful"], values["tsdb_config_last_reload_success_timestamp_seconds"]


def _rule_names(server: ServeProcess) -> list[str]:
    status, body = server.get("/api/v1/rules")
    assert status == 200
    return [r["name"] for g in body["data"]["groups"] for r in g["rules"]]


def _series(server: ServeProcess, query: str) -> int:
    status, body = server.get("/api/v1/query", query=query)
    assert status == 200, body
    return len(body["data"]["result"])


def _active_targets(server: ServeProcess) -> int:
    status, body = server.get("/api/v1/targets")
    assert status == 200
    return len(body["data"]["activeTargets"])


def _logged(server: ServeProcess, msg: str) -> list[dict[str, Any]]:
    out = []
    for line in server.log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("msg") == msg:
            out.append(entry)
    return out


def test_reload_applies_to_every_component(tmp_path: Path, peers: Peers) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    config = tmp_path / "tsdb.yml"
    config.write_text(_config(rules, peers, "a", scrape=False, collect_self=False))
    server = ServeProcess(tmp_path / "data", "--config", str(config), "--web.enable-lifecycle")
    try:
        ok, started = _reload_gauges(server)
        assert ok == 1 and started > 0
        wait_until(lambda: "First" in peers.received["a"], "alert delivered to receiver a")
        assert _rule_names(server) == ["First"] and _active_targets(server) == 0
        assert _series(server, 'tsdb_head_series{job="tsdb"}') == 0

        # 1. SIGHUP: a new rule, receiver b, a scrape target, self metrics on
        rules.write_text(RULES_2)
        config.write_text(_config(rules, peers, "b", scrape=True, collect_self=True))
        server.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: _rule_names(server) == ["First", "reload:probe"], "new rule loaded")
        wait_until(lambda: "First" in peers.received["b"], "alert delivered to the new receiver b")
        wait_until(lambda: _active_targets(server) == 1, "scrape target active")
        wait_until(lambda: _series(server, 'reload_probe{job="probe"}'), "target scraped")
        wait_until(lambda: _series(server, 'tsdb_head_series{job="tsdb"}'), "self metrics collected")
        wait_until(lambda: _series(server, "reload:probe"), "new recording rule evaluated")
        ok, at = _reload_gauges(server)
        assert ok == 1 and at >= started
        assert _logged(server, "configuration reloaded")

        # 2. an invalid file (a bad rule next to other good changes): 500, nothing changes, reported
        rules.write_text("groups: [{name: g, rules: [{alert: Bad, expr: 'sum('}]}]\n")
        config.write_text(_config(rules, peers, "a", scrape=False, collect_self=False))
        status, text = server.post("/-/reload", b"", {})
        assert status == 500 and "failed to reload config" in text and "sum(" in text
        assert _reload_gauges(server) == (0, at)
        failed = _logged(server, "reload failed")
        assert failed and failed[-1]["level"] == "error" and "sum(" in failed[-1]["error"]
        assert _rule_names(server) == ["First", "reload:probe"] and _active_targets(server) == 1
        # SIGHUP with the same bad file: also refused, the server keeps running
        server.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: len(_logged(server, "reload failed")) >= 2, "second failure logged")
        assert server.proc.poll() is None and _reload_gauges(server)[0] == 0
        # an unparsable config file itself
        config.write_text("rules: [unclosed\n")
        status, text = server.post("/-/reload", b"", {})
        assert status == 500 and "invalid YAML" in text
        assert _rule_names(server) == ["First", "reload:probe"]

        # 3. a fixed file recovers: receiver c, target and self metrics off, rule removed
        rules.write_text(RULES)
        config.write_text(_config(rules, peers, "c", scrape=False, collect_self=False))
        status, text = server.post("/-/reload", b"", {})
        assert status == 200, text
        ok, recovered = _reload_gauges(server)
        assert ok == 1 and recovered >= at
        assert _rule_names(server) == ["First"] and _active_targets(server) == 0
        wait_until(lambda: "First" in peers.received["c"], "alert delivered to the new receiver c")
        # collection stopped: no new self samples after a few intervals
        time.sleep(1.5)
        status, body = server.get("/api/v1/query", query='timestamp(tsdb_head_series{job="tsdb"})')
        last = float(body["data"]["result"][0]["value"][1])
        time.sleep(2.5)
        status, body = server.get("/api/v1/query", query='timestamp(tsdb_head_series{job="tsdb"})')
        assert float(body["data"]["result"][0]["value"][1]) == last
    finally:
        assert server.stop() == 0


def test_reload_keeps_command_line_flags(tmp_path: Path) -> None:
    """Flags win over the file on reload as at start-up (``--no-collect`` stays in force), and a change to a
    restart-only setting is logged, not applied."""
    config = tmp_path / "tsdb.yml"
    config.write_text("collect: {self: true, interval: 1s}\n")
    server = ServeProcess(tmp_path / "data", "--config", str(config), "--no-collect",
                          "--web.enable-lifecycle")
    try:
        config.write_text("collect: {self: true, interval: 1s}\nmax_body_bytes: 1000\n")
        status, text = server.post("/-/reload", b"", {})
        assert status == 200, text
        warning = _logged(server, "configuration changes need a restart")
        assert warning and warning[-1]["fields"] == "max_body_bytes"
        time.sleep(2.5)
        assert _series(server, 'tsdb_head_series{job="tsdb"}') == 0
        assert _reload_gauges(server)[0] == 1
    finally:
        assert server.stop() == 0


def test_quit_over_http_stops_the_server_gracefully(tmp_path: Path) -> None:
    """``POST /-/quit`` (lifecycle on) answers as Prometheus and the process exits 0; off, it is refused."""
    server = ServeProcess(tmp_path / "data", "--no-collect")
    try:
        assert server.post("/-/quit", b"", {}) == (403, "Lifecycle API is not enabled.")
        assert server.proc.poll() is None
    finally:
        assert server.stop() == 0
    server = ServeProcess(tmp_path / "data", "--no-collect", "--web.enable-lifecycle")
    try:
        assert server.post("/-/quit", b"", {}) == (200, "Requesting termination... Goodbye!")
        assert server.proc.wait(timeout=60) == 0
        assert _logged(server, "termination requested over HTTP")
    finally:
        server.stop()
