"""``tsdb serve`` on a full disk and while stopping: remote-write answers 503 while nothing can be written
and accepts again once space returns; SIGTERM during maintenance stops within seconds, and SIGKILL during
that stop loses nothing acknowledged.

The full disk is a low soft ``RLIMIT_FSIZE`` set on the server process from here (``prlimit`` on a process
of the same user needs no privileges): its writes past the limit fail with EFBIG, as with ENOSPC.
"""

from __future__ import annotations

import json
import resource
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from tests.integration.serve import ServeProcess
from tsdb.labels import Labels
from tsdb.server.remote_write import compress_snappy, encode_write_request
from tsdb.storage.block.meta import list_blocks

HEADERS = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
           "X-Prometheus-Remote-Write-Version": "0.1.0"}
HANG_GUARD_S = 20.0
"""Generous bound on a stop: it guards against a hang (Kubernetes kills after 30 s), it is no benchmark."""


def _write(server: ServeProcess, first: int, n_series: int, ts: np.ndarray) -> tuple[int, str]:
    series = [(Labels({"__name__": "maint_test", "instance": f"i-{i:05d}"}), ts, np.cos(ts / 3e3) + i)
              for i in range(first, first + n_series)]
    return server.post("/api/v1/write", compress_snappy(encode_write_request(series)), HEADERS)


def _count(server: ServeProcess, at_ms: int) -> int:
    status, body = server.get("/api/v1/query", query="sum(count_over_time(maint_test[10m]))", time=str(at_ms / 1000))
    assert status == 200, body
    result = body["data"]["result"]
    return int(result[0]["value"][1]) if result else 0


def _set_file_size_limit(pid: int, soft: int | None) -> None:
    """Lower the soft limit of ``pid`` (the disk fills), or raise it to the hard limit (``None``: space returns)."""
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard if soft is None else soft, hard))


def test_remote_write_answers_503_while_the_disk_is_full_and_accepts_after(tmp_path: Path) -> None:
    start = int(time.time() * 1000) // 1000 * 1000 - 600_000
    ts = np.arange(start, start + 60_000, 1000, dtype=np.int64)
    server = ServeProcess(tmp_path / "data")
    try:
        assert _write(server, 0, 10, ts)[0] == 204
        wal = server.data_dir / "wal"
        segment = max((p for p in wal.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
        try:
            _set_file_size_limit(server.proc.pid, segment.stat().st_size + (16 << 10))
        except (PermissionError, OSError) as err:
            pytest.skip(f"cannot lower the server's file size limit: {err}")
        status, text = _write(server, 10, 1000, ts)  # far more than 16 KiB of WAL records
        assert status == 503 and "storage error" in text, (status, text)
        status, metrics = server.get("/metrics")  # reads still work while full
        assert status == 200
        assert 'tsdb_write_requests_total{code="503",protocol="remote_write"} 1.0' in metrics
        assert _count(server, int(ts[-1])) == 10 * len(ts), "the refused batch is not half applied"

        _set_file_size_limit(server.proc.pid, None)
        assert _write(server, 10, 1000, ts)[0] == 204, "the sender's retry is accepted once space returns"
        assert _count(server, int(ts[-1])) == 1010 * len(ts)
        assert server.stop(timeout_s=HANG_GUARD_S) == 0
    finally:
        server.kill()
    restarted = ServeProcess(tmp_path / "data")
    try:
        assert _count(restarted, int(ts[-1])) == 1010 * len(ts)
    finally:
        restarted.kill()


def _wait_for_blocks(server: ServeProcess, more_than: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while len(list_blocks(server.data_dir)) <= more_than:
        assert time.monotonic() < deadline, "maintenance wrote no block"
        assert server.proc.poll() is None, server.log.read_text()[-2000:]
        time.sleep(0.02)


def test_sigterm_during_maintenance_stops_quickly_and_sigkill_during_stop_loses_nothing(tmp_path: Path) -> None:
    config = tmp_path / "tsdb.yml"
    config.write_text("storage:\n  block_range: 10s\n  compaction_interval: 100ms\n  tiers_enabled: false\n")
    data = tmp_path / "data"
    start = (int(time.time() * 1000) - 3_600_000) // 10_000 * 10_000
    ts = np.arange(start, start + 100_000, 250, dtype=np.int64)  # 8 due 10 s head ranges
    n_series = 600
    server = ServeProcess(data, "--config", str(config), "--no-collect")
    try:
        for k in range(0, len(ts), 40):  # in time order: maintenance freezes ranges as they fall due
            assert _write(server, 0, n_series, ts[k:k + 40])[0] == 204
        _wait_for_blocks(server, 0)  # maintenance is writing blocks now
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=HANG_GUARD_S) == 0
        took = time.monotonic() - started
        assert took < HANG_GUARD_S
    finally:
        server.kill()
    logs = [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
    assert any(entry["msg"] == "tsdb stopped" for entry in logs)

    for delay_s in (0.0, 0.003):  # SIGKILL while the stop (and the resumed head persistence) runs:
        # a stop takes milliseconds now, so the kill follows the SIGTERM at once
        server.restart()  # maintenance persists the rest of the head again after the WAL replay
        try:
            assert _count(server, int(ts[-1])) == n_series * len(ts), "nothing acknowledged is lost"
            server.proc.send_signal(signal.SIGTERM)
            time.sleep(delay_s)
            server.proc.kill()
            server.proc.wait(timeout=30)
        finally:
            server.kill()

    server.restart()
    try:
        assert _count(server, int(ts[-1])) == n_series * len(ts), "nothing acknowledged is lost"
        assert server.stop(timeout_s=HANG_GUARD_S) == 0
    finally:
        server.kill()
