"""The registry: the metrics of a process, snapshotted as samples; process metrics built in."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from typing import Protocol

Sample = tuple[str, dict[str, str], float]


class Collector(Protocol):
    name: str
    help: str
    kind: str

    def samples(self) -> Iterator[Sample]: ...


class Registry:
    """A set of metrics by name. Thread-safe."""

    def __init__(self, process_metrics: bool = True) -> None:
        self._metrics: dict[str, Collector] = {}
        self._lock = threading.Lock()
        self.process_metrics = process_metrics
        self.start_time = time.time()

    def register(self, metric: Collector) -> None:
        with self._lock:
            if metric.name in self._metrics:
                raise ValueError(f"metric {metric.name!r} is already registered")
            self._metrics[metric.name] = metric

    def unregister(self, name: str) -> None:
        with self._lock:
            self._metrics.pop(name, None)

    def collectors(self) -> list[Collector]:
        with self._lock:
            return list(self._metrics.values())

    def collect(self) -> list[Sample]:
        """Every current sample (name, labels, value)."""
        out: list[Sample] = []
        for metric in self.collectors():
            out.extend(metric.samples())
        if self.process_metrics:
            out.extend(self._process())
        return out

    def _process(self) -> list[Sample]:
        import psutil

        proc = psutil.Process(os.getpid())
        cpu = proc.cpu_times()
        out: list[Sample] = [("process_cpu_seconds_total", {}, cpu.user + cpu.system),
                             ("process_resident_memory_bytes", {}, float(proc.memory_info().rss)),
                             ("process_start_time_seconds", {}, float(proc.create_time()))]
        with contextlib.suppress(AttributeError, OSError):  # not on every platform
            out.append(("process_open_fds", {}, float(proc.num_fds())))
        return out


DEFAULT_REGISTRY = Registry()
