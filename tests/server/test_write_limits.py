"""Write limits over real HTTP (an in-process server on 127.0.0.1): requests and bytes in flight answer
429 with Retry-After, series and label limits reject samples with 400 after storing the rest, and every
refusal is counted in the server's own metrics."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from tsdb.config import IngestOptions, ServerConfig
from tsdb.labels import Labels
from tsdb.server.app import Server
from tsdb.server.remote_write import compress_snappy, encode_write_request

HEADERS = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}


def _body(series: list[dict[str, str]], t0: int = 0, n: int = 1) -> bytes:
    ts = np.arange(t0, t0 + n * 1000, 1000, dtype=np.int64)
    return compress_snappy(encode_write_request([(Labels(s), ts, np.ones(n)) for s in series]))


def _run(tmp_path: Path, ingest: IngestOptions,
         scenario: Callable[[Server, aiohttp.ClientSession, str], Awaitable[Any]]) -> Any:
    config = ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                          ingest=ingest)

    async def main() -> Any:
        server = Server(config)
        await server.start()
        try:
            async with aiohttp.ClientSession() as session:
                return await scenario(server, session, f"http://127.0.0.1:{server.http_port}")
        finally:
            await server.stop()

    return asyncio.run(main())


async def _post(session: aiohttp.ClientSession, base: str, body: bytes) -> tuple[int, str, dict[str, str]]:
    async with session.post(base + "/api/v1/write", data=body, headers=HEADERS) as response:
        return response.status, await response.text(), dict(response.headers)


async def _metric(session: aiohttp.ClientSession, base: str, line_start: str) -> float:
    """The value of the exposition line starting with ``line_start`` (0 when absent)."""
    async with session.get(base + "/metrics") as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def _count(session: aiohttp.ClientSession, base: str, query: str) -> float:
    async with session.get(base + "/api/v1/query", params={"query": query, "time": "100"}) as response:
        result = (await response.json())["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


class _HeldRequest:
    """A remote-write request whose body is sent only in part, so it stays in flight until :meth:`finish`."""

    def __init__(self, port: int, body: bytes) -> None:
        self.port, self.body = port, body
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def start(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = ("POST /api/v1/write HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n"
                f"Content-Encoding: snappy\r\nContent-Length: {len(self.body)}\r\n\r\n").encode()
        self.writer.write(head + self.body[:1])
        await self.writer.drain()

    async def finish(self) -> int:
        assert self.reader is not None and self.writer is not None
        self.writer.write(self.body[1:])
        await self.writer.drain()
        status_line = await asyncio.wait_for(self.reader.readline(), 10)
        self.writer.close()
        return int(status_line.split()[1])


async def _until(condition: Callable[[], bool]) -> None:
    """Wait (bounded) until ``condition`` holds."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in 5 s")


def test_too_many_requests_in_flight_answers_429_with_retry_after(tmp_path: Path) -> None:
    async def scenario(server: Server, session: aiohttp.ClientSession, base: str) -> None:
        limiter = server.context.backend.write_limiter if server.context else None
        assert limiter is not None
        held = _HeldRequest(server.http_port, _body([{"__name__": "held"}]))
        await held.start()
        await _until(lambda: limiter.requests == 1)
        status, text, headers = await _post(session, base, _body([{"__name__": "second"}]))
        assert status == 429
        assert headers["Retry-After"] == "3"
        assert "more than 1 write requests in flight" in text and "retry after 3s" in text
        assert await held.finish() == 204
        await _until(lambda: limiter.requests == 0)
        assert limiter.bytes == 0
        status, _, _ = await _post(session, base, _body([{"__name__": "second"}]))
        assert status == 204
        assert await _metric(session, base, 'tsdb_write_requests_rejected_total{protocol="remote_write",'
                                            'reason="too_many_requests"}') == 1
        assert await _metric(session, base, 'tsdb_write_requests_total{code="429",protocol="remote_write"}') == 1
        assert await _count(session, base, "count({__name__=~'held|second'})") == 2

    _run(tmp_path, IngestOptions(max_inflight_requests=1, retry_after_ms=2_500), scenario)


