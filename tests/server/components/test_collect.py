"""Built-in host and self metrics: names and labels as node-exporter's, values agreeing with /proc, and
a fresh `tsdb serve` showing node_* and tsdb_* series."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.integration.serve import ServeProcess
from tests.needs import needs_binary
from tsdb.scrape.host import collect_host

EXPORTER = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")


def test_values_agree_with_proc() -> None:
    samples = {(lb["__name__"], tuple(sorted(lb.items()))): v for lb, v in collect_host()}
    names = {name for name, _ in samples}
    assert {"node_cpu_seconds_total", "node_memory_MemTotal_bytes", "node_load1", "node_boot_time_seconds",
            "node_network_receive_bytes_total", "node_uname_info"} <= names
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    total_kb = int(meminfo["MemTotal"].split()[0])
    (mem,) = [v for (n, _), v in samples.items() if n == "node_memory_MemTotal_bytes"]
    assert mem == total_kb * 1024
    load1 = next(v for (n, _), v in samples.items() if n == "node_load1")
    assert abs(load1 - os.getloadavg()[0]) < 1.0


@needs_binary("prometheus-node-exporter", "node_exporter", package="prometheus-node-exporter")
def test_names_and_labels_match_node_exporter() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert EXPORTER is not None
    proc = subprocess.Popen([EXPORTER, f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        text = ""
        while time.monotonic() < deadline and not text:
            try:
                text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            except OSError:
                time.sleep(0.2)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    from prometheus_client.parser import text_string_to_metric_families

    theirs: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            theirs.setdefault(s.name, set()).update(s.labels)
    ours: dict[str, set[str]] = {}
    for labels, _ in collect_host():
        ours.setdefault(labels["__name__"], set()).update(k for k in labels if k != "__name__")
    common = set(ours) & set(theirs)
    assert {"node_cpu_seconds_total", "node_load1", "node_memory_MemTotal_bytes", "node_boot_time_seconds"} <= common
    for name in common:
        assert ours[name] <= theirs[name], (name, ours[name], theirs[name])


def test_fresh_serve_has_host_and_self_metrics(tmp_path: Path) -> None:
    config = tmp_path / "tsdb.yml"
    config.write_text("collect: {host: true, self: true, interval: 1s}\n")
    server = ServeProcess(tmp_path / "data", "--config", str(config))
    try:
        deadline = time.monotonic() + 30
        found: dict[str, int] = {}
        while time.monotonic() < deadline and len(found) < 3:
            for q in ("node_load1", 'tsdb_samples_appended_total{job="tsdb"}', "tsdb_collector_duration_seconds_count"):
                status, body = server.get("/api/v1/query", query=q)
                if status == 200 and body["data"]["result"]:
                    found[q] = len(body["data"]["result"])
            time.sleep(0.3)
        assert len(found) == 3, found
        # the collector's own appends are counted as stored samples, as every writer's are
        deadline = time.monotonic() + 10
        stored = 0.0
        while time.monotonic() < deadline and stored <= 0:
            _, body = server.get("/api/v1/query", query='max(tsdb_samples_appended_total{job="tsdb"})')
            stored = float(body["data"]["result"][0]["value"][1]) if body["data"]["result"] else 0.0
            time.sleep(0.3)
        assert stored > 0, "tsdb_samples_appended_total stays 0 while the collector stores samples"
        # like a Prometheus scrape: up and scrape_* per built-in job, host metrics under their own job
        _, body = server.get("/api/v1/query", query="up")
        assert {(r["metric"]["job"], r["value"][1]) for r in body["data"]["result"]} == {("tsdb-host", "1"),
                                                                                          ("tsdb", "1")}
        _, body = server.get("/api/v1/query", query="scrape_samples_scraped > 10")
        assert {r["metric"]["job"] for r in body["data"]["result"]} == {"tsdb-host", "tsdb"}
        _, body = server.get("/api/v1/query", query="count by (job) (node_load1)")
        assert [r["metric"] for r in body["data"]["result"]] == [{"job": "tsdb-host"}]
        # metadata of both built-in collections, as a scrape would give it
        _, body = server.get("/api/v1/metadata")
        assert body["data"]["tsdb_head_series"] == [{"type": "gauge", "help": "Series in the head.", "unit": ""}]
        assert body["data"]["node_cpu_seconds_total"][0]["type"] == "counter"
        assert body["data"]["tsdb_samples_appended_total"][0]["type"] == "counter"
        assert body["data"]["up"][0]["type"] == "gauge"
    finally:
        server.stop()


def test_collect_component_reload(tmp_path: Path) -> None:
    """Off at start-up, turned on by a reload (samples appear), interval and switches re-applied, turned off
    again; a bad section raises and changes nothing."""
    import asyncio

    from tests.server.components.context import server_context, with_sections
    from tsdb.errors import ConfigError
    from tsdb.server.components import collect

    async def scenario() -> None:
        with server_context(tmp_path) as context:
            component = collect.build(context)
            await component.start()
            try:
                assert not component.enabled and b"tsdb_collector_duration" not in context.metrics.exposition()

                def count(query: str) -> int:
                    return len(context.query(query, int(time.time() * 1000)).labels)

                on = {"self": True, "interval": "200ms"}
                await (await component.prepare_reload(with_sections(context, collect=on))).apply()
                assert component.interval_s == 0.2
                deadline = time.monotonic() + 20
                while not count('tsdb_head_series{job="tsdb"}'):
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.1)
                assert count("node_load1") == 0  # host is still off
                task = component._task
                same = await component.prepare_reload(with_sections(context, collect=on))
                assert not same.changed
                await (await component.prepare_reload(with_sections(context, collect={**on, "host": True}))).apply()
                assert component._task is task  # same interval: the loop goes on and reads the switches
                deadline = time.monotonic() + 20
                while not count("node_load1"):
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.1)
                for bad in ({"interval": "soon"}, {"hosts": True}):
                    with pytest.raises(ConfigError):
                        await component.prepare_reload(with_sections(context, collect=bad))
                assert component.host and component.interval_s == 0.2
                await (await component.prepare_reload(with_sections(context, collect={"interval": "1s"}))).apply()
                assert not component.enabled and component._task is None
            finally:
                await component.stop()

    asyncio.run(scenario())
