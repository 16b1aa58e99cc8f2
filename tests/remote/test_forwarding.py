"""``tsdb serve`` forwarding with ``remote_write`` to real receivers: Debian's Prometheus (2.42, with
``--web.enable-remote-write-receiver``) and VictoriaMetrics, including receiver outages and a kill -9 of tsdb
while the receiver is down. Samples are counted exactly: nothing may be lost or invented."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.contracts import prometheus_peer
from tests.contracts.prometheus_peer import PrometheusPeer, SeriesData, http_get, remote_write
from tests.integration.serve import ServeProcess, free_port
from tests.needs import needs_binary
from tsdb.labels import Labels

pytestmark = pytest.mark.external

VICTORIA = shutil.which("victoria-metrics")


def _wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def _series(name: str, n_series: int, n_samples: int, start_ms: int, step_ms: int = 1000) -> SeriesData:
    ts = np.arange(start_ms, start_ms + n_samples * step_ms, step_ms, dtype=np.int64)
    return [(Labels({"__name__": name, "instance": f"i{s}", "job": "fwd"}), ts,
             np.arange(n_samples, dtype=np.float64) * 1.5 + s) for s in range(n_series)]


def _serve(tmp_path: Path, remote: str, extra: str = "") -> ServeProcess:
    config = tmp_path / "tsdb.yml"
    config.write_text(f"""
remote_write:
  - url: {remote}
    name: peer
    queue_config: {{batch_send_deadline: 200ms, min_backoff: 100ms, max_backoff: 500ms, max_shards: 4,
                    capacity: 2000, max_samples_per_send: 1000}}
{extra}""")
    return ServeProcess(tmp_path / "data", "--config", str(config), "--no-collect")


def _prom_count(peer: PrometheusPeer, selector: str, at_s: float) -> int:
    status, body = peer.get_json("/api/v1/query", {"query": f"sum(count_over_time({selector}[1h]))",
                                                   "time": f"{at_s:.3f}"})
    assert status == 200, body
    result = body["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def _metric(server: ServeProcess, name: str) -> float:
    status, text = server.get("/metrics")
    assert status == 200
    return sum(float(line.rsplit(" ", 1)[1]) for line in str(text).splitlines() if line.startswith(name + "{"))


@pytest.fixture
def now_ms() -> int:
    return int(time.time() * 1000) - 600_000  # ten minutes ago: inside both receivers' accepted range


@needs_binary("prometheus")
def test_forwards_to_prometheus_values_equal(tmp_path: Path, now_ms: int) -> None:
    with PrometheusPeer(tmp_path / "prom") as peer:
        server = _serve(tmp_path, f"{peer.url}/api/v1/write", """
  - url: http://127.0.0.1:9/never/used
    name: subset
    write_relabel_configs: [{source_labels: [instance], regex: i0, action: keep}]
