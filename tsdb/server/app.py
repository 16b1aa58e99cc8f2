"""The composition root: opens storage, builds the engine and front ends, runs until a signal.

``Server`` owns the lifecycle: ``start()`` opens the DB (replaying its WAL), starts the HTTP API and the
gRPC service and the background maintenance thread (head compaction, block compaction, retention);
``stop()`` shuts them down in reverse order and closes the DB, so every acknowledged write is on disk.
SIGTERM/SIGINT stop the server gracefully.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from aiohttp import web

from tsdb.config import ServerConfig
from tsdb.query.engine.engine import Engine
from tsdb.query.parser.parser import parse, parse_matchers
from tsdb.query.value import Value
from tsdb.server.backend import Backend
from tsdb.server.components import Component, ServerContext, load_factories
from tsdb.server.grpc_service import start_grpc_server
from tsdb.server.http_api import HttpApi
from tsdb.server.self_metrics import SelfMetrics
from tsdb.storage.db import DB

log = logging.getLogger("tsdb.server")


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (IPv6 when the host says so)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def _reload_logged(server: Server) -> None:
    try:
        await server.reload()
    except Exception as err:
        log.error("reload failed", extra={"error": str(err)})


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` -> (host, port); ``[::1]:9201`` works too."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"invalid listen address {address!r}: expected host:port")
    return host.strip("[]"), int(port)


class TimedEngine:
    """The engine with query latency recorded in the self metrics."""

    def __init__(self, engine: Engine, metrics: SelfMetrics) -> None:
        self._engine = engine
        self._metrics = metrics

    def instant(self, query: str, t_ms: int, max_source_resolution: str = "auto") -> Value:
        with self._metrics.query_duration.labels("instant").time():
            return self._engine.instant(query, t_ms, max_source_resolution)

    def range(self, query: str, start_ms: int, end_ms: int, step_ms: int, max_source_resolution: str = "auto"
              ) -> Value:
        with self._metrics.query_duration.labels("range").time():
            return self._engine.range(query, start_ms, end_ms, step_ms, max_source_resolution)


class Server:
    """One running tsdb server."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.metrics = SelfMetrics()
        self.executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="tsdb-worker")
        self.db: DB | None = None
        self._runner: web.AppRunner | None = None
        self._grpc: grpc.aio.Server | None = None
        self._maintenance: threading.Thread | None = None
        self._stopping = threading.Event()
        self.components: list[Component] = []
        self.context: ServerContext | None = None
        self.http_port = 0
        self.grpc_port = 0

    async def start(self) -> None:
        started = time.monotonic()
        db = DB.open(self.config.data_dir, self.config.storage)
        self.db = db
        engine = Engine.from_options(db, self.config.query)
        backend = Backend(queryable=db, appendable=db, engine=TimedEngine(engine, self.metrics),
                          parse_matchers=parse_matchers, format_query=lambda text: str(parse(text)),
                          max_body_bytes=self.config.max_body_bytes, on_write=self.metrics.record_commit,
                          status_tsdb=db.status)
        self.metrics.bind_gauges(lambda: db.num_series, lambda: db.wal_size_bytes, lambda: len(db.blocks))

        app = web.Application(client_max_size=self.config.max_body_bytes)
        app.add_routes(HttpApi(backend, self.executor).routes())
        app.router.add_get("/metrics", self._metrics_handler)
        app.router.add_post("/-/reload", self._reload_handler)
        app.router.add_put("/-/reload", self._reload_handler)
        host, port = split_address(self.config.http_listen)
        # Bind first so the external URL names the real port (port 0 in tests).
        self._runner = web.AppRunner(app, access_log=None)
        sock = _bind(host, port)
        self.http_port = sock.getsockname()[1]
        self.context = ServerContext(
            config=self.config, db=db, backend=backend, query=engine.instant, executor=self.executor,
            metrics=self.metrics, external_url=self.config.external_url or f"http://{host}:{self.http_port}")
        for factory in load_factories():
            component = factory(self.context)
            if component is not None:
                app.add_routes(component.routes())
                self.components.append(component)
        await self._runner.setup()
        site = web.SockSite(self._runner, sock)
        await site.start()
        for component in self.components:
            await component.start()

        self._grpc, self.grpc_port = await start_grpc_server(backend, self.config.grpc_listen, self.executor,
                                                             self.config.max_body_bytes)
        self._maintenance = threading.Thread(target=self._maintain, name="tsdb-maintenance", daemon=True)
        self._maintenance.start()
        log.info("tsdb started", extra={"data_dir": self.config.data_dir, "http": f"{host}:{self.http_port}",
                                        "grpc_port": self.grpc_port, "series": db.num_series,
                                        "startup_s": round(time.monotonic() - started, 3)})

    async def reload(self) -> None:
        """Re-read every component's configuration (SIGHUP, ``POST /-/reload``); raises on bad config."""
        for component in self.components:
            await component.reload()
        log.info("configuration reloaded", extra={"components": [c.name for c in self.components]})

    async def _reload_handler(self, request: web.Request) -> web.Response:
        try:
            await self.reload()
        except Exception as err:  # a bad config file must not take the server down
            log.error("reload failed", extra={"error": str(err)})
            return web.Response(status=500, text=f"failed to reload config: {err}\n")
        return web.Response(text="")

    async def _metrics_handler(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.exposition(), content_type="text/plain",
                            charset="utf-8", headers={"X-Content-Type": "version=0.0.4"})

    def _maintain(self) -> None:
        """Background loop: cut blocks from the head, compact, apply retention."""
        interval = self.config.storage.compaction_interval_ms / 1000
        while not self._stopping.wait(interval):
            db = self.db
            if db is None:
                return
            try:
                with self.metrics.compaction_duration.time():
                    db.maintain()
            except Exception:
                log.exception("maintenance failed")

    async def stop(self) -> None:
        self._stopping.set()
        for component in reversed(self.components):
            try:
                await component.stop()
            except Exception:
                log.exception("component stop failed", extra={"component": component.name})
        self.components = []
        if self._grpc is not None:
            await self._grpc.stop(grace=2)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._maintenance is not None:
            self._maintenance.join(timeout=60)
        self.executor.shutdown(wait=True)
        if self.db is not None:
            self.db.close()
            self.db = None
        log.info("tsdb stopped")


async def serve_forever(config: ServerConfig, ready: Any = None) -> None:
    """Start a server and run until SIGTERM or SIGINT."""
    server = Server(config)
    await server.start()
    if ready is not None:
        ready(server)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(_reload_logged(server)))
    try:
        await stop.wait()
    finally:
        await server.stop()
