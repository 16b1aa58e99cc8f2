"""The sender against an aiohttp receiver on 127.0.0.1: headers, retries with backoff and Retry-After on
5xx and 429, drops on other 4xx, sharding and request sizes, the commit hook through a real DB."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web

from tests.aiohttp_thread import AiohttpThread
from tsdb.labels import Labels
from tsdb.remote.config import parse_remote_write, url_label
from tsdb.remote.manager import RemoteWriteCollector, RemoteWriteManager
from tsdb.remote.sender import retry_after_seconds, split_requests
from tsdb.server.pb.tsdb.v1 import remote_pb2
from tsdb.server.remote_write import decompress_snappy
from tsdb.storage.db import DB


class Receiver:
    """Answers with the scripted ``(status, headers)`` in turn (then 204), recording every request."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str]]] = []
        self.requests: list[tuple[float, dict[str, str], remote_pb2.WriteRequest]] = []
        self.statuses: list[int] = []
        app = web.Application()
        app.router.add_post("/api/v1/write", self.handle)
        self.server = AiohttpThread(app)
        self.url = self.server.url + "/api/v1/write"

    async def handle(self, request: web.Request) -> web.Response:
        message = remote_pb2.WriteRequest()
        message.ParseFromString(decompress_snappy(await request.read()))
        self.requests.append((time.monotonic(), dict(request.headers), message))
        status, headers = self.script.pop(0) if self.script else (204, {})
        self.statuses.append(status)
        return web.Response(status=status, headers=headers, text="" if status < 300 else f"answer {status}")

    def samples(self) -> list[tuple[str, int, float]]:
        """(series, timestamp, value) of every delivered request (those answered 2xx)."""
        out = []
        for (_, _, message), status in zip(self.requests, self.statuses, strict=True):
            if status >= 300:
                continue
            for series in message.timeseries:
                name = ",".join(f"{lb.name}={lb.value}" for lb in series.labels)
                out.extend((name, s.timestamp, s.value) for s in series.samples)
        return out


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.close()


def _config(url: str, **queue: Any) -> dict[str, Any]:
    return {"url": url, "name": "r1", "queue_config": {"batch_send_deadline": "50ms", "min_backoff": "100ms",
                                                       "max_backoff": "400ms", **queue}}


