"""Real remote-write senders with large bodies: every sample they send is stored, none is rejected.

vmagent forwards blocks of hundreds of kilobytes from parallel queues, so batches arrive out of order:
scraping live, tsdb's default out-of-order window absorbs that; replaying half an hour of history, tsdb
runs with a larger window, as docs/ingest.md tells vmagent users who backfill. Prometheus sends
10,000 samples per request with ``max_samples_per_send: 10000``. Both bodies are far larger than one
network read, which is what used to be cut short.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.aiohttp_thread import AiohttpThread
from tests.contracts.prometheus_peer import PrometheusPeer, http_get, http_post
from tests.integration.serve import ServeProcess, free_port
from tests.needs import needs_binary

VMAGENT = shutil.which("vmagent")


def _samples_in_tsdb(server: ServeProcess, selector: str, at_s: float) -> int:
    status, body = server.get("/api/v1/query", query=f"sum(count_over_time({selector}[1h]))", time=f"{at_s:.3f}")
    assert status == 200, body
    result = body["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def _rejected_samples(server: ServeProcess) -> float:
    status, text = server.get("/metrics")
    assert status == 200
    return sum(float(line.rsplit(" ", 1)[1]) for line in str(text).splitlines()
               if line.startswith("tsdb_samples_rejected_total"))


def _wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


@pytest.fixture
def tsdb_ooo(tmp_path: Path) -> Iterator[ServeProcess]:
    server = ServeProcess(tmp_path / "data", "--out-of-order-window", "2h")
    yield server
    server.stop()


@needs_binary("vmagent", package="victoria-metrics")
def test_vmagent_forwards_large_blocks_without_loss(tmp_path: Path, tsdb_ooo: ServeProcess) -> None:
    assert VMAGENT is not None
    port = free_port()
    log_path = tmp_path / "vmagent.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [VMAGENT, f"-httpListenAddr=127.0.0.1:{port}", f"-remoteWrite.url={tsdb_ooo.url}/api/v1/write",
             f"-remoteWrite.tmpDataPath={tmp_path / 'vmagent-queue'}", "-remoteWrite.queues=4",
             "-remoteWrite.flushInterval=1s"],
            stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_for(lambda: _ok(f"http://127.0.0.1:{port}/health"), 30, "vmagent to start")
            series, steps = 1_000, 120
            now_ms = int(time.time() * 1000)
            start_ms = now_ms - steps * 15_000
            rng = random.Random(7)
            for first in range(0, steps, 30):  # four imports of 30,000 lines each
                lines = [f'vm_forwarded{{instance="host-{s}",job="vm"}} {rng.random() * 1e6:.6f} '
                         f"{start_ms + step * 15_000}"
                         for step in range(first, first + 30) for s in range(series)]
                status, text = http_post(f"http://127.0.0.1:{port}/api/v1/import/prometheus",
                                         "\n".join(lines).encode(), {"Content-Type": "text/plain"})
                assert status == 204, text
            expected = series * steps
            at_s = now_ms / 1000
            _wait_for(lambda: _samples_in_tsdb(tsdb_ooo, "vm_forwarded", at_s) >= expected, 90,
                      f"{expected} samples to arrive through vmagent")
            assert _samples_in_tsdb(tsdb_ooo, "vm_forwarded", at_s) == expected
            assert _rejected_samples(tsdb_ooo) == 0
            metrics = http_get(f"http://127.0.0.1:{port}/metrics")[1].decode()
            sent_bytes = _metric_sum(metrics, "vmagent_remotewrite_bytes_sent_total")
            requests = _metric_sum(metrics, "vmagent_remotewrite_requests_total")
            assert requests > 0 and sent_bytes / requests > 64 * 1024, (sent_bytes, requests)
            assert _metric_sum(metrics, "vmagent_remotewrite_packets_dropped_total") == 0
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    assert "rejected" not in log_path.read_text()


@needs_binary("vmagent", package="victoria-metrics")
def test_vmagent_replaying_after_a_restart_loses_nothing_with_the_default_window(tmp_path: Path) -> None:
    assert VMAGENT is not None
    series = 15_000
    target = AiohttpThread(_exposition_app(series))
    server = ServeProcess(tmp_path / "data")
    scrape_config = tmp_path / "scrape.yml"
    scrape_config.write_text(f"""
global: {{scrape_interval: 1s}}
scrape_configs:
  - job_name: gen
    static_configs: [{{targets: ["127.0.0.1:{target.port}"]}}]
