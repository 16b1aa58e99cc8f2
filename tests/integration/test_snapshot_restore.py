"""Backup and restore as docs/backup.md tells users: snapshot a running ``tsdb serve`` with ``tsdb snapshot``,
copy the snapshot, ``tsdb serve --data-dir <copy>``, and every sample is back (head samples too, unless the
snapshot skipped the head). promtool 2.42 reads the snapshot's blocks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from tests.integration.serve import ROOT, ServeProcess
from tests.needs import find_binary
from tsdb.labels import Labels
from tsdb.server.remote_write import compress_snappy, encode_write_request

HEADERS = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
           "X-Prometheus-Remote-Write-Version": "0.1.0"}
STEP = 15_000
SERIES = 3


def _write(server: ServeProcess, start: int, n: int) -> None:
    ts = start + np.arange(n, dtype=np.int64) * STEP
    series = [(Labels({"__name__": "backup_test", "i": str(i)}), ts, np.arange(n, dtype=np.float64) + i)
              for i in range(SERIES)]
    status, text = server.post("/api/v1/write", compress_snappy(encode_write_request(series)), HEADERS)
    assert status == 204, text


def _counts(server: ServeProcess, at_ms: int) -> dict[str, int]:
    status, body = server.get("/api/v1/query", query="count_over_time(backup_test[1d])", time=str(at_ms / 1000))
    assert status == 200, body
    return {s["metric"]["i"]: int(s["value"][1]) for s in body["data"]["result"]}


def _blocks(server: ServeProcess) -> list[dict[str, int]]:
    status, body = server.get("/api/v1/status/tsdb")
    assert status == 200, body
    return list(body["data"]["blocks"])


def _snapshot(server: ServeProcess, *flags: str) -> Path:
    out = subprocess.run([sys.executable, "-m", "tsdb.cli", "snapshot", "--url", server.url, *flags], cwd=ROOT,
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    path = Path(out.stdout.strip())
    assert path.parent == (server.data_dir / "snapshots").resolve() and path.is_dir(), out.stdout
    return path


def _metas(snapshot: Path) -> list[dict[str, Any]]:
    """The ``meta.json`` of every block in a snapshot directory."""
    return [json.loads(meta.read_text()) for meta in snapshot.glob("*/meta.json")]


def test_snapshot_of_a_running_server_restores_every_sample(tmp_path: Path) -> None:
    config = tmp_path / "tsdb.yml"
    config.write_text("storage: {compaction_interval: 1s, wal_fsync: never}\n")
    now = int(time.time() * 1000) // STEP * STEP
    start = now - 8 * 3_600_000
    n = (now - start) // STEP
    server = ServeProcess(tmp_path / "data", "--config", str(config), "--no-collect", "--web.enable-admin-api")
    try:
        _write(server, start, n)
        deadline = time.monotonic() + 60
        while not _blocks(server) and time.monotonic() < deadline:  # maintenance cuts blocks off the head
            time.sleep(0.5)
        assert _blocks(server), "no block was cut"
        full = _snapshot(server)
        no_head = _snapshot(server, "--skip-head")
        _write(server, now + n * STEP, 10)  # after the snapshots: in neither
        assert _counts(server, now + n * STEP + 10 * STEP) == {str(i): n + 10 for i in range(SERIES)}

        # maintenance keeps cutting blocks meanwhile: what the head-less snapshot holds is what its blocks hold
        persisted_until = max(m["maxTime"] for m in _metas(no_head))  # exclusive
        assert persisted_until < now  # some samples were only in the head
        in_blocks = (persisted_until - start + STEP - 1) // STEP
        for snapshot, expected in ((full, n), (no_head, in_blocks)):
            copy = tmp_path / f"restore-{snapshot.name}"
            shutil.copytree(snapshot, copy)  # the user's copy, off the server's directory
            restored = ServeProcess(copy, "--no-collect")
            try:
                assert _counts(restored, now + n * STEP + 10 * STEP) == {str(i): expected for i in range(SERIES)}
                status, body = restored.get("/api/v1/query", query="backup_test", time=str((start + STEP) / 1000))
                assert status == 200
                assert [float(s["value"][1]) for s in body["data"]["result"]] == [1.0 + i for i in range(SERIES)]
            finally:
                assert restored.stop() == 0

        promtool = find_binary("promtool")
        if promtool is not None:  # promtool 2.42 reads the snapshot's blocks (the tiers/ directory is ignored)
            for args in (["tsdb", "list", str(full)], ["tsdb", "analyze", str(full)]):
                out = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120, check=False)
                assert out.returncode == 0, out.stderr
            listed = subprocess.run([promtool, "tsdb", "list", str(full)], capture_output=True, text=True,
                                    timeout=120, check=True).stdout
            assert all(m["ulid"] in listed for m in _metas(full))
    finally:
        server.stop()
