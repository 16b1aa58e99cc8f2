"""What every front end (HTTP, gRPC, REPL) serves from, and the operations they share.

:class:`Backend` bundles storage, the query engine and limits; the functions below implement writes,
series and label lookups once, so the HTTP API and the gRPC service answer identically. All of them
block (WAL fsync, kernels): call them from a worker thread in async code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from tsdb.labels import Labels, Matcher
from tsdb.query.value import Annotations, Value
from tsdb.server.query_limits import QueryScheduler
from tsdb.server.remote_write import DEFAULT_MAX_BODY_BYTES, DecodedWrite, LabelsCache
from tsdb.server.write_limits import WriteLimiter
from tsdb.storage.interfaces import Appendable, CommitResult, Queryable
from tsdb.storage.metadata import MetadataStore


class QueryEngine(Protocol):
    """What the front ends need of the PromQL engine."""

    def instant(self, query: str, t_ms: int, max_source_resolution: str = "auto") -> Value: ...

    def range(self, query: str, start_ms: int, end_ms: int, step_ms: int, max_source_resolution: str = "auto"
              ) -> Value: ...

    def instant_annotated(self, query: str, t_ms: int, max_source_resolution: str = "auto",
                          timeout_s: float | None = None) -> tuple[Value, Annotations]: ...

    def range_annotated(self, query: str, start_ms: int, end_ms: int, step_ms: int,
                        max_source_resolution: str = "auto", timeout_s: float | None = None
                        ) -> tuple[Value, Annotations]: ...


@dataclass
class Backend:
    """Storage, engine and limits behind the front ends; built by the composition root (server/app.py)."""

    queryable: Queryable
    appendable: Appendable
    engine: QueryEngine
    parse_matchers: Callable[[str], list[Matcher]]
    format_query: Callable[[str], str]
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_points: int = 11_000
    """Most steps a range query may have ((end - start) / step), as the engine's limit."""
    max_samples: int = 50_000_000
    """Most samples one remote-read query returns (``query.max_samples``)."""
    max_series: int = 0
    """Most series one remote-read query returns (``query.max_series``; 0 = no limit)."""
    lookback_delta_ms: int = 300_000
    """How far back /federate looks for a series' latest sample (``query.lookback_delta``)."""
    external_labels: Mapping[str, str] = field(default_factory=dict)
    """``external_labels`` of the config: added to remote-read and federation answers."""
    queries: QueryScheduler | None = None
    """Runs the front ends' queries on the query threads, bounding those running and waiting (None: on the
    front end's own executor, unbounded)."""
    labels_cache: LabelsCache = field(default_factory=LabelsCache)
    on_write: Callable[[str, str], None] | None = None
    """Called once per write request with (protocol, outcome code): ``remote_write`` and ``influx`` with the
    HTTP status, ``grpc`` and the gRPC status name."""
    write_limiter: WriteLimiter | None = None
    """Bounds the write requests in flight (requests refused past it answer 429 / RESOURCE_EXHAUSTED)."""
    on_write_refused: Callable[[str, str], None] | None = None
    """Called with (protocol, reason) for each write request the ``write_limiter`` refuses."""
    on_rejected: Callable[[str, int], None] | None = None
    """Called with (reason, count) for samples refused before storage (stored and rejected samples are
    counted by the head's commit listeners)."""
    start_time: float = field(default_factory=time.time)
    status_tsdb: Callable[[], dict[str, Any]] | None = None
    metadata: MetadataStore | None = None
    """Metric metadata for /api/v1/metadata (remote-write metadata is stored into it)."""
    # Set by the server: /api/v1/status/runtimeinfo and /flags data, /status/config YAML.
    status_runtime: Callable[[], dict[str, Any]] | None = None
    status_flags: Callable[[], dict[str, str]] | None = None
    status_config: Callable[[], str] | None = None
    # Set by the rule evaluator component: the ``data`` of /api/v1/rules (given the request's form
    # parameters, e.g. ``type``, ``rule_name[]``) and of /api/v1/alerts, in Prometheus's shapes.
    rules_status: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    alerts_status: Callable[[], dict[str, Any]] | None = None


