"""Long-term storage in object storage as a server component (``bucket:`` and ``store:``; docs/object-storage.md).

Built when ``bucket`` names a bucket. A normal node runs the shipper every ``bucket.upload_interval``: on
a failure it retries after 0.5 s, doubling up to the interval (at most :data:`MAX_BACKOFF_S`), and once
shipping succeeds it removes blocks shipped more than ``bucket.local_retention`` ago. Those (and, with
``store.enabled``, every block of the bucket) are read from the bucket through the DB's ``bucket_blocks``.
A store-only node (``store.only``, ``tsdb serve --store-only``) ships nothing, refuses writes, and mirrors the
bucket's tier files for long-range queries. The bucket is listed every ``store.refresh_interval``. Changing
either section needs a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tsdb.config import ServerConfig
from tsdb.errors import StorageError
from tsdb.server.components.base import UNCHANGED, Reload, ServerContext
from tsdb.storage.bucket.client import BucketClient
from tsdb.storage.bucket.shipper import Shipper, ShipStats
from tsdb.storage.bucket.store import BucketBlocks
from tsdb.storage.tiers.store import TierStore

log = logging.getLogger("tsdb.bucket")

FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 300.0
CACHE_DIRNAME = "bucket-cache"


def wanted(config: ServerConfig) -> bool:
    """Whether the component runs (a bucket is configured)."""
    return config.bucket.enabled


class StoreOnlyAppendable:
    """What a store-only node writes to: nothing (every write fails, naming the reason)."""

    def appender(self) -> Any:
        raise StorageError("this node only serves object storage (store-only mode): it stores no writes")


class BucketCollector(Collector):
    """``tsdb_bucket_*``: the shipper's uploads, bytes, last upload time and pending blocks."""

    def __init__(self, stats: ShipStats) -> None:
        self.stats = stats

    def collect(self) -> list[Metric]:
        uploads = CounterMetricFamily("tsdb_bucket_uploads", "Uploads to object storage, by kind (block, tier) "
                                      "and outcome (success, failure).", labels=["kind", "outcome"])
        for kind in ("block", "tier"):
            for outcome in ("success", "failure"):
                uploads.add_metric([kind, outcome], self.stats.uploads.get((kind, outcome), 0))
        sent = CounterMetricFamily("tsdb_bucket_upload_bytes", "Bytes uploaded to object storage.")
        sent.add_metric([], self.stats.upload_bytes)
        last = GaugeMetricFamily("tsdb_bucket_last_upload_timestamp_seconds",
                                 "Unix time of the last successful upload (0 = none since start).")
        last.add_metric([], self.stats.last_upload)
        pending = GaugeMetricFamily("tsdb_bucket_pending_blocks", "Local blocks not yet in object storage.")
        pending.add_metric([], self.stats.pending_blocks)
        return [uploads, sent, last, pending]


class BucketComponent:
    name = "bucket"

    def __init__(self, context: ServerContext) -> None:
        config = context.config
        self.context = context
        self.bucket = config.bucket
        self.store_options = config.store
        self.client = BucketClient(config.bucket)
        db = context.db
        self.blocks: BucketBlocks | None = None
        if config.store.enabled or config.bucket.local_retention_ms:
            cache = Path(config.store.cache_dir) if config.store.cache_dir else db.path / CACHE_DIRNAME
            if not cache.is_absolute() and config.config_dir and config.store.cache_dir:
                cache = Path(config.config_dir) / cache
            self.blocks = BucketBlocks(self.client, cache, config.store.cache_max_bytes)
            db.bucket_blocks = self.blocks
        self.shipper: Shipper | None = None
        if not config.store.only:
            self.shipper = Shipper(db, self.client, config.bucket, config.external_labels,
                                   on_shipped=self.blocks.add if self.blocks is not None else None)
            self.shipper.restore_floor()
        else:
            context.backend.appendable = StoreOnlyAppendable()
        keep_ms = config.bucket.local_retention_ms
        if self.shipper is not None and keep_ms and config.storage.tiers_enabled \
                and keep_ms < config.storage.tier_1h_after_ms:
            log.warning("bucket.local_retention is shorter than storage.tier_1h_after: blocks leave the disk "
                        "before they are downsampled, and their range gets no tier", extra={
                            "local_retention_s": keep_ms / 1000,
                            "tier_1h_after_s": config.storage.tier_1h_after_ms / 1000})
        self.stats = self.shipper.stats if self.shipper is not None else ShipStats()
        context.metrics.registry.register(BucketCollector(self.stats))
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def routes(self) -> list[web.AbstractRouteDef]:
        return []

    async def start(self) -> None:
        if self.blocks is not None:
            self._tasks.append(asyncio.create_task(self._refresh_loop()))
        if self.shipper is not None:
            self._tasks.append(asyncio.create_task(self._ship_loop()))

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _ship_loop(self) -> None:
        assert self.shipper is not None
        interval = self.bucket.upload_interval_ms / 1000
        backoff = FIRST_BACKOFF_S
        while not self._stop.is_set():
            try:
                report = await asyncio.to_thread(self.shipper.sync)
                if report.error:
                    await self._sleep(min(backoff, max(interval, FIRST_BACKOFF_S), MAX_BACKOFF_S))
                    backoff *= 2
                    continue
                backoff = FIRST_BACKOFF_S
                await asyncio.to_thread(self.shipper.drop_expired)
            except Exception:
                log.exception("shipping to the bucket failed")
            await self._sleep(interval)

    async def _refresh_loop(self) -> None:
        assert self.blocks is not None
        blocks = self.blocks
        interval = self.store_options.refresh_interval_ms / 1000
        while not self._stop.is_set():
            try:
                await asyncio.to_thread(blocks.refresh)
                if self.store_options.only:
                    await asyncio.to_thread(self._refresh_tiers)
            except OSError as err:
                log.warning("listing the bucket failed; retried later", extra={"bucket": self.client.name,
                                                                              "error": str(err)})
            except Exception:
                log.exception("listing the bucket failed")
            await self._sleep(interval)

    def _refresh_tiers(self) -> None:
        """Mirror the bucket's tier files and serve them (a store-only node has no tiers of its own)."""
        assert self.blocks is not None
        db = self.context.db
        if not db.options.tiers_enabled:
            return
        if self.blocks.sync_tiers() or db.tiers is None or db.tiers.root != self.blocks.cache_dir / "tiers":
            db.tiers = TierStore(self.blocks.cache_dir, db.options)

    async def prepare_reload(self, config: ServerConfig) -> Reload:
        return UNCHANGED  # bucket and store need a restart (the server says so when they change)

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await task
        if self.blocks is not None:
            self.context.db.bucket_blocks = None
            self.blocks.close()


def build(context: ServerContext) -> Any:
    if not wanted(context.config):
        return None
    started = time.monotonic()
    component = BucketComponent(context)
    log.info("object storage configured", extra={"bucket": component.client.name,
                                                 "store": context.config.store.enabled,
                                                 "store_only": context.config.store.only,
                                                 "setup_s": round(time.monotonic() - started, 3)})
    return component
