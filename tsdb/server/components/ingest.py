"""InfluxDB line protocol and Graphite plaintext ingestion as a server component (docs/integrations.md).

HTTP (always on): ``POST /write`` (InfluxDB 1.x: ``db``, ``precision`` ns/u/ms/s/m/h, ``rp`` ignored) and
``POST /api/v2/write`` (InfluxDB 2.x: ``bucket`` -> label ``db``, ``org`` ignored, ``precision`` ns/us/ms/s),
gzip bodies; 204 when everything was stored, 400 with ``{"code":"invalid","message":...}`` naming the
malformed lines (the valid lines of the body are stored all the same), 429 past the write limits.
``GET /ping`` and ``GET /api/v2/health`` answer the clients' probes.

Listeners (off by default, need a restart to change): ``influx.tcp_listen``/``udp_listen`` take line protocol
over plain TCP (newline-separated) and UDP (one or more lines per datagram); ``graphite.listen`` takes
Graphite plaintext over TCP and UDP on the same address. Bad lines there are counted and logged (at most
once per :data:`LOG_EVERY_S` per protocol).

Counted in /metrics: ``tsdb_ingest_samples_total{protocol}`` (stored) and
``tsdb_ingest_rejected_total{protocol,reason}`` (``invalid_line`` lines, ``string_field`` fields skipped,
and storage rejections by their reason), besides the server-wide write counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import Counter

from tsdb.config import ServerConfig
from tsdb.errors import InvalidArgumentError, StorageError, TsdbError
from tsdb.http_body import BodyTooLargeError, IncompleteBodyError, read_body
from tsdb.ingest import graphite, influx
from tsdb.ingest.batch import Batch
from tsdb.labels import LabelsCache
from tsdb.server.backend import Backend, DecodedWrite, store_write
from tsdb.server.components.base import UNCHANGED, Reload, ServerContext
from tsdb.server.write_limits import TOO_MANY_BYTES

log = logging.getLogger("tsdb.server.ingest")

LOG_EVERY_S = 10.0
"""Bad lines from the listeners are logged at most this often per protocol."""
MAX_PENDING_LINE_BYTES = 1 << 20
"""A TCP sender's partial line longer than this is dropped (counted as an invalid line)."""
TCP_READ_BYTES = 1 << 16


def _split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


