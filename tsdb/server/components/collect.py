"""Built-in collection as a server component (``collect:`` section, on by default in ``tsdb serve``): host metrics
(tsdb/scrape/host.py) and the server's own /metrics, appended directly every ``interval`` (no HTTP hop).
The collector's own cost is exported as ``tsdb_collector_duration_seconds``.

Always built; it collects nothing while both ``host`` and ``self`` are off. A reload applies new ``host``,
``self`` and ``interval`` settings (the loop restarts when the interval changes or collection turns on)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
from aiohttp import web
from prometheus_client import Histogram

from tsdb.config import ServerConfig, parse_duration_ms
from tsdb.errors import ConfigError, TsdbError
from tsdb.labels import Labels
from tsdb.scrape.exposition import parse_text
from tsdb.scrape.host import collect_host, host_metadata, hostname
from tsdb.server.components.base import UNCHANGED, Reload, ServerContext, run_every
from tsdb.storage.metadata import MetricMetadata

_KEYS = {"host", "self", "interval"}
HOST_JOB = "tsdb-host"
"""``job`` of the built-in host metrics (distinct from a real node exporter's series)."""
SELF_JOB = "tsdb"
"""``job`` of the server's own metrics."""


SCRAPE_META = [MetricMetadata("up", "gauge", "Whether the last collection succeeded (1) or not (0)."),
               MetricMetadata("scrape_duration_seconds", "gauge", "Duration of the collection in seconds."),
               MetricMetadata("scrape_samples_scraped", "gauge", "The number of samples the collection returned."),
               MetricMetadata("scrape_samples_post_metric_relabeling", "gauge",
                              "The number of samples stored from the collection.")]


def _scrape_series(job: str, instance: str, duration_s: float, count: int) -> list[tuple[dict[str, str], float]]:
    """The series Prometheus adds for every scrape (``up``, ``scrape_duration_seconds``, …), for one built-in
    collection, so queries and alerts written for scraped jobs work on it unchanged."""
    base = {"job": job, "instance": instance}
    return [({**base, "__name__": "up"}, 1.0),
            ({**base, "__name__": "scrape_duration_seconds"}, duration_s),
            ({**base, "__name__": "scrape_samples_scraped"}, float(count)),
            ({**base, "__name__": "scrape_samples_post_metric_relabeling"}, float(count))]


class CollectComponent:
    name = "collect"

    def __init__(self, context: ServerContext, host: bool, self_metrics: bool, interval_s: float) -> None:
        self.context, self.host, self.self_metrics, self.interval_s = context, host, self_metrics, interval_s
        self.instance = hostname()
        self._duration: Histogram | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._started = False

    @property
    def duration(self) -> Histogram:
        """``tsdb_collector_duration_seconds``, registered when collection first runs (so a server that
        never collects does not export it)."""
        if self._duration is None:
            self._duration = Histogram("tsdb_collector_duration_seconds", "Time one built-in collection takes.",
                                       ["collector"], buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1),
                                       registry=self.context.metrics.registry)
        return self._duration

    @property
    def enabled(self) -> bool:
        return self.host or self.self_metrics

    def routes(self) -> list[web.AbstractRouteDef]:
        return []

    def collect_once(self, now: float) -> int:
        """Collect and append one round; returns the samples written (blocking)."""
        samples: list[tuple[dict[str, str], float]] = []
        if self.host:
            started = time.perf_counter()
            host = [({**lb, "job": HOST_JOB, "instance": self.instance}, v) for lb, v in collect_host()]
            took = time.perf_counter() - started
            self.duration.labels("host").observe(took)
            samples += host + _scrape_series(HOST_JOB, self.instance, took, len(host))
            self.context.db.metadata.replace(HOST_JOB, [MetricMetadata(*m) for m in host_metadata()] + SCRAPE_META)
        if self.self_metrics:
            started = time.perf_counter()
            text = self.context.metrics.exposition().decode()
            exposition = parse_text(text)
            own = [({**labels, "job": SELF_JOB, "instance": self.instance}, value)
                   for labels, value, _ in exposition.samples]
            self.context.db.metadata.replace(SELF_JOB, exposition.metadata + SCRAPE_META)
            took = time.perf_counter() - started
            self.duration.labels("self").observe(took)
            samples += own + _scrape_series(SELF_JOB, self.instance, took, len(own))
        app = self.context.db.appender()
        stamp = np.array([int(now * 1000)], np.int64)
        for labels, value in samples:
            app.append(Labels(labels), stamp, np.array([value]))
        app.commit()
        return len(samples)

    async def _collect(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self.context.executor, self.collect_once, time.time())

    async def start(self) -> None:
        self._started = True
        if self.enabled:
            _ = self.duration
            self._stop = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(
                run_every(self._stop, self.interval_s, self._collect, "built-in collection"))

    async def prepare_reload(self, config: ServerConfig) -> Reload:
        host, own, interval = parse_section(config.collect)
        if (host, own, interval) == (self.host, self.self_metrics, self.interval_s):
            return UNCHANGED

        async def apply() -> None:
            was_on, old_interval = self.enabled, self.interval_s
            self.host, self.self_metrics, self.interval_s = host, own, interval  # the loop reads them each round
            if self._started and (was_on != self.enabled or old_interval != interval):
                await self._halt()
                await self.start()

        return Reload(apply)

    async def _halt(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def stop(self) -> None:
        await self._halt()


def parse_section(section: dict[str, Any] | None) -> tuple[bool, bool, float]:
    """(host, self, interval s) of a ``collect`` section; both off unless set (``tsdb serve`` fills them)."""
    section = dict(section or {})
    unknown = sorted(set(map(str, section)) - _KEYS)
    if unknown:
        raise ConfigError(f"collect: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    try:
        interval = parse_duration_ms(section.get("interval") or "15s", "collect.interval") / 1000
    except TsdbError as err:
        raise ConfigError(str(err)) from err
    return bool(section.get("host", False)), bool(section.get("self", False)), interval


def build(context: ServerContext) -> Any:
    # on by default in `tsdb serve` (the CLI fills the section); a programmatic ServerConfig opts in
    return CollectComponent(context, *parse_section(context.config.collect))
