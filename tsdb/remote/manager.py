"""The remotes of a server: the commit hook feeding their queues, their sender tasks, reloads and metrics.

:meth:`RemoteWriteManager.listener` is registered as a head sample listener only while at least one remote is
configured, so without ``remote_write`` a commit pays nothing. A reload keeps the queue of a remote whose queue
directory (its ``name``, or a hash of its URL) stays: its sender restarts with the new options and sends what
was queued. A remote taken out of the configuration has its queue directory deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tsdb.labels import Labels
from tsdb.remote.config import RemoteWriteConfig, url_label
from tsdb.remote.queue import DiskQueue
from tsdb.remote.sender import Remote
from tsdb.storage.head.state import HeadState

log = logging.getLogger("tsdb.remote")

QUEUE_DIRNAME = "remote_write"


class RemoteWriteManager:
    """Owns the running remotes; call :meth:`apply` with the configured ones (at start and on reload)."""

    def __init__(self, data_dir: str | Path, head: HeadState, external_labels: Mapping[str, str],
                 fsync: str = "never") -> None:
        self.root = Path(data_dir) / QUEUE_DIRNAME
        self.head = head
        self.external_labels = dict(external_labels)
        self.fsync = fsync
        self.remotes: dict[str, Remote] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._hooked = False

    def listener(self, labels_list: Sequence[Labels], offsets: npt.NDArray[np.int64], ts: npt.NDArray[np.int64],
                 values: npt.NDArray[np.float64], accepted: npt.NDArray[np.bool_]) -> None:
        """The head's sample listener: queue a commit's accepted samples for every remote."""
        for remote in tuple(self.remotes.values()):
            try:
                remote.enqueue(labels_list, offsets, ts, values, accepted)
            except Exception:
                log.exception("remote write: queueing samples failed", extra={"remote_name":
                                                                              remote.config.remote_name})

    async def apply(self, configs: tuple[RemoteWriteConfig, ...]) -> None:
        """Run exactly ``configs``: start new remotes, restart changed ones on their queue, stop removed ones."""
        wanted = {c.queue_dir: c for c in configs}
        for key in list(self.remotes):
            old = self.remotes[key]
            new_config = wanted.get(key)
            if new_config is not None and new_config == old.config:
                continue
            if new_config is None:
                self._swap(key, None)
                await self._stop_task(key, old)
                old.queue.close()
                await asyncio.to_thread(shutil.rmtree, old.queue.path, True)
                log.info("remote write removed", extra={"remote_name": old.config.remote_name})
                continue
            old.queue.max_bytes = new_config.max_disk_bytes
            remote = Remote(new_config, old.queue, self.external_labels)
            remote.stats, remote.dropped_queue_full = old.stats, old.dropped_queue_full
            self._swap(key, remote)  # commits from now on go to the new remote's (the same) queue
            await self._stop_task(key, old)
            self._start(remote)
        for key, config in wanted.items():
            if key not in self.remotes:
                queue = await asyncio.to_thread(DiskQueue, self.root / key, config.max_disk_bytes, self.fsync)
                remote = Remote(config, queue, self.external_labels)
                self._swap(key, remote)
                self._start(remote)
        self._hook(bool(self.remotes))

    def _start(self, remote: Remote) -> None:
        key = remote.config.queue_dir
        self._tasks[key] = asyncio.create_task(remote.run(), name=f"remote-write-{key}")
        log.info("remote write started", extra={"remote_name": remote.config.remote_name,
                                                "url": url_label(remote.config.url),
                                                "pending_samples": remote.queue.pending_samples})

    def _swap(self, key: str, remote: Remote | None) -> None:
        """Replace (or remove) a remote between commits (under the head's lock, which commits hold while
        they call the listener), so no commit is queued twice or lost."""
        with self.head.lock:
            if remote is None:
                self.remotes.pop(key, None)
            else:
                self.remotes[key] = remote

    async def _stop_task(self, key: str, remote: Remote) -> None:
        remote.stop()
        task = self._tasks.pop(key, None)
        if task is not None:
            try:
                await asyncio.wait_for(task, 10)
            except TimeoutError:
                log.warning("remote write sender slow to stop", extra={"remote_name": remote.config.remote_name})
            except Exception:
                log.exception("remote write sender failed", extra={"remote_name": remote.config.remote_name})

    def _hook(self, on: bool) -> None:
        if on and not self._hooked:
            self.head.sample_listeners.append(self.listener)
        elif not on and self._hooked:
            with contextlib.suppress(ValueError):
                self.head.sample_listeners.remove(self.listener)
        self._hooked = on

    async def sync_queues(self) -> None:
        """fsync every queue (the periodic fsync policy)."""
        for remote in tuple(self.remotes.values()):
            await asyncio.to_thread(remote.queue.sync)

    async def close(self) -> None:
        """Stop every sender and close the queues (what is queued is sent after the next start)."""
        self._hook(False)
        for key in list(self.remotes):
            remote = self.remotes[key]
            self._swap(key, None)
            await self._stop_task(key, remote)
            remote.queue.close()


class RemoteWriteCollector(Collector):
    """``tsdb_remote_write_*`` of every running remote, read at scrape time (totals since start)."""

    def __init__(self, manager: RemoteWriteManager) -> None:
        self.manager = manager

    def collect(self) -> list[Metric]:
        labels = ["remote_name", "url"]
        fams = {
            "samples": CounterMetricFamily("tsdb_remote_write_samples", "Samples sent to the remote.", labels=labels),
            "failed": CounterMetricFamily("tsdb_remote_write_samples_failed",
                                          "Samples the remote refused (non-recoverable errors).", labels=labels),
            "retried": CounterMetricFamily("tsdb_remote_write_samples_retried",
                                           "Samples sent again after a recoverable error.", labels=labels),
            "sent_bytes": CounterMetricFamily("tsdb_remote_write_sent_bytes",
                                              "Compressed request bytes the remote accepted.", labels=labels),
        }
        dropped = CounterMetricFamily("tsdb_remote_write_samples_dropped", "Samples not delivered, by reason: "
                                      "queue_full (oldest queued data deleted), rejected (4xx answer).",
                                      labels=[*labels, "reason"])
        gauges = {
            "highest": GaugeMetricFamily("tsdb_remote_write_queue_highest_sent_timestamp_seconds",
                                         "Newest sample timestamp the remote accepted.", labels=labels),
            "pending": GaugeMetricFamily("tsdb_remote_write_pending_samples", "Samples queued, not yet sent.",
                                         labels=labels),
            "shards": GaugeMetricFamily("tsdb_remote_write_shards", "Shards of the last sending round.",
                                        labels=labels),
            "bytes": GaugeMetricFamily("tsdb_remote_write_queue_bytes", "Bytes of the on-disk queue.",
                                       labels=labels),
        }
        for remote in tuple(self.manager.remotes.values()):
            key = [remote.config.remote_name, url_label(remote.config.url)]
            s = remote.stats
            for name, value in (("samples", s.samples), ("failed", s.failed), ("retried", s.retried),
                                ("sent_bytes", s.sent_bytes)):
                fams[name].add_metric(key, value)
            dropped.add_metric([*key, "queue_full"], remote.dropped_queue_full)
            dropped.add_metric([*key, "rejected"], s.dropped_rejected)
            gauges["highest"].add_metric(key, s.highest_sent_ms / 1000)
            gauges["pending"].add_metric(key, remote.queue.pending_samples)
            gauges["shards"].add_metric(key, s.shards)
            gauges["bytes"].add_metric(key, remote.queue.size_bytes)
        return [*fams.values(), dropped, *gauges.values()]


def register_metrics(registry: CollectorRegistry, manager: RemoteWriteManager) -> None:
    registry.register(RemoteWriteCollector(manager))