""")
        try:
            data = _series("fwd_metric", 30, 100, now_ms)
            remote_write(server.url, "/api/v1/write", data)
            at = now_ms / 1000 + 200
            _wait_for(lambda: _prom_count(peer, "fwd_metric", at) == 3000, 60, "all samples in Prometheus")
            for labels, ts, values in data[:3]:
                instance = labels.get("instance")
                for k in (0, 57, 99):
                    _, body = peer.get_json("/api/v1/query", {
                        "query": f'fwd_metric{{instance="{instance}"}}', "time": f"{ts[k] / 1000:.3f}"})
                    assert body["data"]["result"][0]["value"][1] == str(values[k]).removesuffix(".0")
            assert _metric(server, "tsdb_remote_write_samples_total") == 3000
            assert _metric(server, "tsdb_remote_write_queue_highest_sent_timestamp_seconds") == \
                pytest.approx((now_ms + 99_000) / 1000)
            # the "subset" remote queues only instance i0 (its receiver is down: nothing is sent)
            _, text = server.get("/metrics")
            assert 'tsdb_remote_write_pending_samples{remote_name="subset",url="http://127.0.0.1:9/never/used"} ' \
                   '100.0' in str(text)
        finally:
            server.stop()


def _start_prometheus(work_dir: Path, port: int, monkeypatch: pytest.MonkeyPatch) -> PrometheusPeer:
    monkeypatch.setattr(prometheus_peer, "free_port", lambda: port)
    return PrometheusPeer(work_dir)


@needs_binary("prometheus")
def test_receiver_outage_and_kill9_lose_nothing(tmp_path: Path, now_ms: int, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    peer = _start_prometheus(tmp_path / "prom", port, monkeypatch)
    server = _serve(tmp_path, f"http://127.0.0.1:{port}/api/v1/write")
    try:
        remote_write(server.url, "/api/v1/write", _series("outage", 10, 50, now_ms))
        at = now_ms / 1000 + 400
        _wait_for(lambda: _prom_count(peer, "outage", at) == 500, 60, "the first samples")
        peer.stop()  # the receiver is down (stopped by PID) while tsdb keeps ingesting
        for part in range(1, 4):
            remote_write(server.url, "/api/v1/write", _series("outage", 10, 50, now_ms + part * 50_000))
        _wait_for(lambda: _metric(server, "tsdb_remote_write_samples_retried_total") > 0, 30, "retries")
        assert _metric(server, "tsdb_remote_write_pending_samples") == 1500
        server.kill()  # kill -9 while the receiver is still down: the queue is on disk
        remote_write_after = _series("outage", 10, 50, now_ms + 200_000)
        server.restart()
        remote_write(server.url, "/api/v1/write", remote_write_after)
        peer = _start_prometheus(tmp_path / "prom", port, monkeypatch)  # the same port and data
        _wait_for(lambda: _prom_count(peer, "outage", at) == 2500, 90, "every queued sample")
        _wait_for(lambda: _metric(server, "tsdb_remote_write_pending_samples") == 0, 30, "an empty queue")
        time.sleep(1)
        assert _prom_count(peer, "outage", at) == 2500
        log = server.log.read_text()
        assert "remote write receiver down" in log
        assert "remote write receiver up" in log
    finally:
        server.stop()
        peer.stop()


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[str]:
    assert VICTORIA is not None
    port = free_port()
    log = (tmp_path / "vm.log").open("w")
    proc = subprocess.Popen([VICTORIA, f"-httpListenAddr=127.0.0.1:{port}",
                             f"-storageDataPath={tmp_path / 'vm-data'}", "-retentionPeriod=100y"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return http_get(url + "/health", timeout_s=2)[0] == 200
        except OSError:
            return False

    try:
        _wait_for(ready, 60, "victoria-metrics to start")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        log.close()


def _vm_export(url: str, selector: str) -> dict[str, list[tuple[int, float]]]:
    http_get(url + "/internal/force_flush")
    status, body = http_get(url + "/api/v1/export?match[]=" + selector)
    assert status == 200, body
    out: dict[str, list[tuple[int, float]]] = {}
    for line in body.decode().splitlines():
        item = json.loads(line)
        key = item["metric"]["instance"]
        out.setdefault(key, []).extend(zip(item["timestamps"], item["values"], strict=True))
    return {k: sorted(v) for k, v in out.items()}


@needs_binary("victoria-metrics")
def test_forwards_a_relabelled_subset_to_victoriametrics(tmp_path: Path, victoria: str, now_ms: int) -> None:
    config = tmp_path / "tsdb.yml"
    config.write_text(f"""
remote_write:
  - url: {victoria}/api/v1/write
    queue_config: {{batch_send_deadline: 200ms, max_samples_per_send: 500}}
    write_relabel_configs:
      - {{source_labels: [instance], regex: 'i[0-4]', action: keep}}
      - {{target_label: forwarded_by, replacement: tsdb}}
""")
    server = ServeProcess(tmp_path / "data", "--config", str(config), "--no-collect")
    try:
        data = _series("vm_fwd", 10, 120, now_ms)
        remote_write(server.url, "/api/v1/write", data)

        def arrived() -> bool:
            return sum(len(v) for v in _vm_export(victoria, "vm_fwd").values()) >= 600

        _wait_for(arrived, 60, "the subset in VictoriaMetrics")
        _wait_for(lambda: _metric(server, "tsdb_remote_write_pending_samples") == 0, 30, "an empty queue")
        exported = _vm_export(victoria, 'vm_fwd{forwarded_by="tsdb"}')
        assert sorted(exported) == [f"i{s}" for s in range(5)]
        for labels, ts, values in data[:5]:
            assert exported[labels.get("instance")] == list(zip(ts.tolist(), values.tolist(), strict=True))
    finally:
        server.stop()