def test_too_many_bytes_in_flight_answers_429(tmp_path: Path) -> None:
    big = _body([{"__name__": "big", "i": str(i)} for i in range(200)])

    async def scenario(server: Server, session: aiohttp.ClientSession, base: str) -> None:
        limiter = server.context.backend.write_limiter if server.context else None
        assert limiter is not None
        held = _HeldRequest(server.http_port, big)
        await held.start()  # admitted although larger than the limit: nothing else is in flight
        await _until(lambda: limiter.requests == 1)
        status, text, headers = await _post(session, base, _body([{"__name__": "small"}]))
        assert (status, headers["Retry-After"]) == (429, "5")
        assert f"more than {len(big) // 2} bytes" in text
        assert await held.finish() == 204
        await _until(lambda: limiter.requests == 0)
        assert (await _post(session, base, _body([{"__name__": "small"}])))[0] == 204
        assert await _metric(session, base, 'tsdb_write_requests_rejected_total{protocol="remote_write",'
                                            'reason="too_many_bytes"}') == 1

    _run(tmp_path, IngestOptions(max_inflight_bytes=len(big) // 2), scenario)


def test_parallel_writers_are_answered_and_retries_store_everything(tmp_path: Path) -> None:
    writers, limit = 24, 3

    async def scenario(server: Server, session: aiohttp.ClientSession, base: str) -> None:
        limiter = server.context.backend.write_limiter if server.context else None
        assert limiter is not None

        async def writer(k: int) -> tuple[int, int]:
            """Send until stored, as a sender honouring Retry-After would (retry at once here)."""
            body = _body([{"__name__": "par", "writer": str(k)}], n=50)
            for attempt in range(200):
                status, _, headers = await _post(session, base, body)
                if status == 204:
                    return k, attempt
                assert status == 429 and headers["Retry-After"] == "5"
                await asyncio.sleep(0.005)
            raise AssertionError(f"writer {k} never got through")

        results = await asyncio.gather(*(writer(k) for k in range(writers)))
        refused = sum(r for _, r in results)
        assert limiter.requests == 0 and limiter.bytes == 0
        assert await _count(session, base, "count(par)") == writers
        assert await _count(session, base, "sum(count_over_time(par[2m]))") == writers * 50
        assert await _metric(session, base, 'tsdb_write_requests_rejected_total{protocol="remote_write",'
                                            'reason="too_many_requests"}') == refused
        assert await _metric(session, base, 'tsdb_write_requests_total{code="204",protocol="remote_write"}'
                             ) == writers

    _run(tmp_path, IngestOptions(max_inflight_requests=limit), scenario)


def _reason_count(text: str, reason: str) -> int:
    match = re.search(rf"(\d+) {reason} sample\(s\)", text)
    return int(match.group(1)) if match else 0


def test_series_limits_reject_new_series_and_keep_existing_ones(tmp_path: Path) -> None:
    async def scenario(server: Server, session: aiohttp.ClientSession, base: str) -> None:
        first = [{"__name__": "a", "i": "0"}, {"__name__": "a", "i": "1"}, {"__name__": "b", "i": "0"}]
        assert (await _post(session, base, _body(first, n=2)))[0] == 204
        # a third series of "a" passes the per-metric limit; two more of "c" then pass the head limit of 4
        status, text, _ = await _post(session, base, _body(
            [{"__name__": "a", "i": "2"}, {"__name__": "c", "i": "0"}, {"__name__": "c", "i": "1"}], t0=10_000, n=2))
        assert status == 400
        assert text.startswith("2 samples stored; rejected: ")
        assert _reason_count(text, "metric_series_limit") == 2 and 'a{i="2"} @ 10000' in text
        assert _reason_count(text, "series_limit") == 2 and 'c{i="1"} @ 10000' in text
        # existing series keep ingesting
        assert (await _post(session, base, _body(first, t0=20_000)))[0] == 204
        assert await _count(session, base, "count({__name__=~'a|b|c'})") == 4
        assert await _count(session, base, "sum(count_over_time({__name__=~'a|b|c'}[2m]))") == 3 * 3 + 2
        for reason, n in (("metric_series_limit", 2), ("series_limit", 2)):
            assert await _metric(session, base, f'tsdb_samples_rejected_total{{reason="{reason}"}}') == n

    _run(tmp_path, IngestOptions(max_series=4, max_series_per_metric=2), scenario)


def test_label_limits_reject_with_reason_and_example(tmp_path: Path) -> None:
    async def scenario(server: Server, session: aiohttp.ClientSession, base: str) -> None:
        series = [
            {"__name__": "ok", "a": "1"},
            {"__name__": "many", "a": "1", "b": "2", "c": "3"},
            {"__name__": "long_name", "a" * 17: "1"},
            {"__name__": "long_value", "a": "é" * 9},  # 9 characters, 18 UTF-8 bytes
        ]
        status, text, _ = await _post(session, base, _body(series))
        assert status == 400 and text.startswith("1 samples stored; rejected: ")
        assert '1 label_count sample(s), e.g. many{' in text
        assert '1 label_name_length sample(s), e.g. long_name{' in text
        assert '1 label_value_length sample(s), e.g. long_value{' in text
        for reason in ("label_count", "label_name_length", "label_value_length"):
            assert await _metric(session, base, f'tsdb_samples_rejected_total{{reason="{reason}"}}') == 1
        assert await _count(session, base, "count({__name__=~'ok|many|long_name|long_value'})") == 1

    _run(tmp_path, IngestOptions(max_label_names_per_series=3, max_label_name_length=16,
                                 max_label_value_length=16), scenario)


def test_limits_off_by_default(tmp_path: Path) -> None:
    async def scenario(server: Server, session: aiohttp.ClientSession, base: str) -> None:
        series = [{"__name__": "m", "i": str(i), "x" * 300: "y" * 5000} for i in range(50)]
        assert (await _post(session, base, _body(series)))[0] == 204
        assert await _count(session, base, "count(m)") == 50

    _run(tmp_path, IngestOptions(), scenario)


def test_reload_applies_new_limits(tmp_path: Path) -> None:
    limited = ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                           ingest=IngestOptions(max_series=1, max_inflight_requests=7))

    async def main() -> None:
        server = Server(dataclasses.replace(limited, ingest=IngestOptions()), reload_config=lambda: limited)
        await server.start()
        try:
            base = f"http://127.0.0.1:{server.http_port}"
            async with aiohttp.ClientSession() as session:
                assert (await _post(session, base, _body([{"__name__": "one"}])))[0] == 204
                await server.reload()
                assert server.context is not None and server.context.backend.write_limiter is not None
                assert server.context.backend.write_limiter.max_requests == 7
                status, text, _ = await _post(session, base, _body([{"__name__": "one"}, {"__name__": "two"}],
                                                                   t0=5000))
                assert status == 400 and "1 series_limit sample(s), e.g. two @ 5000" in text
        finally:
            await server.stop()

    asyncio.run(main())
