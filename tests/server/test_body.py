"""Remote-write bodies from 1 KB to 60 MB over a real socket: whole or refused, never cut short.

Bodies are sent by hand over TCP so the test controls how they travel: with ``Content-Length`` in one
write, with chunked transfer encoding in random chunk sizes, trickled slowly, or broken off. The write
requests are encoded here with numpy (independently of tsdb's own encoder) so 60 MB bodies are cheap.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import cramjam
import numpy as np
import pytest
from aiohttp import StreamReader, web
from aiohttp.base_protocol import BaseProtocol
from aiohttp.test_utils import make_mocked_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.aiohttp_thread import AiohttpThread
from tsdb.http_body import IncompleteBodyError, read_body
from tsdb.query.engine.engine import Engine
from tsdb.query.parser.parser import parse, parse_matchers
from tsdb.server.backend import Backend
from tsdb.server.http_api import HttpApi
from tsdb.storage.memory import MemoryStore

MAX_BODY = 96 << 20  # the decompressed request (about 4/3 of the body here) must fit too
SAMPLES_PER_SERIES = 50_000
T0_MS = 1_700_000_000_000  # every timestamp takes exactly six varint bytes


class Server:
    """HttpApi over a MemoryStore, served by aiohttp on 127.0.0.1 in a thread."""

    def __init__(self) -> None:
        self.store = MemoryStore()
        backend = Backend(queryable=self.store, appendable=self.store, engine=Engine(self.store),
                          parse_matchers=parse_matchers, format_query=lambda q: str(parse(q)),
                          max_body_bytes=MAX_BODY)
        app = web.Application(client_max_size=MAX_BODY)
        app.add_routes(HttpApi(backend).routes())
        self.peer = AiohttpThread(app)
        self.port = self.peer.port

    def samples_of(self, name: str) -> int:
        return sum(len(self.store.raw(labels)[0]) for labels in self.store.series_labels()
                   if labels.get("__name__") == name)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.peer.close()


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _samples(ts: np.ndarray, values: np.ndarray) -> bytes:
    """Repeated ``Sample{double value = 1; int64 timestamp = 2}`` fields, 18 bytes each, built with numpy."""
    n = len(ts)
    rows = np.empty((n, 18), dtype=np.uint8)
    rows[:, 0] = 0x12  # TimeSeries.samples, length-delimited
    rows[:, 1] = 16
    rows[:, 2] = 0x09  # Sample.value, fixed64
    rows[:, 3:11] = values.astype("<f8").view(np.uint8).reshape(n, 8)
    rows[:, 11] = 0x10  # Sample.timestamp, varint
    shifted = ts.astype(np.uint64)
    for i in range(6):
        rows[:, 12 + i] = (shifted >> np.uint64(7 * i)) & np.uint64(0x7F)
    rows[:, 12:17] |= 0x80
    return rows.tobytes()


def write_request(name: str, n_samples: int, seed: int) -> bytes:
    """A snappy-compressed WriteRequest of ``n_samples`` random samples of metric ``name``."""
    rng = np.random.default_rng(seed)
    parts = []
    for series, start in enumerate(range(0, n_samples, SAMPLES_PER_SERIES)):
        count = min(SAMPLES_PER_SERIES, n_samples - start)
        labels = (_field(1, _field(1, b"__name__") + _field(2, name.encode()))
                  + _field(1, _field(1, b"series") + _field(2, str(series).encode())))
        ts = T0_MS + np.arange(count, dtype=np.int64) * 1000
        timeseries = labels + _samples(ts, rng.standard_normal(count))
        parts.append(_field(1, timeseries))
    return bytes(cramjam.snappy.compress_raw(b"".join(parts)))


def _headers(length: int | None) -> bytes:
    lines = ["POST /api/v1/write HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/x-protobuf",
             "Content-Encoding: snappy", "X-Prometheus-Remote-Write-Version: 0.1.0", "Connection: close"]
    lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_response(sock: socket.socket, data: bytearray | None = None) -> tuple[int, str]:
    data = bytearray() if data is None else data
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        # a server closing with unread request bytes resets the connection; what it sent before counts
        if not data:
            raise
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body.decode(errors="replace")


def send(port: int, body: bytes, mode: str, pieces: list[int] | None = None, pause_s: float = 0.0
         ) -> tuple[int, str]:
    """POST ``body`` as ``mode`` ("length" or "chunked"), split at the ``pieces`` sizes, pausing between."""
    sizes = pieces or [len(body)]
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(_headers(len(body) if mode == "length" else None))
        pos = 0
        while pos < len(body):
            for size in sizes:
                piece = body[pos:pos + size]
                if not piece:
                    break
                sock.sendall(piece if mode == "length" else f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                pos += len(piece)
                if pause_s:
                    time.sleep(pause_s)
        if mode == "chunked":
            sock.sendall(b"0\r\n\r\n")
        return _read_response(sock)


BODY_SIZES = st.one_of(st.sampled_from([1_000, 64 << 10, 1 << 20, 8 << 20, 60 << 20]),
                       st.integers(1_000, 60 << 20))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=BODY_SIZES, mode=st.sampled_from(["length", "chunked"]),
       pieces=st.lists(st.integers(1, 4 << 20), min_size=1, max_size=4), seed=st.integers(0, 2**32 - 1))
def test_every_body_size_is_stored_whole(server: Server, target: int, mode: str, pieces: list[int], seed: int
                                         ) -> None:
    n_samples = max(1, target // 14)  # 18 bytes a sample, compressed to about 14: ``target`` bytes
    body = write_request(f"body_{seed}", n_samples, seed)
    pieces = [max(p, len(body) // 2000) for p in pieces]  # bounded: at most about 2,000 writes per body
    status, text = send(server.port, body, mode, pieces)
    assert status == 204, text
    assert server.samples_of(f"body_{seed}") == n_samples


def test_sixty_megabytes_arrive_whole(server: Server) -> None:
    body = write_request("sixty_mb", (60 << 20) // 14, seed=1)
    assert len(body) > 55 << 20
    status, text = send(server.port, body, "length")
    assert status == 204, text
    assert server.samples_of("sixty_mb") == (60 << 20) // 14


@pytest.mark.parametrize("mode", ["length", "chunked"])
def test_slow_sender_trickling_the_body(server: Server, mode: str) -> None:
    body = write_request(f"trickle_{mode}", 20_000, seed=2)
    status, text = send(server.port, body, mode, pieces=[len(body) // 40 + 1], pause_s=0.05)
    assert status == 204, text
    assert server.samples_of(f"trickle_{mode}") == 20_000


@pytest.mark.parametrize("mode", ["length", "chunked"])
def test_body_over_the_limit_is_413(server: Server, mode: str) -> None:
    piece = b"\x00" * (8 << 20)
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        # read while sending: the server answers as soon as it knows and then closes, which resets the
        # connection under the unread rest of the body; the answer must be read before that reset lands
        received = bytearray()
        reader = threading.Thread(target=_read_response, args=(sock, received), daemon=True)
        reader.start()
        sock.sendall(_headers(MAX_BODY + 1 if mode == "length" else None))
        try:
            for _ in range(MAX_BODY // len(piece) + 1):
                sock.sendall(piece if mode == "length" else f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            if mode == "chunked":
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        reader.join(60)
        status, text = _read_response(sock, received) if received else (0, "no answer before the reset")
    assert status == 413, text
    assert "limit" in text


def test_half_closed_short_body_stores_nothing(server: Server) -> None:
    body = write_request("half_closed", 10_000, seed=3)
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(_headers(len(body)) + body[: len(body) // 2])
        sock.shutdown(socket.SHUT_WR)
        received = b"".join(iter(lambda: sock.recv(65536), b""))
    # the connection is closed by then; if an answer still gets out, it is a 400 naming the short body
    assert received == b"" or received.startswith(b"HTTP/1.1 400"), received[:200]
    assert server.samples_of("half_closed") == 0


@pytest.mark.parametrize("mode", ["length", "chunked"])
def test_client_gone_mid_body_stores_nothing_and_server_carries_on(server: Server, mode: str) -> None:
    body = write_request(f"gone_{mode}", 10_000, seed=4)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    half = body[: len(body) // 2]
    sock.sendall(_headers(len(body) if mode == "length" else None)
                 + (half if mode == "length" else f"{len(half):x}\r\n".encode() + half + b"\r\n"))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # reset
    sock.close()
    time.sleep(0.3)
    assert server.samples_of(f"gone_{mode}") == 0
    status, text = send(server.port, write_request("after_gone", 10, seed=5), "length")
    assert status == 204, text


@pytest.mark.parametrize(("declared", "sent", "message"), [(10, b"12345", "ended after 5 of 10"),
                                                            (4, b"12345678", "longer than its Content-Length")])
def test_stream_that_disagrees_with_content_length_is_refused(declared: int, sent: bytes, message: str) -> None:
    async def go() -> None:
        loop = asyncio.get_running_loop()
        reader = StreamReader(BaseProtocol(loop), 2**16, loop=loop)
        reader.feed_data(sent)
        reader.feed_eof()
        request = make_mocked_request("POST", "/api/v1/write", headers={"Content-Length": str(declared)},
                                      payload=reader)
        with pytest.raises(IncompleteBodyError, match=message):
            await read_body(request, MAX_BODY)

    asyncio.run(go())