class IngestComponent:
    name = "ingest"

    def __init__(self, context: ServerContext) -> None:
        self.context = context
        self.backend: Backend = context.backend
        self.cache = LabelsCache()
        self.graphite_cache = LabelsCache()
        registry = context.metrics.registry
        self.samples = Counter("tsdb_ingest_samples_total", "Samples stored from the ingest protocols (influx, "
                               "graphite), by protocol.", ["protocol"], registry=registry)
        self.rejected = Counter("tsdb_ingest_rejected_total", "Lines, fields and samples of the ingest protocols "
                                "not stored, by protocol and reason.", ["protocol", "reason"], registry=registry)
        self._servers: list[asyncio.AbstractServer] = []
        self._transports: list[asyncio.BaseTransport] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self._last_log: dict[str, float] = {}
        self.ports: dict[str, int] = {}
        """Bound ports of the listeners (``influx_tcp``, ``influx_udp``, ``graphite_tcp``, ``graphite_udp``)."""

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.post("/write", self.write_v1), web.post("/api/v2/write", self.write_v2),
                web.get("/ping", self.ping), web.get("/api/v2/health", self.health)]

    # -- HTTP -------------------------------------------------------------------------------------------
    async def ping(self, request: web.Request) -> web.Response:
        return web.Response(status=204, headers={"X-Influxdb-Version": "1.8.10"})

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"name": "tsdb", "message": "ready for queries and writes", "status": "pass",
                                  "checks": [], "version": "2.7.0", "commit": ""})

    async def write_v1(self, request: web.Request) -> web.Response:
        return await self._counted(request, v2=False)

    async def write_v2(self, request: web.Request) -> web.Response:
        return await self._counted(request, v2=True)

    async def _counted(self, request: web.Request, v2: bool) -> web.Response:
        response = await self._write(request, v2)
        if self.backend.on_write is not None:
            self.backend.on_write("influx", str(response.status))
        return response

    async def _write(self, request: web.Request, v2: bool) -> web.Response:
        query = request.query
        try:
            precision = influx.precision_factor(query.get("precision", ""), v2)
        except InvalidArgumentError as err:
            return _invalid(str(err))
        db = query.get("bucket", "") or query.get("db", "") if v2 else query.get("db", "")
        limiter = self.backend.write_limiter
        ticket = None
        if limiter is not None:
            admitted = limiter.admit(request.content_length or 0)
            if isinstance(admitted, str):
                if self.backend.on_write_refused is not None:
                    self.backend.on_write_refused("influx", admitted)
                response = web.Response(status=429, text=limiter.refusal_text(admitted),
                                        headers={"Retry-After": str(limiter.retry_after_s)})
                response.force_close()
                return response
            ticket = admitted
        try:
            try:
                body = await read_body(request, self.backend.max_body_bytes)
            except BodyTooLargeError as err:
                return web.json_response({"code": "request too large", "message": str(err)}, status=413)
            except IncompleteBodyError as err:
                return _invalid(str(err))
            # a gzip body inflates past its Content-Length; decoding takes about the body's size again
            if ticket is not None and not ticket.reserve(2 * len(body) - ticket.nbytes):
                assert limiter is not None
                if self.backend.on_write_refused is not None:
                    self.backend.on_write_refused("influx", TOO_MANY_BYTES)
                return web.Response(status=429, text=limiter.refusal_text(TOO_MANY_BYTES),
                                    headers={"Retry-After": str(limiter.retry_after_s)})
            loop = asyncio.get_running_loop()
            try:
                batch, stored, refused = await loop.run_in_executor(
                    self.context.executor, self._ingest_influx, body, precision, db)
            except StorageError as err:
                return web.json_response({"code": "unavailable", "message": f"storage error: {err}"}, status=503)
            except (TsdbError, ValueError) as err:
                return _invalid(str(err))
        finally:
            if ticket is not None:
                ticket.release()
        problems = []
        if batch.bad_lines:
            problems.append(f"{batch.bad_lines} malformed line(s): {batch.error_text()}")
        if refused:
            problems.append(f"rejected: {refused}")
        if problems:
            return _invalid(f"{stored} samples stored; " + "; ".join(problems))
        return web.Response(status=204)

    # -- decoding and storing (worker threads) ----------------------------------------------------------
    def _ingest_influx(self, body: bytes | bytearray, precision: tuple[int, int], db: str
                       ) -> tuple[Batch, int, str]:
        batch = influx.parse(body, int(time.time() * 1000), precision, db, self.cache)
        return (batch, *self._store("influx", batch))

    def _store(self, protocol: str, batch: Batch) -> tuple[int, str]:
        """Append ``batch``, count it; (samples stored, readable summary of storage rejections)."""
        if batch.bad_lines:
            self._reject(protocol, "invalid_line", batch.bad_lines)
        if batch.skipped_strings:
            self._reject(protocol, "string_field", batch.skipped_strings)
        if not batch.num_samples:
            return 0, ""
        result = store_write(self.backend, DecodedWrite(batch.labels, batch.offsets, batch.ts, batch.values))
        self.samples.labels(protocol).inc(result.accepted)
        for reason, rejection in result.rejected.items():
            self.rejected.labels(protocol, reason).inc(rejection.count)
        return result.accepted, result.summary()

    def _reject(self, protocol: str, reason: str, count: int) -> None:
        self.rejected.labels(protocol, reason).inc(count)
        if self.backend.on_rejected is not None:
            self.backend.on_rejected(f"{protocol}_{reason}", count)

    def _ingest_stream(self, protocol: str, data: bytes) -> None:
        """Decode and store lines received by a TCP or UDP listener; problems are counted and logged."""
        now = int(time.time() * 1000)
        try:
            if protocol == "influx":
                batch = influx.parse(data, now, cache=self.cache)
            else:
                batch = graphite.parse(data, now, self.graphite_cache)
            _, refused = self._store(protocol, batch)
        except Exception as err:  # a storage fault must not end the listener
            self._log(protocol, "storing received lines failed", str(err))
            return
        if batch.bad_lines or refused:
            self._log(protocol, "lines not stored", batch.error_text() or refused)

    def _log(self, protocol: str, what: str, detail: str) -> None:
        now = time.monotonic()
        if now - self._last_log.get(protocol, -LOG_EVERY_S) >= LOG_EVERY_S:
            self._last_log[protocol] = now
            log.warning(what, extra={"protocol": protocol, "detail": detail[:500]})

    # -- listeners --------------------------------------------------------------------------------------
    async def start(self) -> None:
        config = self.context.config
        wanted = [("influx", config.influx.tcp_listen, config.influx.udp_listen),
                  ("graphite", config.graphite.listen, config.graphite.listen)]
        loop = asyncio.get_running_loop()
        try:
            for protocol, tcp, udp in wanted:
                if tcp:
                    host, port = _split_address(tcp)
                    server = await asyncio.start_server(self._tcp_handler(protocol), host, port)
                    self._servers.append(server)
                    self.ports[f"{protocol}_tcp"] = server.sockets[0].getsockname()[1]
                if udp:
                    host, port = _split_address(udp)
                    if protocol == "graphite" and port == 0 and "graphite_tcp" in self.ports:
                        port = self.ports["graphite_tcp"]  # one address for both, as Graphite's carbon
                    transport, _ = await loop.create_datagram_endpoint(
                        functools.partial(_Datagrams, self, protocol), local_addr=(host, port))
                    self._transports.append(transport)
                    self.ports[f"{protocol}_udp"] = transport.get_extra_info("sockname")[1]
        except OSError:
            await self.stop()
            raise
        if self.ports:
            log.info("ingest listeners started", extra={k: v for k, v in self.ports.items()})

    def _tcp_handler(self, protocol: str) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            loop = asyncio.get_running_loop()
            pending = b""
            self._writers.add(writer)
            try:
                while True:  # ends at the sender's EOF (or a broken connection)
                    chunk = await reader.read(TCP_READ_BYTES)
                    if not chunk:
                        break
                    pending += chunk
                    cut = pending.rfind(b"\n")
                    if cut < 0:
                        if len(pending) > MAX_PENDING_LINE_BYTES:
                            self._reject(protocol, "invalid_line", 1)
                            self._log(protocol, "line too long, dropped", f"{len(pending)} bytes")
                            pending = b""
                        continue
                    ready, pending = pending[:cut + 1], pending[cut + 1:]
                    await loop.run_in_executor(self.context.executor, self._ingest_stream, protocol, ready)
                if pending.strip():
                    await loop.run_in_executor(self.context.executor, self._ingest_stream, protocol, pending)
            except (ConnectionError, asyncio.IncompleteReadError, RuntimeError):
                pass  # the sender left, or the server is stopping (its request threads are gone)
            finally:
                self._writers.discard(writer)
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
        return handle

    async def prepare_reload(self, config: ServerConfig) -> Reload:
        return UNCHANGED  # listener addresses need a restart (the server warns)

    async def stop(self) -> None:
        for transport in self._transports:
            transport.close()
        self._transports = []
        for server in self._servers:
            server.close()
        for writer in list(self._writers):  # senders keep connections open: end them, their handlers finish
            writer.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 5)
        self._servers = []


class _Datagrams(asyncio.DatagramProtocol):
    """Each datagram holds whole lines; decoding and storing run on the request threads."""

    def __init__(self, component: IngestComponent, protocol: str) -> None:
        self.component, self.protocol = component, protocol

    def datagram_received(self, data: bytes, addr: Any) -> None:
        loop = asyncio.get_running_loop()
        loop.run_in_executor(self.component.context.executor, self.component._ingest_stream, self.protocol, data)


def _invalid(message: str) -> web.Response:
    """400 in InfluxDB 2.x's error shape (``error`` too, which 1.x clients read)."""
    return web.json_response({"code": "invalid", "message": message, "error": message}, status=400)


def build(context: ServerContext) -> Any:
    return IngestComponent(context)
