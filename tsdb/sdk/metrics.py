"""Counter, Gauge, Histogram (classic buckets) and Summary (count and sum), with labels.

Updates are cheap and thread-safe (one lock per child). ``labels(*values)`` returns the child for a
label value combination; metrics without label names are used directly.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from tsdb.sdk.registry import DEFAULT_REGISTRY, Registry, Sample

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help: str = "", labelnames: Sequence[str] = (),
                 registry: Registry | None = DEFAULT_REGISTRY) -> None:
        self.name, self.help, self.labelnames = name, help, tuple(labelnames)
        self._children: dict[tuple[str, ...], Any] = {}
        self._lock = threading.Lock()
        if registry is not None:
            registry.register(self)

    def labels(self, *values: str, **named: str) -> Any:
        if named:
            values = tuple(named[n] for n in self.labelnames)
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name}: expected {len(self.labelnames)} label values, got {len(values)}")
        key = tuple(map(str, values))
        child = self._children.get(key)
        if child is None:
            with self._lock:
                child = self._children.setdefault(key, self._child())
        return child

    def _default(self) -> Any:
        if self.labelnames:
            raise ValueError(f"{self.name} has labels {self.labelnames}: use .labels(...)")
        return self.labels()

    def _child(self) -> Any:
        raise NotImplementedError

    def samples(self) -> Iterator[Sample]:
        for key, child in list(self._children.items()):
            base = dict(zip(self.labelnames, key, strict=True))
            for suffix, extra, value in child.values():
                yield self.name + suffix, {**base, **extra}, value


class _Value:
    def __init__(self) -> None:
        self.value = 0.0
        self.lock = threading.Lock()

    def values(self) -> list[tuple[str, dict[str, str], float]]:
        return [("", {}, self.value)]


class _CounterChild(_Value):
    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("counters only go up")
        with self.lock:
            self.value += amount


class _GaugeChild(_Value):
    def set(self, value: float) -> None:
        self.value = float(value)

    def inc(self, amount: float = 1.0) -> None:
        with self.lock:
            self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        self.inc(-amount)


class Counter(_Metric):
    """A monotonically increasing count (name it ``..._total``)."""

    kind = "counter"

    def _child(self) -> _CounterChild:
        return _CounterChild()

    def inc(self, amount: float = 1.0) -> None:
        self._default().inc(amount)


class Gauge(_Metric):
    """A value that goes up and down (also the right type for business KPIs)."""

    kind = "gauge"

    def _child(self) -> _GaugeChild:
        return _GaugeChild()

    def set(self, value: float) -> None:
        self._default().set(value)

    def inc(self, amount: float = 1.0) -> None:
        self._default().inc(amount)

    def dec(self, amount: float = 1.0) -> None:
        self._default().dec(amount)


class _HistogramChild:
    def __init__(self, buckets: Sequence[float]) -> None:
        self.bounds = list(buckets)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0
        self.lock = threading.Lock()

    def observe(self, value: float) -> None:
        i = bisect.bisect_left(self.bounds, value)
        with self.lock:
            self.counts[i] += 1
            self.sum += value

    def values(self) -> list[tuple[str, dict[str, str], float]]:
        out = []
        total = 0
        for bound, count in zip([*self.bounds, math.inf], self.counts, strict=True):
            total += count
            out.append(("_bucket", {"le": "+Inf" if bound == math.inf else repr(float(bound))}, float(total)))
        out += [("_count", {}, float(total)), ("_sum", {}, self.sum)]
        return out


class Histogram(_Metric):
    """Observations counted in cumulative buckets (``le``), plus ``_count`` and ``_sum``."""

    kind = "histogram"

    def __init__(self, name: str, help: str = "", labelnames: Sequence[str] = (),
                 buckets: Sequence[float] = DEFAULT_BUCKETS, registry: Registry | None = DEFAULT_REGISTRY) -> None:
        if list(buckets) != sorted(buckets):
            raise ValueError(f"{name}: buckets must be sorted")
        self.buckets = tuple(float(b) for b in buckets if b != math.inf)
        super().__init__(name, help, labelnames, registry)

    def _child(self) -> _HistogramChild:
        return _HistogramChild(self.buckets)

    def observe(self, value: float) -> None:
        self._default().observe(value)


class _SummaryChild:
    def __init__(self) -> None:
        self.count = 0
        self.sum = 0.0
        self.lock = threading.Lock()

    def observe(self, value: float) -> None:
        with self.lock:
            self.count += 1
            self.sum += value

    def values(self) -> list[tuple[str, dict[str, str], float]]:
        return [("_count", {}, float(self.count)), ("_sum", {}, self.sum)]


class Summary(_Metric):
    """Observations as ``_count`` and ``_sum`` (averages via rate(sum)/rate(count))."""

    kind = "summary"

    def _child(self) -> _SummaryChild:
        return _SummaryChild()

    def observe(self, value: float) -> None:
        self._default().observe(value)
