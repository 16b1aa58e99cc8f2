"""Forwarding with remote write as a server component (``remote_write:`` section; docs/ingest.md).

Always built (reloading may add remotes); without remotes it runs nothing and the commit path pays nothing.
Queues live in ``<data dir>/remote_write/<name or URL hash>/``; they are fsynced every second (or every
``storage.wal_fsync`` interval; never with ``wal_fsync: never``), and flushed to the operating system with
every commit.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import web

from tsdb.config import ServerConfig, parse_duration_ms
from tsdb.remote.config import RemoteWriteConfig, parse_remote_write
from tsdb.remote.manager import RemoteWriteManager, register_metrics
from tsdb.server.components.base import UNCHANGED, Reload, ServerContext, run_every


def sync_interval_s(wal_fsync: str) -> float | None:
    """Seconds between queue fsyncs for a ``storage.wal_fsync`` policy (None: never)."""
    if wal_fsync == "never":
        return None
    if wal_fsync == "always":
        return 1.0
    return max(parse_duration_ms(wal_fsync, "storage.wal_fsync") / 1000, 0.001)


class RemoteWriteComponent:
    name = "remote_write"

    def __init__(self, context: ServerContext) -> None:
        config = context.config
        self.configs: tuple[RemoteWriteConfig, ...] = parse_remote_write(config.remote_write)
        self.manager = RemoteWriteManager(config.data_dir, context.db.head, config.external_labels)
        register_metrics(context.metrics.registry, self.manager)
        self._sync_every = sync_interval_s(config.storage.wal_fsync)
        self._stop = asyncio.Event()
        self._sync_task: asyncio.Task[None] | None = None

    def routes(self) -> list[web.AbstractRouteDef]:
        return []

    async def start(self) -> None:
        await self.manager.apply(self.configs)
        if self._sync_every is not None:
            self._sync_task = asyncio.create_task(
                run_every(self._stop, self._sync_every, self.manager.sync_queues, "remote write queue fsync"))

    async def prepare_reload(self, config: ServerConfig) -> Reload:
        configs = parse_remote_write(config.remote_write)
        if configs == self.configs:
            return UNCHANGED

        async def apply() -> None:
            self.configs = configs
            await self.manager.apply(configs)

        return Reload(apply=apply)

    async def stop(self) -> None:
        self._stop.set()
        if self._sync_task is not None:
            with contextlib.suppress(Exception):
                await self._sync_task
        await self.manager.close()


def build(context: ServerContext) -> Any:
    return RemoteWriteComponent(context)
