"""Scraping Debian's prometheus-node-exporter on 127.0.0.1: series queryable, /api/v1/targets in
Prometheus's shape, `up == 0` and stale markers when it stops, and the same series set as a real
Prometheus scraping the same exporter."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.contracts.prometheus_peer import PrometheusPeer
from tests.needs import needs_binary, require_binary
from tsdb.config import ServerConfig
from tsdb.server.app import Server

EXPORTER = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
STABLE = '{__name__=~"node_load1|node_memory_MemTotal_bytes|node_cpu_seconds_total"}'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_exporter(port: int) -> subprocess.Popen[bytes]:
    assert EXPORTER is not None
    proc = subprocess.Popen([EXPORTER, f"--web.listen-address=127.0.0.1:{port}", "--collector.disable-defaults",
                             "--collector.cpu", "--collector.meminfo", "--collector.loadavg"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise TimeoutError("node exporter did not start")


@pytest.fixture
def exporter() -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    require_binary("prometheus-node-exporter", "node_exporter", package="prometheus-node-exporter")
    port = _free_port()
    proc = _start_exporter(port)
    try:
        yield port, proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


async def _query(session: aiohttp.ClientSession, base: str, q: str) -> list[dict[str, Any]]:
    async with session.get(base + "/api/v1/query", params={"query": q}) as r:
        return list((await r.json())["data"]["result"])


async def _until(check: Any, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.25)
    raise AssertionError("condition not met in time")


def test_scrape_node_exporter_then_it_goes_away(tmp_path: Path, exporter: tuple[int, subprocess.Popen[bytes]]) -> None:
    port, proc = exporter
    config = ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          scrape={"global": {"scrape_interval": "1s"}, "scrape_configs": [
                              {"job_name": "node", "static_configs": [{"targets": [f"127.0.0.1:{port}"],
                                                                       "labels": {"env": "test"}}],
                               "metric_relabel_configs": [{"source_labels": ["__name__"], "regex": "go_.*",
                                                           "action": "drop"}]}]})

    async def scenario() -> dict[str, Any]:
        server = Server(config)
        await server.start()
        out: dict[str, Any] = {}
        try:
            base = f"http://127.0.0.1:{server.http_port}"
            async with aiohttp.ClientSession() as s:
                out["up"] = await _until(lambda: _query(s, base, 'up{job="node"} == 1'))
                out["load"] = await _until(lambda: _query(s, base, "node_load1"))
                out["go"] = await _query(s, base, '{__name__=~"go_.*"}')
                out["samples"] = await _query(s, base, "scrape_samples_post_metric_relabeling")
                async with s.get(base + "/api/v1/targets") as r:
                    out["targets"] = await r.json()
                proc.kill()
                proc.wait(timeout=10)
                out["down"] = await _until(lambda: _query(s, base, 'up{job="node"} == 0'))
                out["stale"] = await _query(s, base, "node_load1")
                async with s.get(base + "/api/v1/targets") as r:
                    out["targets_down"] = await r.json()
        finally:
            await server.stop()
        return out

    out = asyncio.run(scenario())
    (series,) = out["load"]
    assert series["metric"] == {"__name__": "node_load1", "env": "test", "instance": f"127.0.0.1:{port}",
                                "job": "node"}
    assert out["go"] == [] and float(out["samples"][0]["value"][1]) > 0  # dropped by metric relabeling
    (target,) = out["targets"]["data"]["activeTargets"]
    assert target["health"] == "up" and target["scrapePool"] == "node" and target["lastError"] == ""
    assert target["scrapeUrl"] == f"http://127.0.0.1:{port}/metrics" and target["labels"]["env"] == "test"
    assert set(target) >= {"discoveredLabels", "labels", "scrapePool", "scrapeUrl", "globalUrl", "lastError",
                           "lastScrape", "lastScrapeDuration", "health", "scrapeInterval", "scrapeTimeout"}
    assert out["stale"] == []  # the exporter's series ended with stale markers
    (down,) = out["targets_down"]["data"]["activeTargets"]
    assert down["health"] == "down" and down["lastError"]


@needs_binary("prometheus", package="prometheus")
def test_same_series_as_prometheus(tmp_path: Path, exporter: tuple[int, subprocess.Popen[bytes]]) -> None:
    port, _ = exporter
    job = {"job_name": "node", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
           "relabel_configs": [{"source_labels": ["__address__"], "regex": "(.*):.*", "target_label": "host"}]}
    config = ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          scrape={"global": {"scrape_interval": "1s"}, "scrape_configs": [job]})
    prom_config = ("global: {scrape_interval: 1s}\nscrape_configs:\n"
                   f"  - job_name: node\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
                   "    relabel_configs: [{source_labels: [__address__], regex: '(.*):.*', target_label: host}]\n")

    async def ours() -> list[dict[str, str]]:
        server = Server(config)
        await server.start()
        try:
            base = f"http://127.0.0.1:{server.http_port}"
            async with aiohttp.ClientSession() as s:
                await _until(lambda: _query(s, base, "node_cpu_seconds_total"))
                async with s.get(base + "/api/v1/series", params={"match[]": STABLE}) as r:
                    return list((await r.json())["data"])
        finally:
            await server.stop()

    mine = asyncio.run(ours())
    with PrometheusPeer(tmp_path / "prom", prom_config) as prom:
        deadline = time.monotonic() + 30
        theirs: list[dict[str, str]] = []
        while time.monotonic() < deadline and len(theirs) < len(mine):
            theirs = prom.get_json("/api/v1/series", {"match[]": STABLE})[1]["data"]
            time.sleep(0.5)
    key = lambda s: tuple(sorted(s.items()))  # noqa: E731
    assert sorted(map(key, mine)) == sorted(map(key, theirs))
    assert any(s["__name__"] == "node_load1" and s["host"] == "127.0.0.1" for s in mine)
