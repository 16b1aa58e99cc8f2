"""Metric metadata (type, help, unit) as received, for ``/api/v1/metadata`` and ``/api/v1/targets/metadata``.

Metadata arrives from several sources: each scrape target's ``# HELP``/``# TYPE``/``# UNIT`` lines, remote-write
``MetricMetadata`` entries, and the built-in collectors. A source's entries replace its previous ones (a
target that stops exposing a metric stops reporting it); a source is dropped when it goes away. Like
Prometheus, this is kept in memory: scrapes and remote-write senders resend it periodically.

Thread-safe; the answers are plain dicts in Prometheus's shapes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# remote-write MetricMetadata.MetricType enum -> the API's type names
REMOTE_WRITE_TYPES = {0: "unknown", 1: "counter", 2: "gauge", 3: "histogram", 4: "gaugehistogram", 5: "summary",
                      6: "info", 7: "stateset"}


@dataclass(frozen=True)
class MetricMetadata:
    """One metric family's metadata as Prometheus reports it (``untyped`` is reported as ``unknown``)."""

    metric: str
    type: str
    help: str
    unit: str = ""

    def entry(self) -> dict[str, str]:
        """The ``{type, help, unit}`` object of the API."""
        return {"type": self.type, "help": self.help, "unit": self.unit}


def normalise_type(kind: str) -> str:
    """Exposition type names -> the API's (``untyped`` -> ``unknown``)."""
    kind = (kind or "unknown").lower()
    return "unknown" if kind == "untyped" else kind


class MetadataStore:
    """Metadata per source (a target key, ``remote_write``, a collector); see the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_source: dict[str, dict[str, MetricMetadata]] = {}
        self._targets: dict[str, dict[str, str]] = {}

    def replace(self, source: str, entries: Iterable[MetricMetadata], target: dict[str, str] | None = None) -> None:
        """Set ``source``'s metadata to ``entries`` (a scrape target passes its labels as ``target``)."""
        table = {m.metric: m for m in entries}
        with self._lock:
            self._by_source[source] = table
            if target is not None:
                self._targets[source] = dict(target)

    def update(self, source: str, entries: Iterable[MetricMetadata]) -> None:
        """Add or replace some of ``source``'s entries (remote-write sends metadata in batches)."""
        with self._lock:
            table = self._by_source.setdefault(source, {})
            for m in entries:
                table[m.metric] = m

    def drop(self, source: str) -> None:
        """Forget a source (a target that was removed)."""
        with self._lock:
            self._by_source.pop(source, None)
            self._targets.pop(source, None)

    def metadata(self, metric: str = "", limit: int = -1,
                 limit_per_metric: int = -1) -> dict[str, list[dict[str, str]]]:
        """``/api/v1/metadata`` data: metric -> distinct ``{type, help, unit}`` entries; ``limit`` caps the
        metrics (negative = no cap, 0 = none), ``limit_per_metric`` the entries per metric (0 or negative =
        no cap), as Prometheus reads them."""
        out: dict[str, list[dict[str, str]]] = {}
        with self._lock:
            tables = list(self._by_source.values())
        for table in tables:
            for name, m in table.items():
                if metric and name != metric:
                    continue
                entries = out.setdefault(name, [])
                entry = m.entry()
                if entry not in entries and (limit_per_metric <= 0 or len(entries) < limit_per_metric):
                    entries.append(entry)
        names = sorted(out)
        if limit >= 0:
            names = names[:limit]
        return {name: out[name] for name in names}

    def targets_metadata(self, target_filter: Callable[[dict[str, str]], bool], metric: str = "",
                         limit: int = -1) -> list[dict[str, object]]:
        """``/api/v1/targets/metadata`` data: one ``{target, metric, type, help, unit}`` per scrape target and
        metric, for targets whose labels pass ``target_filter`` (``metric`` is left out of each entry when
        asked for one metric, as Prometheus does); ``limit`` negative = no cap."""
        out: list[dict[str, object]] = []
        with self._lock:
            items = [(self._targets[s], dict(t)) for s, t in self._by_source.items() if s in self._targets]
        for labels, table in sorted(items, key=lambda it: sorted(it[0].items())):
            if not target_filter(labels):
                continue
            for name in sorted(table):
                if metric and name != metric:
                    continue
                if 0 <= limit <= len(out):
                    return out
                out.append({"target": labels, **({} if metric else {"metric": name}), **table[name].entry()})
        return out