async def _wait(check: Any, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


def _write(db: DB, name: str, n: int, start: int = 1000, series: int = 1) -> None:
    appender = db.appender()
    for s in range(series):
        appender.append(Labels({"__name__": name, "s": str(s)}), np.arange(start, start + n, dtype=np.int64),
                        np.arange(n, dtype=np.float64))
    appender.commit()


def _run(tmp_path: Path, configs: list[dict[str, Any]], body: Any, external: dict[str, str] | None = None) -> Any:
    db = DB.open(tmp_path / "data")

    async def main() -> Any:
        manager = RemoteWriteManager(tmp_path / "data", db.head, external or {})
        await manager.apply(parse_remote_write(configs))
        try:
            return await body(db, manager)
        finally:
            await manager.close()

    try:
        return asyncio.run(main())
    finally:
        db.close()


def test_forwards_with_headers_and_metrics(tmp_path: Path, receiver: Receiver) -> None:
    async def body(db: DB, manager: RemoteWriteManager) -> None:
        _write(db, "up", 5)
        await _wait(lambda: len(receiver.samples()) == 5)
        remote = manager.remotes["r1"]
        await _wait(lambda: remote.queue.pending_samples == 0)
        metrics = {m.name: m for m in RemoteWriteCollector(manager).collect()}
        assert metrics["tsdb_remote_write_samples"].samples[0].value == 5
        assert metrics["tsdb_remote_write_queue_highest_sent_timestamp_seconds"].samples[0].value == 1.004
        assert metrics["tsdb_remote_write_pending_samples"].samples[0].value == 0

    _run(tmp_path, [_config(receiver.url, max_samples_per_send=2)], body, external={"cluster": "c1"})
    _, headers, _ = receiver.requests[0]
    assert headers["Content-Encoding"] == "snappy"
    assert headers["Content-Type"] == "application/x-protobuf"
    assert headers["X-Prometheus-Remote-Write-Version"] == "0.1.0"
    assert headers["User-Agent"].startswith("tsdb/")
    assert len(receiver.requests) == 3  # 5 samples, at most 2 per request
    assert receiver.samples() == [("__name__=up,cluster=c1,s=0", 1000 + i, float(i)) for i in range(5)]


def test_retries_5xx_and_429_with_backoff_and_retry_after(tmp_path: Path, receiver: Receiver) -> None:
    http_date = email.utils.formatdate(time.time() + 4, usegmt=True)
    receiver.script = [(503, {}), (500, {}), (429, {"Retry-After": "1"}), (503, {"Retry-After": http_date})]

    async def body(db: DB, manager: RemoteWriteManager) -> None:
        _write(db, "up", 3)
        await _wait(lambda: len(receiver.requests) == 5)
        await _wait(lambda: manager.remotes["r1"].queue.pending_samples == 0)
        assert manager.remotes["r1"].stats.retried == 12

    _run(tmp_path, [_config(receiver.url)], body)
    times = [t for t, _, _ in receiver.requests]
    gaps = np.diff(times)
    assert 0.08 < gaps[0] < 0.6  # min_backoff
    assert 0.18 < gaps[1] < 0.8  # doubled
    assert 0.9 < gaps[2] < 1.8  # Retry-After: 1
    assert 1.0 < gaps[3] < 3.5  # Retry-After as an HTTP date 4 s after the first attempt
    assert all(len(m.timeseries[0].samples) == 3 for _, _, m in receiver.requests)  # each attempt: the 3 samples
    assert len(receiver.samples()) == 3


def test_400_drops_the_request_and_429_without_retry_drops_too(tmp_path: Path, receiver: Receiver) -> None:
    receiver.script = [(400, {}), (429, {})]

    async def body(db: DB, manager: RemoteWriteManager) -> None:
        _write(db, "a", 2)
        await _wait(lambda: len(receiver.requests) == 1)
        await _wait(lambda: manager.remotes["r1"].queue.pending_samples == 0)
        _write(db, "b", 2)
        await _wait(lambda: len(receiver.requests) == 2)
        _write(db, "c", 2)
        await _wait(lambda: len(receiver.requests) == 3)
        stats = manager.remotes["r1"].stats
        await _wait(lambda: stats.samples == 2)
        assert stats.failed == 4 and stats.dropped_rejected == 4 and stats.retried == 0
        dropped = {tuple(s.labels.values()): s.value for m in RemoteWriteCollector(manager).collect()
                   if m.name == "tsdb_remote_write_samples_dropped" for s in m.samples}
        assert dropped[("r1", url_label(receiver.url), "rejected")] == 4

    _run(tmp_path, [_config(receiver.url, retry_on_http_429=False)], body)


def test_sharding_keeps_series_order_and_auth_headers(tmp_path: Path, receiver: Receiver) -> None:
    async def body(db: DB, manager: RemoteWriteManager) -> None:
        for i in range(5):
            _write(db, "m", 40, start=1000 + i * 40, series=20)
        await _wait(lambda: len(receiver.samples()) == 4000)
        assert manager.remotes["r1"].stats.shards >= 2

    config = _config(receiver.url, capacity=500, max_shards=4, max_samples_per_send=300,
                     batch_send_deadline="2s")
    config["basic_auth"] = {"username": "u", "password": "p"}
    config["headers"] = {"X-Scope-OrgID": "team"}
    _run(tmp_path, [config], body)
    by_series: dict[str, list[int]] = {}
    for name, t, _ in receiver.samples():
        by_series.setdefault(name, []).append(t)
    assert len(by_series) == 20
    assert all(ts == list(range(1000, 1200)) for ts in by_series.values())
    assert all(len(m.timeseries) and sum(len(s.samples) for s in m.timeseries) <= 300 for _, _, m in receiver.requests)
    assert receiver.requests[0][1]["Authorization"] == "Basic dTpw"
    assert receiver.requests[0][1]["X-Scope-OrgID"] == "team"


def test_write_relabel_configs_forward_a_subset(tmp_path: Path, receiver: Receiver) -> None:
    async def body(db: DB, manager: RemoteWriteManager) -> None:
        _write(db, "keep_me", 3)
        _write(db, "drop_me", 3)
        _write(db, "keep_me", 2, start=2000)
        await _wait(lambda: len(receiver.samples()) == 5)

    config = _config(receiver.url)
    config["bearer_token"] = "tok"
    config["write_relabel_configs"] = [{"source_labels": ["__name__"], "regex": "keep_.*", "action": "keep"},
                                       {"target_label": "via", "replacement": "tsdb"}]
    _run(tmp_path, [config], body)
    assert {name for name, _, _ in receiver.samples()} == {"__name__=keep_me,s=0,via=tsdb"}
    assert receiver.requests[0][1]["Authorization"] == "Bearer tok"


def test_rejected_samples_are_not_forwarded(tmp_path: Path, receiver: Receiver) -> None:
    async def body(db: DB, manager: RemoteWriteManager) -> None:
        _write(db, "m", 3, start=10_000_000)
        _write(db, "m", 3, start=10_000_000)  # duplicates of stored samples: refused by storage
        _write(db, "m", 1, start=10_000_003)
        await _wait(lambda: len(receiver.samples()) == 4)
        await asyncio.sleep(0.3)

    _run(tmp_path, [_config(receiver.url)], body)
    assert [t for _, t, _ in receiver.samples()] == [10_000_000, 10_000_001, 10_000_002, 10_000_003]


def test_reload_keeps_queued_data_and_removal_deletes_the_queue(tmp_path: Path, receiver: Receiver) -> None:
    receiver.script = [(503, {})] * 3

    async def body(db: DB, manager: RemoteWriteManager) -> None:
        _write(db, "m", 4)
        await _wait(lambda: len(receiver.requests) >= 1)
        await manager.apply(parse_remote_write([_config(receiver.url, max_samples_per_send=1)]))
        _write(db, "m", 4, start=2000)
        await _wait(lambda: manager.remotes["r1"].queue.pending_samples == 0)
        assert db.head.sample_listeners
        await manager.apply(())
        assert not db.head.sample_listeners
        assert not (tmp_path / "data" / "remote_write" / "r1").exists()

    _run(tmp_path, [_config(receiver.url)], body)
    delivered = sorted({t for _, t, _ in receiver.samples()})
    assert delivered == [1000, 1001, 1002, 1003, 2000, 2001, 2002, 2003]


def test_helpers() -> None:
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("7") == 7
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(email.utils.formatdate(100, usegmt=True), now=90) == pytest.approx(10)
    labels = Labels({"a": "1"})
    ts = np.arange(5, dtype=np.int64)
    parts = split_requests([(labels, ts, ts.astype(float)), (labels, ts[:1], ts[:1].astype(float))], 2)
    assert [sum(len(t) for _, t, _ in r) for r in parts] == [2, 2, 2]
    assert url_label("https://u:p@h:9/x?y=1") == "https://h:9/x?y=1"


def test_https_with_client_certificate(tmp_path: Path) -> None:
    import ssl

    from tests.tls_certs import make_certs

    certs = make_certs(tmp_path / "certs")
    server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(certs.ca))
    server_ssl.load_cert_chain(str(certs.server_cert), str(certs.server_key))
    server_ssl.verify_mode = ssl.CERT_REQUIRED
    got: list[int] = []

    async def handle(request: web.Request) -> web.Response:
        message = remote_pb2.WriteRequest()
        message.ParseFromString(decompress_snappy(await request.read()))
        got.extend(len(s.samples) for s in message.timeseries)
        return web.Response(status=204)

    async def body(db: DB, manager: RemoteWriteManager) -> None:
        app = web.Application()
        app.router.add_post("/w", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=server_ssl)
        await site.start()
        try:
            _write(db, "tls", 4)
            await _wait(lambda: sum(got) == 4)
        finally:
            await runner.cleanup()

    from tests.integration.serve import free_port

    port = free_port()
    config = _config(f"https://127.0.0.1:{port}/w")
    config["tls_config"] = {"ca_file": str(certs.ca), "cert_file": str(certs.client_cert),
                            "key_file": str(certs.client_key)}
    insecure = {**_config(f"https://127.0.0.1:{port}/w", max_shards=2), "name": "insecure",
                "tls_config": {"insecure_skip_verify": True}}  # no client certificate: refused by the server
    _run(tmp_path, [config, insecure], body)
    assert sum(got) == 4


def test_failing_sample_listener_does_not_fail_the_commit(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = DB.open(tmp_path / "data")
    try:
        seen: list[int] = []

        def broken(*_: Any) -> None:
            seen.append(1)
            raise RuntimeError("boom")

        db.head.sample_listeners.append(broken)
        _write(db, "m", 3)
        assert seen == [1] and "sample listener failed" in caplog.text
        assert db.num_series == 1
    finally:
        db.close()
