"""Downsampling: per series and per window (5m, 1h) the aggregates a Parquet tier keeps.

:func:`downsample_flat` aggregates columnar raw samples in one kernel call; :func:`downsample_reader`
does it for any block reader (a :class:`~tsdb.storage.block.reader.Block` or the head: anything with
``querier(mint, maxt)``). :class:`Aggregates` is the columnar result, also what a tier file holds.
:func:`aggregate_series` turns aggregates into the sample series the query engine evaluates functions on
(see docs/tiers.md for the function -> aggregate mapping).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tsdb.errors import InvalidArgumentError
from tsdb.labels import Labels, Matcher
from tsdb.storage.interfaces import FlatSeries
from tsdb.storage.interrupt import StopFlag, check_stop
from tsdb.storage.tiers import downsample_kernels as k

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

RESOLUTIONS = {"5m": 300_000, "1h": 3_600_000}
"""Tier names and their window length in ms."""

AGGREGATES = ("count", "sum", "min", "max", "avg", "counter")
"""What a query can ask a tier for (``avg`` = sum / count, ``counter`` = reset-adjusted counter)."""

ALL_SERIES = (Matcher("=~", "__name__", ".*"),)

_STOP_CHECK_SERIES = 256  # series read between two checks of the stop flag


@dataclass
class Aggregates:
    """Per-window aggregates of many series, columnar: series ``i`` owns rows ``offsets[i]:offsets[i+1]``
    (windows in time order); series sorted by labels."""

    labels: list[Labels]
    offsets: I64
    start: I64
    count: I64
    first_ts: I64
    last_ts: I64
    sum: F64
    min: F64
    max: F64
    first_value: F64
    last_value: F64
    counter_inc: F64

    @property
    def num_rows(self) -> int:
        return int(self.offsets[-1]) if len(self.offsets) else 0

    @classmethod
    def empty(cls) -> Aggregates:
        i, f = np.zeros(0, np.int64), np.zeros(0, np.float64)
        return cls([], np.zeros(1, np.int64), i, i, i, i, f, f, f, f, f, f)

    def columns(self) -> dict[str, Any]:
        """The per-row columns by name."""
        return {name: getattr(self, name) for name in ("start", "count", "first_ts", "last_ts", "sum", "min",
                                                          "max", "first_value", "last_value", "counter_inc")}


def downsample_flat(flat: FlatSeries, resolution_ms: int) -> Aggregates:
    """Aggregate columnar raw samples into windows of ``resolution_ms`` (stale markers skipped)."""
    if resolution_ms <= 0:
        raise InvalidArgumentError(f"downsampling resolution must be positive, got {resolution_ms} ms")
    n = len(flat.labels)
    capacity = max(1, len(flat.ts))
    out_int = np.empty((capacity, k.NINT), dtype=np.int64)
    out_float = np.empty((capacity, k.NFLOAT), dtype=np.float64)
    out_offsets = np.zeros(n + 1, dtype=np.int64)
    rows = k.downsample(np.ascontiguousarray(flat.ts, np.int64), np.ascontiguousarray(flat.values, np.float64),
                        np.ascontiguousarray(flat.offsets, np.int64), int(resolution_ms), out_int, out_float,
                        out_offsets)
    ints, floats = out_int[:rows], out_float[:rows]
    counts = np.diff(out_offsets)
    labels = flat.labels
    if not counts.all():  # series of stale markers only
        labels = [lb for lb, c in zip(labels, counts.tolist(), strict=True) if c]
        out_offsets = np.concatenate(([0], np.cumsum(counts[counts > 0]))).astype(np.int64)
    return Aggregates(list(labels), out_offsets, ints[:, k.START].copy(), ints[:, k.COUNT].copy(),
                      ints[:, k.FIRST_TS].copy(), ints[:, k.LAST_TS].copy(), floats[:, k.SUM].copy(),
                      floats[:, k.MIN].copy(), floats[:, k.MAX].copy(), floats[:, k.FIRST_VALUE].copy(),
                      floats[:, k.LAST_VALUE].copy(), floats[:, k.COUNTER_INC].copy())


def downsample_reader(reader: Any, mint: int, maxt: int, resolution_ms: int,
                      batch_samples: int = 2_000_000, stop: StopFlag | None = None) -> Aggregates:
    """Aggregate every series of a block reader (anything with ``querier(mint, maxt)``) in ``[mint, maxt]``.

    Series are read and aggregated in batches of about ``batch_samples`` raw samples, so memory stays
    bounded by the batch and the (much smaller) result, whatever the block's size. A set ``stop`` raises
    :class:`~tsdb.errors.MaintenanceInterruptedError` between series batches.
    """
    parts: list[Aggregates] = []
    querier = reader.querier(mint, maxt)
    try:
        batch: list[Any] = []
        pending = 0
        for n, series in enumerate(querier.select(ALL_SERIES)):
            if n % _STOP_CHECK_SERIES == 0:
                check_stop(stop, "downsampling")
            ts, values = series.samples()
            batch.append((series.labels, ts, values))
            pending += len(ts)
            if pending >= batch_samples:
                parts.append(_downsample_batch(batch, resolution_ms))
                batch, pending = [], 0
        if batch:
            parts.append(_downsample_batch(batch, resolution_ms))
    finally:
        querier.close()
    return concat_aggregates(parts)


def _downsample_batch(batch: list[Any], resolution_ms: int) -> Aggregates:
    offsets = np.zeros(len(batch) + 1, dtype=np.int64)
    np.cumsum([len(ts) for _, ts, _ in batch], out=offsets[1:])
    flat = FlatSeries([lb for lb, _, _ in batch], np.concatenate([np.asarray(ts, np.int64) for _, ts, _ in batch]),
                      np.concatenate([np.asarray(v, np.float64) for _, _, v in batch]), offsets)
    return downsample_flat(flat, resolution_ms)


def concat_aggregates(parts: list[Aggregates]) -> Aggregates:
    """Concatenate aggregates of disjoint, ordered sets of series."""
    parts = [p for p in parts if p.labels]
    if not parts:
        return Aggregates.empty()
    if len(parts) == 1:
        return parts[0]
    offsets = np.zeros(sum(len(p.labels) for p in parts) + 1, dtype=np.int64)
    np.cumsum(np.concatenate([np.diff(p.offsets) for p in parts]), out=offsets[1:])
    columns = {name: np.concatenate([p.columns()[name] for p in parts]) for name in parts[0].columns()}
    return Aggregates([lb for p in parts for lb in p.labels], offsets, **columns)


def aggregate_series(agg: Aggregates, name: str) -> FlatSeries:
    """The sample series the engine evaluates on: one point per window at its last sample's time.

    ``count``/``sum``/``min``/``max`` as stored, ``avg`` = sum / count, ``counter`` = the reset-adjusted
    counter (starting from the first window's first value) at the window's first and last samples.
    """
    if name == "counter":
        # two points per window, at its first and last sample, so a range aligned to windows starts and
        # ends on the same samples as over raw data (rate/increase extrapolate the same way)
        last = np.empty(agg.num_rows, dtype=np.float64)
        k.counter_values(agg.first_value, agg.last_value, agg.counter_inc, agg.offsets, last)
        first = last - agg.counter_inc
        two = agg.count > 1
        per_row = 1 + two.astype(np.int64)
        n_points = int(per_row.sum())
        pos_last = np.cumsum(per_row) - 1
        ts = np.empty(n_points, dtype=np.int64)
        values = np.empty(n_points, dtype=np.float64)
        ts[pos_last] = agg.last_ts
        values[pos_last] = last
        ts[pos_last[two] - 1] = agg.first_ts[two]
        values[pos_last[two] - 1] = first[two]
        row_end = np.concatenate(([0], np.cumsum(per_row)))
        return FlatSeries(list(agg.labels), ts, values, row_end[agg.offsets])
    if name == "avg":
        values = agg.sum / agg.count
    elif name == "count":
        values = agg.count.astype(np.float64)
    elif name in ("sum", "min", "max"):
        values = getattr(agg, name).copy()
    else:
        raise InvalidArgumentError(f"unknown tier aggregate {name!r}; known: {', '.join(AGGREGATES)}")
    return FlatSeries(list(agg.labels), agg.last_ts.copy(), values, agg.offsets.copy())
