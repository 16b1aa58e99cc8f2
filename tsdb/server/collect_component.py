"""Built-in collection as a server component (``collect:`` section, on by default in ``tsdb serve``): host metrics
(tsdb/scrape/host.py) and the server's own /metrics, appended directly every ``interval`` (no HTTP hop).
The collector's own cost is exported as ``tsdb_collector_duration_seconds``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
from aiohttp import web
from prometheus_client import Histogram
from prometheus_client.parser import text_string_to_metric_families

from tsdb.config import parse_duration_ms
from tsdb.errors import ConfigError, TsdbError
from tsdb.labels import Labels
from tsdb.scrape.host import collect_host, hostname
from tsdb.server.components import ServerContext, run_every

_KEYS = {"host", "self", "interval"}


class CollectComponent:
    name = "collect"

    def __init__(self, context: ServerContext, host: bool, self_metrics: bool, interval_s: float) -> None:
        self.context, self.host, self.self_metrics, self.interval_s = context, host, self_metrics, interval_s
        self.instance = hostname()
        self.duration = Histogram("tsdb_collector_duration_seconds", "Time one built-in collection takes.",
                                  ["collector"], buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1),
                                  registry=context.metrics.registry)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def routes(self) -> list[web.AbstractRouteDef]:
        return []

    def collect_once(self, now: float) -> int:
        """Collect and append one round; returns the samples written (blocking)."""
        samples: list[tuple[dict[str, str], float]] = []
        if self.host:
            with self.duration.labels("host").time():
                samples += [({**lb, "job": "node", "instance": self.instance}, v) for lb, v in collect_host()]
        if self.self_metrics:
            with self.duration.labels("self").time():
                text = self.context.metrics.exposition().decode()
                for family in text_string_to_metric_families(text):
                    for s in family.samples:
                        samples.append(({**s.labels, "__name__": s.name, "job": "tsdb",
                                         "instance": self.instance}, float(s.value)))
        app = self.context.db.appender()
        stamp = np.array([int(now * 1000)], np.int64)
        for labels, value in samples:
            app.append(Labels(labels), stamp, np.array([value]))
        app.commit()
        return len(samples)

    async def _collect(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self.context.executor, self.collect_once, time.time())

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            run_every(self._stop, self.interval_s, self._collect, "built-in collection"))

    async def reload(self) -> None:
        return None

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


def build(context: ServerContext) -> Any:
    section = dict(context.config.collect or {})
    unknown = sorted(set(map(str, section)) - _KEYS)
    if unknown:
        raise ConfigError(f"collect: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    try:
        interval = parse_duration_ms(section.get("interval") or "15s", "collect.interval") / 1000
    except TsdbError as err:
        raise ConfigError(str(err)) from err
    # on by default in `tsdb serve` (the CLI fills the section); a programmatic ServerConfig opts in
    host, own = bool(section.get("host", False)), bool(section.get("self", False))
    if not host and not own:
        return None
    return CollectComponent(context, host, own, interval)
