"""The StatsD / DogStatsD listener as a server component (``statsd:`` section, off by default; docs/integrations.md).

Built only when ``statsd.listen`` or ``statsd.unix_socket`` is set; changing the section needs a restart. Its
own metrics: ``tsdb_statsd_datagrams_total{transport}``, ``tsdb_statsd_lines_total{outcome}`` (accepted,
ignored, rejected), ``tsdb_statsd_lines_rejected_total{reason}`` and ``tsdb_statsd_tag_errors_total``; every
datagram also counts in ``tsdb_write_requests_total{protocol="statsd"}`` (code ``ok`` or ``invalid`` when a
line was rejected) and the flushed samples in ``tsdb_samples_appended_total``."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from prometheus_client import Counter

from tsdb.config import ServerConfig
from tsdb.ingest.statsd import IngestResult, ListenerStats, StatsdListener
from tsdb.server.components.base import UNCHANGED, Reload, ServerContext


class StatsdComponent:
    name = "statsd"

    def __init__(self, context: ServerContext) -> None:
        options = context.config.statsd
        registry, metrics = context.metrics.registry, context.metrics
        self.datagrams = Counter("tsdb_statsd_datagrams_total", "StatsD datagrams received, by transport.",
                                 ["transport"], registry=registry)
        self.lines = Counter("tsdb_statsd_lines_total", "StatsD lines received, by outcome (accepted, ignored "
                             "events and service checks, rejected).", ["outcome"], registry=registry)
        self.rejected = Counter("tsdb_statsd_lines_rejected_total", "StatsD lines rejected, by reason.", ["reason"],
                                registry=registry)
        self.tag_errors = Counter("tsdb_statsd_tag_errors_total", "DogStatsD tags dropped (no colon, empty key "
                                  "or value, reserved name).", registry=registry)

        def on_datagram(transport: str) -> None:
            self.datagrams.labels(transport).inc()

        def on_batch(result: IngestResult, datagrams: int) -> None:
            self.lines.labels("accepted").inc(result.accepted)
            if result.ignored:
                self.lines.labels("ignored").inc(result.ignored)
            for reason, count in result.rejected.items():
                self.lines.labels("rejected").inc(count)
                self.rejected.labels(reason).inc(count)
            if result.tag_errors:
                self.tag_errors.inc(result.tag_errors)
            # tsdb_write_requests_total (SelfMetrics.record_write counts one request per call)
            if datagrams > result.invalid_datagrams:
                metrics.write_requests.labels("statsd", "ok").inc(datagrams - result.invalid_datagrams)
            if result.invalid_datagrams:
                metrics.write_requests.labels("statsd", "invalid").inc(result.invalid_datagrams)

        # the head's commit listener already counts stored and rejected samples (record_commit)
        self.listener = StatsdListener(context.db, options.listen, options.unix_socket,
                                       options.flush_interval_ms / 1000, options.quantiles,
                                       ListenerStats(on_datagram, on_batch), context.executor)

    def routes(self) -> list[web.AbstractRouteDef]:
        return []

    async def start(self) -> None:
        await self.listener.start()

    async def prepare_reload(self, config: ServerConfig) -> Reload:
        return UNCHANGED  # the section is not reloadable (the server logs that a change needs a restart)

    async def stop(self) -> None:
        await self.listener.stop()


def build(context: ServerContext) -> Any:
    return StatsdComponent(context) if context.config.statsd.enabled else None
