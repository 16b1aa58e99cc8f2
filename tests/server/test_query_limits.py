"""The query scheduler: its own threads, a bounded number running, a bounded queue, waits within the timeout."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from tsdb.config import QueryOptions, ServerConfig
from tsdb.errors import ConfigError
from tsdb.labels import Labels
from tsdb.server.app import Server
from tsdb.server.query_limits import QueryRejectedError, QueryScheduler, WritePriority
from tsdb.server.remote_write import compress_snappy, encode_write_request
from tsdb.storage.interfaces import check_deadline


def _blocking(release: threading.Event) -> Callable[[float], tuple[str, float]]:
    """A query stand-in: waits for ``release`` (at most 10 s); returns its thread's name and the timeout."""

    def run(timeout_s: float) -> tuple[str, float]:
        release.wait(10)
        return threading.current_thread().name, timeout_s

    return run


def test_slots_queue_and_refusals() -> None:
    refused: list[tuple[str, str]] = []
    scheduler = QueryScheduler(1, 1, 30, lambda p, r: refused.append((p, r)))
    release = threading.Event()

    async def scenario() -> None:
        first = asyncio.ensure_future(scheduler.run("http", _blocking(release), timeout_s=5))
        await asyncio.sleep(0.05)
        assert scheduler.running == 1
        second = asyncio.ensure_future(scheduler.run("grpc", _blocking(release), timeout_s=5))
        await asyncio.sleep(0.05)
        assert scheduler.waiting == 1
        with pytest.raises(QueryRejectedError, match=r"query.max_queue=1") as info:
            await scheduler.run("http", _blocking(release))
        assert info.value.reason == "queue_full"
        release.set()
        name, timeout_s = await first
        assert name.startswith("tsdb-query") and 4 < timeout_s <= 5
        name, timeout_s = await second
        assert timeout_s < 5  # the wait counted against the timeout
        assert scheduler.running == 0 and scheduler.waiting == 0

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        scheduler.close()
    assert refused == [("http", "queue_full")]


def test_a_query_waits_at_most_its_timeout() -> None:
    scheduler = QueryScheduler(1, 10, 30)
    release = threading.Event()

    async def scenario() -> float:
        first = asyncio.ensure_future(scheduler.run("http", _blocking(release)))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        with pytest.raises(QueryRejectedError, match=r"within the query timeout of 0\.2s") as info:
            await scheduler.run("http", _blocking(release), timeout_s=0.2)
        assert info.value.reason == "queue_timeout"
        waited = time.monotonic() - started
        release.set()
        await first
        # the refused waiter left no trace: a new query gets the free slot at once
        await scheduler.run("http", _blocking(release))
        return waited

    try:
        waited = asyncio.run(scenario())
    finally:
        release.set()
        scheduler.close()
    assert 0.15 < waited < 5
    assert scheduler.rejected == 1 and scheduler.running == 0


def test_a_cancelled_request_keeps_its_slot_until_the_thread_is_done() -> None:
    """A client gone mid-query frees nothing early: the thread still runs, so the slot stays taken."""
    scheduler = QueryScheduler(1, 10, 30)
    release = threading.Event()

    async def scenario() -> None:
        first = asyncio.ensure_future(scheduler.run("http", _blocking(release)))
        await asyncio.sleep(0.05)
        first.cancel()
        await asyncio.sleep(0.05)
        assert scheduler.running == 1
        waiting = asyncio.ensure_future(scheduler.run("http", _blocking(release)))
        await asyncio.sleep(0.05)
        assert scheduler.waiting == 1
        release.set()
        await waiting
        assert scheduler.running == 0

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        scheduler.close()


