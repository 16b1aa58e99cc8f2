"""Metric metadata against a real Prometheus: a node exporter is scraped by Prometheus and by tsdb, and
Prometheus also remote-writes (with its metadata) to a second tsdb. ``/api/v1/metadata`` and
``/api/v1/targets/metadata`` of both tsdb servers answer what Prometheus answers for the same exporter."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.contracts.prometheus_peer import PrometheusPeer
from tests.integration.serve import ServeProcess
from tests.needs import needs_binary
from tests.scrape.test_node_exporter import exporter  # noqa: F401  (fixture)
from tsdb.config import ServerConfig
from tsdb.server.app import Server

pytestmark = [pytest.mark.external, needs_binary("prometheus", package="prometheus")]

METRICS = ("node_load1", "node_cpu_seconds_total", "node_memory_MemTotal_bytes")


def _until(check: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_metadata_as_prometheus_reports_it(tmp_path: Path, exporter: tuple[int, Any]) -> None:  # noqa: F811
    port, _ = exporter
    receiver = ServeProcess(tmp_path / "receiver")
    prom_config = (f"global: {{scrape_interval: 1s}}\nscrape_configs:\n"
                   f"  - job_name: node\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
                   f"remote_write:\n  - url: {receiver.url}/api/v1/write\n"
                   "    metadata_config: {send: true, send_interval: 1s}\n")
    config = ServerConfig(data_dir=str(tmp_path / "scraper"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          scrape={"global": {"scrape_interval": "1s"}, "scrape_configs": [
                              {"job_name": "node", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}]})

    async def scraped() -> dict[str, Any]:
        server = Server(config)
        await server.start()
        out: dict[str, Any] = {}
        try:
            base = f"http://127.0.0.1:{server.http_port}/api/v1/"
            async with aiohttp.ClientSession() as session:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and not out.get("metadata"):
                    async with session.get(base + "metadata", params={"metric": "node_load1"}) as r:
                        out["metadata"] = (await r.json())["data"]
                    await asyncio.sleep(0.25)
                async with session.get(base + "metadata") as r:
                    out["all"] = (await r.json())["data"]
                async with session.get(base + "metadata", params={"limit": "2", "limit_per_metric": "1"}) as r:
                    out["limited"] = (await r.json())["data"]
                async with session.get(base + "targets/metadata",
                                       params={"match_target": '{job="node"}', "metric": "node_load1"}) as r:
                    out["targets"] = (await r.json())["data"]
                async with session.get(base + "targets/metadata", params={"match_target": '{job="other"}'}) as r:
                    out["no_targets"] = (await r.json())["data"]
        finally:
            await server.stop()
        return out

    try:
        ours = asyncio.run(scraped())
        with PrometheusPeer(tmp_path / "prom", prom_config) as prom:
            theirs = {m: _until(lambda m=m: prom.get_json("/api/v1/metadata", {"metric": m})[1]["data"], 30,
                                f"Prometheus metadata of {m}") for m in METRICS}
            their_targets = prom.get_json("/api/v1/targets/metadata",
                                          {"match_target": '{job="node"}', "metric": "node_load1"})[1]["data"]
            received = {m: _until(lambda m=m: receiver.get("/api/v1/metadata", metric=m)[1]["data"], 30,
                                  f"remote-written metadata of {m}") for m in METRICS}
    finally:
        receiver.stop()

    for metric in METRICS:
        assert ours["all"][metric] == theirs[metric][metric], metric
        assert received[metric] == theirs[metric], metric
    assert ours["metadata"] == theirs["node_load1"]
    assert theirs["node_cpu_seconds_total"]["node_cpu_seconds_total"][0]["type"] == "counter"
    assert len(ours["limited"]) == 2 and all(len(v) == 1 for v in ours["limited"].values())
    # same target labels and entry (Prometheus leaves "metric" out when one metric is asked for)
    assert ours["targets"] == their_targets and ours["no_targets"] == []
