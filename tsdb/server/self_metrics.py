"""The server's own metrics, exposed on ``/metrics`` in the Prometheus text format.

One :class:`SelfMetrics` per server owns a private prometheus_client registry (so several servers in
one process, as in tests, do not collide). Gauges that mirror storage state are read at scrape time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tsdb.query.engine.result_cache import ResultCache
from tsdb.storage.db import DB
from tsdb.storage.interfaces import CommitResult


class _ResultCacheCollector(Collector):
    def __init__(self, cache: ResultCache) -> None:
        self.cache = cache

    def collect(self) -> list[Metric]:
        requests = CounterMetricFamily("tsdb_query_result_cache_requests", "Range query result cache lookups.",
                                       labels=["result"])
        for result, count in (("hit", self.cache.hits), ("partial", self.cache.partial_hits),
                              ("miss", self.cache.misses)):
            requests.add_metric([result], count)
        return [requests, GaugeMetricFamily("tsdb_query_result_cache_bytes", "Bytes held by the range query "
                                            "result cache.", value=self.cache.bytes)]


class _MaintenanceCollector(Collector):
    """Maintenance outcomes of a DB, named as Prometheus names its own (``prometheus_tsdb_*`` -> ``tsdb_*``)."""

    def __init__(self, db: DB) -> None:
        self.db = db

    def collect(self) -> list[Metric]:
        failures = CounterMetricFamily("tsdb_maintenance_failures", "Failed maintenance stages (head, "
                                       "compaction, tiers, retention), by stage.", labels=["stage"])
        for stage, count in self.db.maintenance_failures.items():
            failures.add_metric([stage], count)
        return [
            CounterMetricFamily("tsdb_compactions_failed", "Failed head persistences and block compactions.",
                                value=self.db.compactions_failed),
            failures,
            GaugeMetricFamily("tsdb_maintenance_last_success_timestamp_seconds", "Unix time of the last "
                              "maintenance whose every stage succeeded (0: none since start).",
                              value=self.db.last_maintenance_success),
            GaugeMetricFamily("tsdb_blocks_quarantined", "Blocks moved to quarantine/ since start: at start "
                              "because they could not be opened, or later because a read found corruption.",
                              value=len(self.db.quarantined)),
        ]


class SelfMetrics:
    """Counters, gauges and histograms of ingestion, storage, queries and HTTP traffic."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reload_ok = True
        self.reload_time = 0.0  # Unix seconds of the last successful (re)load; 0 = none yet
        r = self.registry
        self.samples_appended = Counter("tsdb_samples_appended_total", "Samples stored.", registry=r)
        self.samples_rejected = Counter("tsdb_samples_rejected_total", "Samples rejected, by reason.",
                                        ["reason"], registry=r)
        self.write_requests = Counter("tsdb_write_requests_total", "Write requests, by protocol and outcome.",
                                      ["protocol", "code"], registry=r)
        self.write_requests_rejected = Counter(
            "tsdb_write_requests_rejected_total", "Write requests refused before reading them (the server was busy), "
            "by protocol and reason (too_many_requests, too_many_bytes).", ["protocol", "reason"], registry=r)
        self.query_requests_rejected = Counter(
            "tsdb_query_requests_rejected_total", "Queries refused before they ran (too many running and waiting), "
            "by protocol and reason (queue_full, queue_timeout).", ["protocol", "reason"], registry=r)
        self.query_queue_length = Gauge("tsdb_query_queue_length", "Queries waiting for a query slot.", registry=r)
        self.query_write_pauses = Counter("tsdb_query_write_pause_seconds", "Seconds query threads paused to "
                                          "let writes in flight go first (query.write_share).", registry=r)
        self.query_requests_running = Gauge("tsdb_query_requests_running", "Queries holding a query slot.",
                                            registry=r)
        self.query_duration = Histogram("tsdb_query_duration_seconds", "PromQL query latency.", ["kind"],
                                        buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60), registry=r)
        self.compaction_duration = Histogram("tsdb_compaction_duration_seconds", "Block writes and compactions.",
                                             buckets=(0.1, 0.5, 1, 5, 10, 60, 300), registry=r)
        self.http_requests = Counter("tsdb_http_requests_total", "HTTP requests by handler and code.",
                                     ["handler", "code"], registry=r)
        self.head_series = Gauge("tsdb_head_series", "Series in the head.", registry=r)
        self.wal_size = Gauge("tsdb_wal_size_bytes", "Bytes in WAL segments.", registry=r)
        self.blocks = Gauge("tsdb_blocks_loaded", "Persistent blocks loaded.", registry=r)
        # as Prometheus names them; the start-up configuration counts as a successful load
        self.config_reload_ok = Gauge("tsdb_config_last_reload_successful",
                                      "Whether the last configuration reload attempt was successful.", registry=r)
        self.config_reload_time = Gauge("tsdb_config_last_reload_success_timestamp_seconds",
                                        "Timestamp of the last successful configuration reload.", registry=r)

    def record_reload(self, ok: bool) -> None:
        """Record a configuration (re)load attempt."""
        self.reload_ok = ok
        self.config_reload_ok.set(1 if ok else 0)
        if ok:
            self.reload_time = time.time()
            self.config_reload_time.set(self.reload_time)

    def bind_gauges(self, head_series: Callable[[], float], wal_size: Callable[[], float],
                    blocks: Callable[[], float]) -> None:
        """Read these gauges from storage at scrape time."""
        self.head_series.set_function(head_series)
        self.wal_size.set_function(wal_size)
        self.blocks.set_function(blocks)

    def bind_maintenance(self, db: DB) -> None:
        """Expose ``db``'s maintenance failures and last success, read at scrape time."""
        self.registry.register(_MaintenanceCollector(db))

    def bind_result_cache(self, cache: ResultCache) -> None:
        """Expose the range result cache's lookups and size, read at scrape time."""
        self.registry.register(_ResultCacheCollector(cache))

    def bind_query_queue(self, waiting: Callable[[], float], running: Callable[[], float]) -> None:
        """Read the query queue length and the queries running at scrape time."""
        self.query_queue_length.set_function(waiting)
        self.query_requests_running.set_function(running)

    def record_query_refused(self, protocol: str, reason: str) -> None:
        """Count one query refused by the query limits."""
        self.query_requests_rejected.labels(protocol, reason).inc()

    def record_commit(self, result: CommitResult) -> None:
        """Count a commit's stored and rejected samples (a head commit listener: every writer counts)."""
        self.samples_appended.inc(result.accepted)
        for reason, rejection in result.rejected.items():
            self.samples_rejected.labels(reason).inc(rejection.count)

    def record_rejected(self, reason: str, count: int) -> None:
        """Count samples refused before they reached storage."""
        self.samples_rejected.labels(reason).inc(count)

    def record_write(self, protocol: str, code: str) -> None:
        """Count one write request and its outcome."""
        self.write_requests.labels(protocol, code).inc()

    def record_write_refused(self, protocol: str, reason: str) -> None:
        """Count one write request refused by the in-flight limits."""
        self.write_requests_rejected.labels(protocol, reason).inc()

    def record_http(self, handler: str, code: int) -> None:
        """Count one HTTP request by route pattern and status code."""
        self.http_requests.labels(handler, str(code)).inc()

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)