def test_server_refuses_queries_past_its_limits_and_counts_them(tmp_path: Path) -> None:
    """A real server with one query slot and no waiting place: while a query holds the slot, another is
    refused (503) and counted, and remote-write still stores (writes do not use the query threads)."""
    config = ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          query=QueryOptions(max_concurrency=1, max_queue=0))
    release = threading.Event()
    body = compress_snappy(encode_write_request([(Labels({"__name__": "w"}), np.array([1000], dtype=np.int64),
                                                  np.ones(1))]))

    async def metric(session: aiohttp.ClientSession, base: str, line_start: str) -> float:
        async with session.get(base + "/metrics") as response:
            text = await response.text()
        values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(line_start + " ")]
        return values[0] if values else 0.0

    async def main() -> None:
        server = Server(config)
        await server.start()
        base = f"http://127.0.0.1:{server.http_port}"
        try:
            assert server.context is not None and server.context.backend.queries is not None
            queries = server.context.backend.queries
            held = asyncio.ensure_future(queries.run("http", _blocking(release)))
            await asyncio.sleep(0.05)
            async with aiohttp.ClientSession() as session:
                async with session.get(base + "/api/v1/query", params={"query": "1", "time": "1"}) as response:
                    assert response.status == 503
                    answer = await response.json()
                assert answer["errorType"] == "unavailable" and "query.max_queue=0" in answer["error"]
                async with session.post(base + "/api/v1/write", data=body, headers={
                        "Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}) as response:
                    assert response.status == 204
                assert await metric(session, base, 'tsdb_query_requests_rejected_total{protocol="http",'
                                                   'reason="queue_full"}') == 1
                assert await metric(session, base, "tsdb_query_requests_running") == 1
                release.set()
                await held
                async with session.get(base + "/api/v1/query", params={"query": "count(w)", "time": "2"}) as response:
                    assert response.status == 200
                    assert (await response.json())["data"]["result"][0]["value"][1] == "1"
                assert await metric(session, base, "tsdb_query_queue_length") == 0
        finally:
            release.set()
            await server.stop()

    asyncio.run(main())


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread priorities are a Linux feature")
def test_query_threads_run_at_a_lower_priority() -> None:
    """The query threads' niceness is raised by ``niceness``; the calling thread's is untouched."""
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    scheduler = QueryScheduler(1, 0, 30, niceness=5)

    def niceness(_timeout_s: float) -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    try:
        assert asyncio.run(scheduler.run("http", niceness)) == min(19, base + 5)
    finally:
        scheduler.close()
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base


def test_queries_pause_at_checkpoints_while_writes_are_in_flight() -> None:
    """With writes in flight a query thread runs about ``share`` of the time (pausing at its checkpoints);
    without writes, or with share 1, it never pauses. Pauses are reported to ``on_pause``."""
    in_flight = [1]
    pauses: list[float] = []
    pacer = WritePriority(lambda: in_flight[0], 0.25, pauses.append)
    scheduler = QueryScheduler(1, 0, 30, pacer=pacer)

    def busy_query(_timeout_s: float) -> tuple[float, float]:
        """Work 0.2 s of CPU time in small steps with a checkpoint each; (wall seconds, CPU seconds)."""
        wall, cpu = time.monotonic(), time.thread_time()
        for _ in range(100_000):  # bounded
            if time.thread_time() - cpu >= 0.2:
                break
            sum(range(2_000))
            check_deadline()
        return time.monotonic() - wall, time.thread_time() - cpu

    try:
        wall, cpu = asyncio.run(scheduler.run("http", busy_query))
        # each pause is three times the time run since the previous one (at least the CPU time used)
        assert sum(pauses) >= 2.5 * cpu and wall >= cpu + sum(pauses), (pauses, wall, cpu)
        pauses.clear()
        in_flight[0] = 0
        asyncio.run(scheduler.run("http", busy_query))
        assert not pauses
        in_flight[0] = 1
        pacer.share = 1.0
        asyncio.run(scheduler.run("http", busy_query))
        assert not pauses
    finally:
        scheduler.close()
    check_deadline()  # outside a query nothing paces the caller


def test_write_share_is_validated() -> None:
    for bad in (0, 1.5, "half", True):
        with pytest.raises(ConfigError, match=r"query\.write_share"):
            QueryOptions(write_share=bad)  # type: ignore[arg-type]
    assert QueryOptions(write_share=1).write_share == 1