def store_write(backend: Backend, decoded: DecodedWrite, metadata_source: str = "remote_write") -> CommitResult:
    """Append a decoded write request in one batch; rejected samples are reported, valid ones kept.
    Its metadata entries are stored under ``metadata_source`` (the protocol)."""
    appender = backend.appendable.appender()
    try:
        append_batch = getattr(appender, "append_batch", None)
        if append_batch is not None:
            # columnar fast path (HeadAppender/DB); series without samples are left out, as below
            labels_list, offsets = decoded.labels, decoded.offsets
            counts = np.diff(offsets)
            if len(counts) and not counts.all():
                keep = np.flatnonzero(counts)
                labels_list = [labels_list[i] for i in keep.tolist()]
                offsets = np.concatenate(([0], np.cumsum(counts[keep]))).astype(np.int64)
            append_batch(labels_list, offsets, decoded.ts, decoded.values)
        else:
            bounds = decoded.offsets.tolist()
            for i, labels in enumerate(decoded.labels):
                lo, hi = bounds[i], bounds[i + 1]
                if hi > lo:
                    appender.append(labels, decoded.ts[lo:hi], decoded.values[lo:hi])
        result = appender.commit()
    except BaseException:
        appender.rollback()
        raise
    if decoded.metadata_entries and backend.metadata is not None:
        backend.metadata.update(metadata_source, decoded.metadata_entries)
    if decoded.histograms:
        result.reject("native_histogram_unsupported", decoded.histograms,
                      "native histogram samples are not stored yet")
        if backend.on_rejected is not None:
            backend.on_rejected("native_histogram_unsupported", decoded.histograms)
    return result


def find_series(backend: Backend, selectors: Sequence[str], start: int, end: int,
                warnings: list[str] | None = None) -> list[Labels]:
    """Sorted distinct label sets of series matching any selector with data in ``[start, end]``; a
    querier's warnings (stores of a global view that failed) are added to ``warnings``."""
    sets = [backend.parse_matchers(s) for s in selectors]
    querier = backend.queryable.querier(start, end)
    try:
        found: set[Labels] = set()
        series = getattr(querier, "series", None)  # label sets without samples, where the querier can
        for matchers in sets:
            found.update(series(matchers) if series is not None else (s.labels for s in querier.select(matchers)))
        _collect_warnings(querier, warnings)
        return sorted(found)
    finally:
        querier.close()


def find_label_names(backend: Backend, selectors: Sequence[str], start: int, end: int,
                     warnings: list[str] | None = None) -> list[str]:
    """Sorted label names (of series matching any selector, if given) in ``[start, end]``; warnings as
    :func:`find_series`."""
    sets = [backend.parse_matchers(s) for s in selectors] or [[]]
    querier = backend.queryable.querier(start, end)
    try:
        names: set[str] = set()
        for matchers in sets:
            names.update(querier.label_names(matchers))
        _collect_warnings(querier, warnings)
        return sorted(names)
    finally:
        querier.close()


def find_label_values(backend: Backend, name: str, selectors: Sequence[str], start: int, end: int,
                      warnings: list[str] | None = None) -> list[str]:
    """Sorted values of label ``name`` (on series matching any selector, if given) in ``[start, end]``;
    warnings as :func:`find_series`."""
    sets = [backend.parse_matchers(s) for s in selectors] or [[]]
    querier = backend.queryable.querier(start, end)
    try:
        values: set[str] = set()
        for matchers in sets:
            values.update(querier.label_values(name, matchers))
        _collect_warnings(querier, warnings)
        return sorted(values)
    finally:
        querier.close()


def _collect_warnings(querier: object, warnings: list[str] | None) -> None:
    if warnings is not None:
        warnings.extend(w for w in getattr(querier, "warnings", ()) if w not in warnings)
