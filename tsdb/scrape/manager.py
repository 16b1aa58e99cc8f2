"""The scrape manager: one loop per target at a stable phase; discovery refresh; reload; staleness.

Every target runs its own asyncio task, so a slow target never delays others. Samples are written
through the appender in a worker thread. Targets that disappear (discovery or reload) and the manager's
shutdown write stale markers for their series, as Prometheus does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import aiohttp
import numpy as np

from tsdb.labels import Labels
from tsdb.scrape.config import JobConfig
from tsdb.scrape.target import FileSD, Target, discover
from tsdb.storage.interfaces import Appendable
from tsdb.storage.metadata import MetadataStore
from tsdb.timefmt import ZERO_TIME, format_rfc3339

log = logging.getLogger("tsdb.scrape")

Sample = tuple[dict[str, str], float, float]


class ScrapeManager:
    """Runs the scrape jobs; :meth:`apply` (re)configures them."""

    def __init__(self, jobs: list[JobConfig], appendable: Appendable, executor: Executor | None = None,
                 clock: Callable[[], float] = time.time, metadata: MetadataStore | None = None) -> None:
        """``metadata`` receives each target's metric metadata after every good scrape."""
        self.jobs = jobs
        self.metadata = metadata
        self.appendable = appendable
        self.executor = executor
        self.clock = clock
        self.file_sd = FileSD()
        self.targets: dict[str, Target] = {}
        self.dropped: dict[str, list[dict[str, str]]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._refresher: asyncio.Task[None] | None = None
        self.rejected = 0

    def write(self, samples: list[Sample]) -> None:
        """Store samples (blocking; call in a worker thread)."""
        if not samples:
            return
        app = self.appendable.appender()
        for labels, value, ts in samples:
            app.append(Labels(labels), np.array([int(ts * 1000)], np.int64), np.array([value], np.float64))
        result = app.commit()
        self.rejected += result.rejected_count

    async def _store(self, samples: list[Sample]) -> None:
        await asyncio.get_running_loop().run_in_executor(self.executor, self.write, samples)

    async def _loop(self, target: Target) -> None:
        assert self._session is not None
        interval = target.job.interval_ms / 1000
        now = self.clock()
        # first scrape at the target's phase within the interval
        await asyncio.sleep((target.offset_s() - now % interval) % interval)
        while True:
            started = self.clock()
            try:
                await self._store(await target.scrape(self._session, started))
                if self.metadata is not None and target.health == "up":
                    self.metadata.replace(target.key, target.metadata, target.labels)
            except Exception:
                log.exception("scrape failed", extra={"target": target.url})
            await asyncio.sleep(max(0.0, interval - (self.clock() - started)))

    def _discover(self) -> dict[str, Target]:
        found: dict[str, Target] = {}
        self.dropped = {}
        for job in self.jobs:
            targets, dropped = discover(job, self.file_sd)
            self.dropped[job.job_name] = dropped
            for t in targets:
                found.setdefault(t.key, t)
        return found

    async def sync(self) -> None:
        """Start loops for new targets, stop (with stale markers) those that disappeared."""
        found = self._discover()
        now = self.clock()
        for key in list(self.targets):
            if key not in found:
                task = self._tasks.pop(key)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await self._store(self.targets.pop(key).stale_all(now))
                if self.metadata is not None:
                    self.metadata.drop(key)
        for key, target in found.items():
            if key in self.targets and self.targets[key].job == target.job:
                continue
            if key in self._tasks:  # the job changed: restart its loop
                self._tasks.pop(key).cancel()
            self.targets[key] = target if key not in self.targets else _rejob(self.targets[key], target.job)
            self._tasks[key] = asyncio.get_running_loop().create_task(self._loop(self.targets[key]))

    async def _refresh(self) -> None:
        period = min((j.file_sd_refresh_ms for j in self.jobs if j.file_sd), default=0) / 1000
        if not period:
            return
        while True:
            await asyncio.sleep(period)
            try:
                await self.sync()
            except Exception:
                log.exception("discovery refresh failed")

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        await self.sync()
        self._refresher = asyncio.get_running_loop().create_task(self._refresh())

    async def apply(self, jobs: list[JobConfig]) -> None:
        """A new configuration: unchanged targets keep running."""
        self.jobs = jobs
        if self._refresher is not None:
            self._refresher.cancel()
        await self.sync()
        self._refresher = asyncio.get_running_loop().create_task(self._refresh())

    async def stop(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = {}
        now = self.clock()
        stale: list[Sample] = []
        for target in self.targets.values():
            stale.extend(target.stale_all(now))
        await self._store(stale)
        if self._session is not None:
            await self._session.close()

    def targets_data(self, state: str = "any") -> dict[str, Any]:
        """``/api/v1/targets`` data in Prometheus's shape."""
        active = []
        for t in self.targets.values():
            active.append({
                "discoveredLabels": t.discovered, "labels": t.labels, "scrapePool": t.job.job_name,
                "scrapeUrl": t.url, "globalUrl": t.url, "lastError": t.last_error,
                "lastScrape": _rfc3339(t.last_scrape), "lastScrapeDuration": t.last_duration,
                "health": t.health, "scrapeInterval": f"{t.job.interval_ms // 1000}s",
                "scrapeTimeout": f"{t.job.timeout_ms // 1000}s"})
        dropped = [{"discoveredLabels": d} for ds in self.dropped.values() for d in ds]
        return {"activeTargets": active if state in ("any", "active") else [],
                "droppedTargets": dropped if state in ("any", "dropped") else []}


def _rejob(target: Target, job: JobConfig) -> Target:
    target.job = job
    return target


def _rfc3339(seconds: float) -> str:
    return format_rfc3339(seconds, "us") if seconds else ZERO_TIME
