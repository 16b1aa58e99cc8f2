"""The remote-write component in a running server: commits forwarded, reloads that add, change and remove
remotes without losing queued samples, metrics on /metrics and secrets masked in the status config."""

from __future__ import annotations

import dataclasses
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.remote.test_sender import Receiver
from tests.server_thread import ServerThread
from tsdb.config import ServerConfig, StorageOptions
from tsdb.errors import ConfigError
from tsdb.labels import Labels
from tsdb.server.components.remote_write import sync_interval_s


def _wait(check: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def _write(thread: ServerThread, name: str, n: int, start: int) -> None:
    db = thread.server.db
    assert db is not None
    appender = db.appender()
    appender.append(Labels({"__name__": name}), np.arange(start, start + n, dtype=np.int64), np.ones(n))
    appender.commit()


def _remote(url: str, **extra: Any) -> dict[str, Any]:
    return {"url": url, "name": "main", "queue_config": {"batch_send_deadline": "50ms", "min_backoff": "50ms",
                                                         "max_backoff": "100ms"}, **extra}


def test_reload_add_change_remove(tmp_path: Path) -> None:
    receiver = Receiver()
    current = {"config": ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0",
                                      grpc_listen="127.0.0.1:0", storage=StorageOptions(wal_fsync="100ms"))}
    thread = ServerThread(current["config"], reload_config=lambda: current["config"])
    try:
        db = thread.server.db
        assert db is not None and not db.head.sample_listeners  # nothing configured: no hook
        _write(thread, "before", 2, 1000)
        current["config"] = dataclasses.replace(current["config"], remote_write=[_remote(receiver.url, basic_auth={
            "username": "u", "password": "hunter2"})])
        thread.call(thread.server.reload())
        assert db.head.sample_listeners
        _write(thread, "added", 3, 1000)
        _wait(lambda: len(receiver.samples()) == 3)
        receiver.script = [(503, {})] * 5
        _write(thread, "queued", 4, 1000)
        _wait(lambda: len(receiver.requests) >= 3)
        current["config"] = dataclasses.replace(current["config"], remote_write=[_remote(
            receiver.url, headers={"X-Changed": "1"})])
        thread.call(thread.server.reload())
        _wait(lambda: {n.split(",")[0] for n, _, _ in receiver.samples()} >= {"__name__=queued"})
        assert receiver.requests[-1][1]["X-Changed"] == "1"
        port = thread.server.http_port
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            metrics = response.read().decode()
        assert 'tsdb_remote_write_samples_total{remote_name="main",url="' + receiver.url + '"} 7.0' in metrics
        assert "tsdb_remote_write_shards{" in metrics and "tsdb_remote_write_queue_bytes{" in metrics
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/status/config", timeout=10) as response:
            status = response.read().decode()
        assert "X-Changed" in status
        good = current["config"]
        current["config"] = dataclasses.replace(good, remote_write=[{"url": receiver.url, "queue_config": {
            "max_shards": 0}}])
        with pytest.raises(ConfigError, match=r"remote_write\[0\].queue_config.max_shards: must be >= 1"):
            thread.call(thread.server.reload())  # a bad section changes nothing
        assert db.head.sample_listeners
        current["config"] = dataclasses.replace(good, remote_write=[])
        thread.call(thread.server.reload())
        assert not db.head.sample_listeners
        assert not (tmp_path / "data" / "remote_write" / "main").exists()
    finally:
        thread.close()
        receiver.server.close()


def test_sync_interval() -> None:
    assert sync_interval_s("never") is None
    assert sync_interval_s("always") == 1.0
    assert sync_interval_s("250ms") == 0.25
