"""Seeded, realistic benchmark workload: node-exporter-like series scraped every 15 s.

Series kinds (by share): integer counters with irregular (Poisson) increments, 2-decimal "seconds"
counters, 2-decimal gauges doing a random walk, byte gauges in multiples of 1024 that change now and
then, and ~25% constant series (``up``, info metrics, limits). Timestamps: each series has a fixed
scrape offset within the interval plus a few ms of jitter per scrape, ending near ``end_ms`` (default:
now). Everything is vectorised numpy, so millions of samples take well under a second.

``generate(num_series, duration_ms)`` returns a :class:`Workload`; samples of series i are
``ts[offsets[i]:offsets[i+1]]`` / ``values[...]``, in increasing time order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from tsdb.labels import Labels

__all__ = ["KIND_NAMES", "Workload", "generate"]

# kind id -> (share, metric names to draw from)
KIND_NAMES: dict[int, tuple[str, float, tuple[str, ...]]] = {
    0: ("counter", 0.20, ("node_network_receive_packets_total", "node_disk_reads_completed_total",
                          "node_context_switches_total", "node_intr_total")),
    1: ("seconds_counter", 0.15, ("node_cpu_seconds_total", "node_disk_io_time_seconds_total")),
    2: ("gauge", 0.20, ("node_load1", "node_hwmon_temp_celsius", "node_pressure_cpu_waiting_ratio")),
    3: ("bytes_gauge", 0.20, ("node_memory_MemAvailable_bytes", "node_filesystem_avail_bytes",
                              "node_memory_Cached_bytes")),
    4: ("constant", 0.25, ("up", "node_uname_info", "node_filesystem_size_bytes", "node_cpu_online")),
}


@dataclass(frozen=True)
class Workload:
    """Samples of many series, concatenated: series i owns ``offsets[i]:offsets[i+1]``.

    ``ts`` int64 ms (increasing within a series), ``values`` float64, ``kinds`` int8 kind id per series
    (see ``KIND_NAMES``), ``labels`` one :class:`Labels` per series.
    """

    labels: list[Labels]
    ts: np.ndarray
    values: np.ndarray
    offsets: np.ndarray
    kinds: np.ndarray

    @property
    def num_series(self) -> int:
        """Number of series."""
        return len(self.labels)

    @property
    def num_samples(self) -> int:
        """Total number of samples."""
        return int(self.ts.shape[0])

    def series(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(ts, values) views of series ``i``."""
        s, e = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.ts[s:e], self.values[s:e]


def generate(num_series: int, duration_ms: int, interval_ms: int = 15_000, seed: int = 0,
             end_ms: int | None = None, jitter_ms: int = 3) -> Workload:
    """A deterministic workload of ``num_series`` series covering ``duration_ms`` up to ``end_ms``.

    Every series gets ``duration_ms // interval_ms`` samples (at least 1). Same arguments, same output
    (``end_ms`` defaults to now, rounded down to the interval, so pass it for bit-identical runs).
    """
    if num_series < 0 or duration_ms < 0 or interval_ms <= 0:
        raise ValueError(f"need num_series >= 0, duration_ms >= 0, interval_ms > 0; got "
                         f"{num_series}, {duration_ms}, {interval_ms}")
    rng = np.random.default_rng(seed)
    if end_ms is None:
        end_ms = int(time.time() * 1000) // interval_ms * interval_ms
    n = max(1, duration_ms // interval_ms)
    S = num_series

    shares = np.array([KIND_NAMES[k][1] for k in sorted(KIND_NAMES)])
    kinds = rng.choice(len(shares), size=S, p=shares / shares.sum()).astype(np.int8)

    # Timestamps: a per-series scrape offset, a regular grid, a few ms of jitter per scrape.
    start = end_ms - (n - 1) * interval_ms - interval_ms
    phase = rng.integers(0, interval_ms, size=S, dtype=np.int64)
    grid = np.arange(n, dtype=np.int64) * interval_ms
    jitter = rng.integers(-jitter_ms, jitter_ms + 1, size=(S, n), dtype=np.int64) if jitter_ms else 0
    ts = (start + phase[:, None] + grid[None, :] + jitter).astype(np.int64)

    values = np.empty((S, n), dtype=np.float64)
    for kind in range(len(shares)):
        rows = np.flatnonzero(kinds == kind)
        if rows.size:
            values[rows] = _values(kind, rows.size, n, rng)

    labels = _labels(kinds, rng)
    offsets = np.arange(S + 1, dtype=np.int64) * n
    return Workload(labels=labels, ts=ts.reshape(-1), values=values.reshape(-1), offsets=offsets, kinds=kinds)


def _values(kind: int, rows: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Values float64[rows, n] for one kind of series."""
    if kind == 0:  # integer counter, irregular increments with a per-series rate
        rate = rng.lognormal(2.0, 1.5, size=(rows, 1))
        start = rng.integers(0, 10**9, size=(rows, 1)).astype(np.float64)
        return start + np.cumsum(rng.poisson(rate, size=(rows, n)), axis=1).astype(np.float64)
    if kind == 1:  # seconds counter with 2 decimals (counted in hundredths, then scaled once)
        rate = rng.uniform(0.0, 1500.0, size=(rows, 1))
        first = rng.integers(0, 10**8, size=(rows, 1))
        hundredths = first + np.cumsum(rng.poisson(rate, size=(rows, n)), axis=1)
        return hundredths / 100.0
    if kind == 2:  # 2-decimal gauge, random walk
        base = rng.integers(0, 10_000, size=(rows, 1))
        walk = np.cumsum(rng.integers(-50, 51, size=(rows, n)), axis=1)
        return np.abs(base + walk) / 100.0
    if kind == 3:  # bytes gauge: multiples of 1024 changing in ~30% of scrapes
        base = rng.integers(2**18, 2**24, size=(rows, 1))
        step = rng.integers(-4096, 4097, size=(rows, n)) * (rng.random(size=(rows, n)) < 0.3)
        return np.abs(base + np.cumsum(step, axis=1)).astype(np.float64) * 1024.0
    # constant
    consts = np.array([0.0, 1.0, 4.0, 8.0, 1024.0**3 * 250, 0.5])
    return np.repeat(rng.choice(consts, size=(rows, 1)), n, axis=1)


def _labels(kinds: np.ndarray, rng: np.random.Generator) -> list[Labels]:
    """Label sets: a metric name of the kind, an instance (64 series per host), job, a per-series id."""
    out = []
    kind_list: list[int] = list(kinds.tolist())
    picks = np.asarray(rng.integers(0, 1 << 30, size=kinds.shape[0]), dtype=np.int64)
    pick_list = [int(p) for p in picks]
    for i, (kind, pick) in enumerate(zip(kind_list, pick_list, strict=True)):
        names = KIND_NAMES[kind][2]
        out.append(Labels.from_sorted_flat((
            "__name__", names[pick % len(names)],
            "id", str(i),
            "instance", f"host-{i // 64}:9100",
            "job", "node",
        )))
    return out
