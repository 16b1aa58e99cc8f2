"""The querier side of ``query.stores``: builds the global view the server's engine and APIs read.

With stores configured the server reads through a
:class:`~tsdb.storage.remote.querier.GlobalQueryable` over its own DB and every store (docs/global-view.md);
without, it reads its DB directly. Requests to stores are counted in ``tsdb_store_requests_total{store,
outcome}`` and timed in ``tsdb_store_request_duration_seconds{store}``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from tsdb.config import QueryOptions
from tsdb.storage.interfaces import Queryable
from tsdb.storage.remote.client import StoreClient
from tsdb.storage.remote.querier import GlobalQueryable


class StoreMetrics:
    """The self-metrics of requests to stores, registered in ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter("tsdb_store_requests_total", "Requests to stores of query.stores, by store and "
                                "outcome (success, error).", ["store", "outcome"], registry=registry)
        self.duration = Histogram("tsdb_store_request_duration_seconds", "Latency of requests to stores of "
                                  "query.stores.", ["store"], buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30),
                                  registry=registry)

    def observe(self, store: str, outcome: str, seconds: float) -> None:
        """Count and time one request."""
        self.requests.labels(store, outcome).inc()
        self.duration.labels(store).observe(seconds)


def global_queryable(local: Queryable, options: QueryOptions, registry: CollectorRegistry) -> GlobalQueryable | None:
    """The global view over ``local`` and ``options.stores``; None when no store is configured."""
    if not options.stores:
        return None
    metrics = StoreMetrics(registry)
    clients = [StoreClient(spec, options.store_timeout_ms / 1000, metrics.observe) for spec in options.stores]
    return GlobalQueryable(local, clients, options.replica_labels, options.partial_response)
