"""The composition root: opens storage, builds the engine and front ends, runs until a signal.

``Server`` owns the lifecycle: ``start()`` opens the DB (replaying its WAL), starts the HTTP API and the
gRPC service and the background maintenance thread (head compaction, block compaction, retention);
``stop()`` shuts them down in reverse order and closes the DB, so every acknowledged write is on disk.
SIGTERM/SIGINT (and ``POST /-/quit`` with ``web_enable_lifecycle``) stop the server gracefully.

SIGHUP and ``POST /-/reload`` (with ``web_enable_lifecycle``) reload the configuration: ``reload_config``
(from the CLI: the config file read again, flags applied again) gives the new :class:`ServerConfig`; its
component sections (``rules``, ``notifications``, ``scrape``, ``collect``, ``dashboards``) are validated by
every component first and applied only when all of them are good, so a bad file changes nothing; ``web_roles``,
``ingest`` and ``otlp`` apply with them. The outcome is logged, exported as
``tsdb_config_last_reload_successful`` and ``tsdb_config_last_reload_success_timestamp_seconds``, and
answered by the endpoint (200, or 500 with the error). Other settings (listen addresses, storage, query
limits, logging, external labels and URL) need a restart; a reload that changes them logs a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from aiohttp import web

from tsdb.config import IngestOptions, ServerConfig
from tsdb.errors import ConfigError
from tsdb.query.engine.engine import Engine
from tsdb.query.parser.parser import parse, parse_matchers
from tsdb.query.value import Annotations, Value
from tsdb.server import grpc_auth, status
from tsdb.server.auth import Access
from tsdb.server.backend import Backend
from tsdb.server.components.base import COMPONENT_FACTORIES, Component, Reload, ServerContext, load_factories
from tsdb.server.datadog_api import DatadogApi
from tsdb.server.global_view import global_queryable
from tsdb.server.grpc_service import start_grpc_server
from tsdb.server.http_api import HttpApi
from tsdb.server.memory_report import log_memory_report
from tsdb.server.native_memory import limit_arenas, release_free_memory
from tsdb.server.otlp_api import OtlpApi
from tsdb.server.query_limits import QueryScheduler, WritePriority
from tsdb.server.remote_read import ReadLimits
from tsdb.server.self_metrics import SelfMetrics
from tsdb.server.thanos_store import ThanosStore, raw_time_range
from tsdb.server.webconfig import WebConfigWatcher
from tsdb.server.write_limits import WriteLimiter
from tsdb.storage.db import DB
from tsdb.storage.limits import SeriesLimits
from tsdb.storage.remote.querier import GlobalQueryable

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


MAINTENANCE_STOP_WAIT_S = 10.0
"""How long ``stop`` waits for the maintenance thread before saying so in the log (it then waits on)."""
SLOW_STOP_STEP_S = 1.0
"""A step of a stop that takes longer than this is logged (``slow stop step``) with its duration."""
MALLOC_ARENAS = max(2, os.cpu_count() or 1)
"""C heap arenas the server's threads share: one per core (glibc's default, 8 per core, keeps far more freed
memory resident)."""

# ServerConfig fields a reload applies; every other field needs a restart.
RELOADABLE = ("rules", "slos", "notifications", "scrape", "collect", "dashboards", "web_roles", "ingest",
              "otlp", "datadog", "remote_write")


async def _reload_logged(server: Server) -> None:
    with contextlib.suppress(Exception):  # logged and counted by reload(); the server runs on
        await server.reload()


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

    def instant_annotated(self, query: str, t_ms: int, max_source_resolution: str = "auto",
                          timeout_s: float | None = None) -> tuple[Value, Annotations]:
        with self._metrics.query_duration.labels("instant").time():
            return self._engine.instant_annotated(query, t_ms, max_source_resolution, timeout_s)

    def range_annotated(self, query: str, start_ms: int, end_ms: int, step_ms: int,
                        max_source_resolution: str = "auto", timeout_s: float | None = None
                        ) -> tuple[Value, Annotations]:
        with self._metrics.query_duration.labels("range").time():
            return self._engine.range_annotated(query, start_ms, end_ms, step_ms, max_source_resolution, timeout_s)


class Server:
    """One running tsdb server."""

    def __init__(self, config: ServerConfig, reload_config: Callable[[], ServerConfig] | None = None,
                 config_file: str = "") -> None:
        """``reload_config`` gives the configuration a reload applies (default: ``config`` again, so the
        files it names, such as rule files, are re-read); ``config_file`` is only reported (status pages)."""
        self.config = config
        self.config_file = config_file
        self.reload_config = reload_config
        self.metrics = SelfMetrics()
        limit_arenas(MALLOC_ARENAS)
        self.executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="tsdb-worker")
        self.db: DB | None = None
        self._runner: web.AppRunner | None = None
        self._grpc: grpc.aio.Server | None = None
        self._maintenance: threading.Thread | None = None
        self.request_quit: Callable[[], None] | None = None  # set by serve_forever: what /-/quit calls
        self._stopping = threading.Event()
        self.components: list[Component] = []
        self._off: list[str] = []  # factories that built nothing ("module:function")
        self._reload_lock = asyncio.Lock()
        self.context: ServerContext | None = None
        self.http_port = 0
        self.grpc_port = 0
        self.web: WebConfigWatcher | None = None
        self.global_view: GlobalQueryable | None = None

    async def start(self) -> None:
        started = time.monotonic()
        db = DB.open(self.config.data_dir, self.config.storage)
        self.db = db
        self.global_view = global_queryable(db, self.config.query, self.metrics.registry)  # query.stores
        queryable = self.global_view or db
        engine = Engine.from_options(queryable, self.config.query)
        if engine.result_cache is not None:
            self.metrics.bind_result_cache(engine.result_cache)
        backend = Backend(queryable=queryable, appendable=db, engine=TimedEngine(engine, self.metrics),
                          parse_matchers=parse_matchers, format_query=lambda text: str(parse(text)),
                          max_body_bytes=self.config.max_body_bytes,
                          max_points=self.config.query.max_points_per_series, on_write=self.metrics.record_write,
                          max_samples=self.config.query.max_samples, max_series=self.config.query.max_series,
                          lookback_delta_ms=self.config.query.lookback_delta_ms,
                          external_labels=dict(self.config.external_labels),
                          on_rejected=self.metrics.record_rejected, metadata=db.metadata,
                          status_tsdb=db.status, status_config=lambda: status.config_yaml(self.config),
                          status_flags=lambda: status.flags(self.config, self.config_file))
        backend.on_write_refused = self.metrics.record_write_refused
        self._apply_ingest(backend, db, self.config.ingest)
        q = self.config.query  # queries on their own, lower-priority threads: writes keep theirs
        pacer = WritePriority(lambda: backend.write_limiter.requests if backend.write_limiter else 0,
                              q.write_share, self.metrics.query_write_pauses.inc)
        queries = backend.queries = QueryScheduler(q.max_concurrency or os.cpu_count() or 1, q.max_queue,
                                                   q.timeout_ms / 1000, self.metrics.record_query_refused,
                                                   q.thread_niceness, pacer)
        self.metrics.bind_query_queue(lambda: queries.waiting, lambda: queries.running)
        backend.status_runtime = lambda: status.runtime_info(
            self.config, backend.start_time, self.metrics.reload_ok, self.metrics.reload_time, len(db.repairs))
        self.metrics.bind_gauges(lambda: db.num_series, lambda: db.wal_size_bytes, lambda: len(db.blocks))
        self.metrics.bind_maintenance(db)
        db.head.commit_listeners.append(self.metrics.record_commit)

        # The web config file (TLS, basic auth) is read first: a bad one stops the start-up (docs/security.md).
        self.web = WebConfigWatcher(self.config.web_config_file) if self.config.web_config_file else None
        access = Access(self.web, lambda: self.config.web_roles, self.config.web_enable_admin_api,
                        self.config.web_cors_origin, self.executor)
        app = web.Application(client_max_size=self.config.max_body_bytes,
                              middlewares=[self._count_requests, access.middleware])
        app.on_response_prepare.append(access.on_prepare)
        app.add_routes(DatadogApi(backend, self.executor, lambda: self.config.datadog).merged(
            HttpApi(backend, self.executor).routes()))  # POST /api/v1/series is shared (see DatadogApi)
        otlp_api = OtlpApi(backend, self.executor, lambda: self.config.otlp)
        app.add_routes(otlp_api.routes())
        app.on_cleanup.append(lambda _: asyncio.to_thread(queries.close))  # after gRPC stopped (see stop)
        app.router.add_get("/metrics", self._metrics_handler)
        app.router.add_post("/-/reload", self._reload_handler)
        app.router.add_put("/-/reload", self._reload_handler)
        app.router.add_post("/-/quit", self._quit_handler)
        app.router.add_put("/-/quit", self._quit_handler)
        host, port = split_address(self.config.http_listen)
        # Bind first so the external URL names the real port (port 0 in tests).
        self._runner = web.AppRunner(app, access_log=None)
        sock = _bind(host, port)
        self.http_port = sock.getsockname()[1]
        self.context = ServerContext(
            config=self.config, db=db, backend=backend, query=engine.instant, executor=self.executor,
            metrics=self.metrics, external_url=self.config.external_url or
            f"{'https' if self.web and self.web.tls_enabled else 'http'}://{host}:{self.http_port}",
            config_file=self.config_file)
        for spec, factory in zip(COMPONENT_FACTORIES, load_factories(), strict=True):
            component = factory(self.context)
            if component is None:
                self._off.append(spec)
                continue
            app.add_routes(component.routes())
            self.components.append(component)
        self.metrics.record_reload(True)
        await self._runner.setup()
        site = web.SockSite(self._runner, sock, ssl_context=self.web.ssl_context() if self.web else None)
        await site.start()
        for component in self.components:
            await component.start()

        self._grpc, self.grpc_port = await start_grpc_server(
            backend, self.config.grpc_listen, self.executor, self.config.max_body_bytes,
            grpc_auth.server_credentials(self.web) if self.web else None,
            [grpc_auth.BasicAuthInterceptor(access, lambda: self.config.web_roles)] if self.web else [],
            [otlp_api.grpc_handler(), *ThanosStore(
                db, self.executor, lambda: self.config.external_labels, lambda: raw_time_range(db),
                ReadLimits(self.config.query.max_samples, self.config.query.max_series)).handlers()])
        self._maintenance = threading.Thread(target=self._maintain, name="tsdb-maintenance", daemon=True)
        self._maintenance.start()
        log.info("tsdb started", extra={"data_dir": self.config.data_dir, "http": f"{host}:{self.http_port}",
                                        "grpc_port": self.grpc_port, "series": db.num_series,
                                        "startup_s": round(time.monotonic() - started, 3)})

    @staticmethod
    def _apply_ingest(backend: Backend, db: DB, ingest: IngestOptions) -> None:
        """Put the write limits of ``ingest`` in force (at start and on reload; requests in flight keep
        the limiter that admitted them)."""
        backend.write_limiter = WriteLimiter(ingest.max_inflight_requests, ingest.max_inflight_bytes,
                                             ingest.retry_after_ms / 1000)
        db.head.set_limits(SeriesLimits(ingest.max_series, ingest.max_series_per_metric,
                                        ingest.max_label_names_per_series, ingest.max_label_name_length,
                                        ingest.max_label_value_length))

    async def reload(self) -> None:
        """Re-read the configuration and apply it to every component, all or nothing (SIGHUP,
        ``POST /-/reload``); raises (after logging and counting the failure) when it is bad."""
        async with self._reload_lock:
            try:
                changed = await self._reload()
            except Exception as err:
                self.metrics.record_reload(False)
                log.error("reload failed", extra={"error": str(err)})
                raise
            self.metrics.record_reload(True)
            log.info("configuration reloaded", extra={"components": ",".join(c.name for c in self.components),
                                                      "changed": ",".join(changed)})

    async def _reload(self) -> list[str]:
        """Phase 1: load and validate everything; phase 2: apply. Returns the names of changed components."""
        assert self.context is not None, "reload before start"
        loop = asyncio.get_running_loop()
        new = self.config if self.reload_config is None else \
            await loop.run_in_executor(self.executor, self.reload_config)
        restart = [f.name for f in dataclasses.fields(ServerConfig)
                   if f.name not in RELOADABLE and getattr(new, f.name) != getattr(self.config, f.name)]
        config = dataclasses.replace(self.config, **{name: getattr(new, name) for name in RELOADABLE})
        for spec in self._off:
            module = importlib.import_module(spec.partition(":")[0])
            wanted = getattr(module, "wanted", None)
            if wanted is not None and wanted(config):
                raise ConfigError(f"{module.__name__.rpartition('.')[2]}: turning it on needs a restart")
        plans: list[Reload] = []
        try:
            for component in self.components:
                plans.append(await component.prepare_reload(config))
        except BaseException:
            for plan in plans:
                try:
                    await plan.discard()
                except Exception:
                    log.exception("discarding a prepared reload failed")
            raise
        failed: list[str] = []
        for component, plan in zip(self.components, plans, strict=True):
            try:
                await plan.apply()
            except Exception:  # the others still apply: this component runs on as before
                log.exception("applying configuration failed", extra={"component": component.name})
                failed.append(component.name)
        if config.ingest != self.config.ingest and self.db is not None:
            self._apply_ingest(self.context.backend, self.db, config.ingest)
        self.config = self.context.config = config
        if restart:
            log.warning("configuration changes need a restart", extra={"fields": ",".join(restart)})
        if failed:
            raise RuntimeError(f"applying configuration failed in {', '.join(failed)} (see the log)")
        return [c.name for c, plan in zip(self.components, plans, strict=True) if plan.changed]

    @web.middleware
    async def _count_requests(self, request: web.Request,
                              handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        """Count every HTTP request by its route pattern (``/api/v1/label/{name}/values``) and status."""
        resource = request.match_info.route.resource
        name = resource.canonical if resource is not None else "unmatched"
        try:
            response = await handler(request)
        except web.HTTPException as err:
            self.metrics.record_http(name, err.status)
            raise
        except BaseException:
            self.metrics.record_http(name, 500)
            raise
        self.metrics.record_http(name, response.status)
        return response

    async def _reload_handler(self, request: web.Request) -> web.Response:
        if not self.config.web_enable_lifecycle:  # as Prometheus without --web.enable-lifecycle
            return web.Response(status=403, text="Lifecycle API is not enabled.")
        try:
            await self.reload()
        except Exception as err:  # a bad config file must not take the server down
            return web.Response(status=500, text=f"failed to reload config: {err}\n")
        return web.Response(text="")

    async def _quit_handler(self, request: web.Request) -> web.Response:
        """``POST /-/quit``: a graceful stop, as SIGTERM (with ``web_enable_lifecycle``, as Prometheus)."""
        if not self.config.web_enable_lifecycle:
            return web.Response(status=403, text="Lifecycle API is not enabled.")
        if self.request_quit is None:
            return web.Response(status=503, text="this server is stopped by its embedding program\n")
        log.info("termination requested over HTTP")
        asyncio.get_running_loop().call_later(0.1, self.request_quit)  # once the answer is on its way
        return web.Response(text="Requesting termination... Goodbye!")

    async def _metrics_handler(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.exposition(), content_type="text/plain",
                            charset="utf-8", headers={"X-Content-Type": "version=0.0.4"})

    def _maintain(self) -> None:
        """Background loop: cut blocks from the head, compact, write tiers, apply retention, every
        ``storage.compaction_interval`` and as soon as a head range is due (a backfill fills the head in
        seconds). A failed stage is logged and counted by the DB (the later ones still run) and retried at the
        next interval, not sooner."""
        interval = self.config.storage.compaction_interval_ms / 1000
        while not self._stopping.is_set():
            db = self.db
            if db is None:
                return
            db.wait_for_maintenance(interval)
            if self._stopping.is_set():
                return
            try:
                with self.metrics.compaction_duration.time():
                    report = db.maintain()
                release_free_memory()  # what persisting, compacting and tier writes freed
            except Exception:
                log.exception("maintenance failed")
                report = None
            if report is None or report.failed:
                self._stopping.wait(interval)  # a failing stage is retried at the interval, never in a loop

    async def stop(self) -> None:
        """Stop everything and close the DB. A running maintenance is stopped at its next safe point (its
        partial output discarded, redone at the next start), so this returns within seconds. A step that
        takes longer than :data:`SLOW_STOP_STEP_S` is logged with its duration."""
        self._stopping.set()
        if self.db is not None:
            self.db.stop_maintenance()  # at once: it winds down while the front ends stop
        step = _StopSteps()
        for component in reversed(self.components):
            try:
                await component.stop()
            except Exception:
                log.exception("component stop failed", extra={"component": component.name})
            step.done(f"component {component.name}")
        self.components = []
        if self._grpc is not None:
            await self._grpc.stop(grace=2)
            step.done("gRPC server")
        if self._runner is not None:
            await self._runner.cleanup()
            step.done("HTTP server")
        if self._maintenance is not None:
            self._maintenance.join(timeout=MAINTENANCE_STOP_WAIT_S)
            if self._maintenance.is_alive():  # db.close() below still waits: a block is never cut in half
                log.warning("maintenance is slow to stop", extra={"waited_s": MAINTENANCE_STOP_WAIT_S})
            step.done("maintenance")
        self.executor.shutdown(wait=True)
        if self.global_view is not None:
            self.global_view.close()
        step.done("request threads")
        if self.db is not None:
            self.db.close()
            self.db = None
            step.done("storage close")
        log.info("tsdb stopped")


class _StopSteps:
    """Times the steps of a stop; :meth:`done` logs a step that took longer than :data:`SLOW_STOP_STEP_S`."""

    def __init__(self) -> None:
        self._last = time.monotonic()

    def done(self, step: str) -> None:
        now = time.monotonic()
        if now - self._last > SLOW_STOP_STEP_S:
            log.warning("slow stop step", extra={"step": step, "seconds": round(now - self._last, 2)})
        self._last = now


async def serve_forever(config: ServerConfig, ready: Any = None,
                        reload_config: Callable[[], ServerConfig] | None = None, config_file: str = "") -> None:
    """Start a server and run until SIGTERM or SIGINT; SIGHUP reloads (see :meth:`Server.reload`), SIGUSR2 logs
    a memory report (:mod:`tsdb.server.memory_report`)."""
    server = Server(config, reload_config, config_file)
    await server.start()
    if ready is not None:
        ready(server)
    stop = asyncio.Event()
    server.request_quit = stop.set
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(_reload_logged(server)))
    loop.add_signal_handler(signal.SIGUSR2, log_memory_report)
    try:
        await stop.wait()
    finally:
        await server.stop()