""")
    port = free_port()
    log_path = tmp_path / "vmagent.log"
    try:
        with log_path.open("w") as log:
            proc = subprocess.Popen(
                [VMAGENT, f"-httpListenAddr=127.0.0.1:{port}", f"-remoteWrite.url={server.url}/api/v1/write",
                 f"-remoteWrite.tmpDataPath={tmp_path / 'vmagent-queue'}", "-remoteWrite.queues=4",
                 f"-promscrape.config={scrape_config}"],
                stdout=log, stderr=subprocess.STDOUT)
            try:
                _wait_for(lambda: _scrapes_in_tsdb(server) >= 4, 120, "four scrapes to arrive through vmagent")
                server.stop()  # an upgrade: vmagent queues what it scrapes meanwhile and replays it in parallel
                time.sleep(8)
                server.restart()
                _wait_for(lambda: _scrapes_in_tsdb(server) >= 16, 120, "sixteen scrapes to arrive")
                target.close()  # no more scrapes; let vmagent's queues drain
                _wait_for(lambda: _settled(server, series), 60, "every scraped sample to arrive")
            except AssertionError:
                scrapes = _scrapes_in_tsdb(server)
                stored = _samples_in_tsdb(server, 'gen_metric{job="gen"}', time.time())
                raise AssertionError(f"{scrapes} scrapes x {series} series != {stored} samples stored") from None
            finally:
                proc.terminate()
                proc.wait(timeout=30)
        assert _rejected_samples(server) == 0
        assert "rejected" not in log_path.read_text()
    finally:
        target.close()
        server.stop()


def _scrapes_in_tsdb(server: ServeProcess) -> int:
    """Successful scrapes stored: each leaves ``up`` = 1 (a failed one 0)."""
    status, body = server.get("/api/v1/query", query='sum(sum_over_time(up{job="gen"}[1h]))')
    assert status == 200, body
    result = body["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def _settled(server: ServeProcess, series: int) -> bool:
    """Every successful scrape (one ``up`` sample each) has all of its ``series`` samples stored."""
    scrapes = _scrapes_in_tsdb(server)
    return scrapes > 0 and _samples_in_tsdb(server, 'gen_metric{job="gen"}', time.time()) == scrapes * series


def test_prometheus_large_batches_arrive_whole(tmp_path: Path) -> None:
    series = 15_000
    target = AiohttpThread(_exposition_app(series))
    server = ServeProcess(tmp_path / "data")
    config = f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: gen
    static_configs: [{{targets: ["127.0.0.1:{target.port}"]}}]
remote_write:
  - url: {server.url}/api/v1/write
    queue_config: {{max_samples_per_send: 10000, capacity: 20000, max_shards: 4, batch_send_deadline: 1s}}
"""
    try:
        with PrometheusPeer(tmp_path / "prom", config) as prom:
            _wait_for(lambda: _prom_samples(prom, time.time()) >= 8 * series, 120,
                      "Prometheus to scrape eight rounds")
            target.close()  # the target goes away: Prometheus sends its last samples and stale markers
            time.sleep(3)
            at_s = time.time()
            scraped = _prom_samples(prom, at_s)
            assert scraped >= 100_000
            _wait_for(lambda: _samples_in_tsdb(server, "gen_metric", at_s) >= scraped, 90,
                      f"{scraped} samples to arrive from Prometheus")
            assert _samples_in_tsdb(server, "gen_metric", at_s) == scraped
            assert _rejected_samples(server) == 0
            sent = _metric_sum(prom.get("/metrics")[1].decode(),
                               "prometheus_remote_storage_samples_failed_total")
            assert sent == 0
            assert "rejected" not in prom.log_text()
    finally:
        target.close()
        server.stop()


def _prom_samples(prom: PrometheusPeer, at_s: float) -> int:
    status, body = prom.get_json("/api/v1/query", {"query": "sum(count_over_time(gen_metric[1h]))",
                                                   "time": f"{at_s:.3f}"})
    assert status == 200, body
    result = body["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def _exposition_app(series: int) -> web.Application:
    rng = random.Random(3)
    names = [f'gen_metric{{shard="{i % 16}",id="{i}"}}' for i in range(series)]

    async def metrics(request: web.Request) -> web.Response:
        text = "".join(f"{name} {rng.random():.9f}\n" for name in names)
        return web.Response(text="# TYPE gen_metric gauge\n" + text)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    return app


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status) == 200
    except OSError:
        return False


def _metric_sum(text: str, name: str) -> float:
    pattern = re.compile(rf"^{re.escape(name)}(?:{{[^}}]*}})? (\S+)$", re.M)
    return sum(float(m.group(1)) for m in pattern.finditer(text))

