"""The embedded API: use tsdb as a library, no server needed.

>>> import tsdb
>>> db = tsdb.open("data")
>>> db.append({"__name__": "temp", "room": "a"}, [1000, 2000], [20.5, 21.0])
>>> result = db.query_range("avg_over_time(temp[5m])", 0, 60_000, 15_000)
>>> result.values            # float64[series, steps], NaN where absent (see .present)
>>> result.to_pandas()       # long format, when pandas is installed

Times are Unix milliseconds. Each ``append`` call is committed (WAL first) before it returns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from tsdb.config import QueryOptions, StorageOptions
from tsdb.errors import InvalidArgumentError
from tsdb.labels import Labels, Matcher
from tsdb.query.engine.engine import Engine
from tsdb.query.parser.parser import parse_matchers
from tsdb.query.value import MatrixValue, ScalarValue, StringValue, Value, VectorValue
from tsdb.storage.db import DB
from tsdb.storage.interfaces import CommitResult


@dataclass
class QueryResult:
    """A query result as arrays: ``labels[i]`` is the label dict of row ``i`` of ``values``/``present``
    (``float64``/``bool`` of shape ``[series, len(steps)]``); scalars have one row with no labels.
    ``kind`` is vector, matrix, scalar or string (``text``)."""

    kind: str
    steps: npt.NDArray[np.int64]
    labels: list[dict[str, str]]
    values: npt.NDArray[np.float64]
    present: npt.NDArray[np.bool_]
    text: str = ""

    def to_arrow(self) -> pa.Table:
        """Long format: one row per present point with ``timestamp`` (ms), ``value`` and ``labels`` (map)."""
        rows, cols = np.nonzero(self.present)
        return pa.table({
            "labels": pa.array([self.labels[r] for r in rows.tolist()], type=pa.map_(pa.string(), pa.string())),
            "timestamp": pa.array(self.steps[cols], type=pa.int64()),
            "value": pa.array(self.values[rows, cols], type=pa.float64()),
        })

    def to_pandas(self) -> Any:
        """Long format DataFrame (needs pandas): one column per label name, plus timestamp and value."""
        import pandas as pd

        rows, cols = np.nonzero(self.present)
        frame = pd.DataFrame([self.labels[r] for r in rows.tolist()])
        frame["timestamp"] = pd.to_datetime(self.steps[cols], unit="ms", utc=True)
        frame["value"] = self.values[rows, cols]
        return frame


def to_result(value: Value, steps: npt.NDArray[np.int64]) -> QueryResult:
    """Engine value -> :class:`QueryResult`."""
    if isinstance(value, StringValue):
        return QueryResult("string", steps, [], np.empty((0, len(steps))), np.zeros((0, len(steps)), bool),
                           value.value)
    if isinstance(value, ScalarValue):
        return QueryResult("scalar", steps, [{}], value.values.reshape(1, -1).copy(),
                           np.ones((1, len(steps)), dtype=bool))
    if isinstance(value, MatrixValue):
        # a range vector at one instant: its own timestamps become the columns
        all_ts = np.unique(np.concatenate(value.ts)) if value.ts else np.empty(0, np.int64)
        values = np.full((len(value.labels), len(all_ts)), np.nan)
        present = np.zeros((len(value.labels), len(all_ts)), dtype=bool)
        for i, (ts, vals) in enumerate(zip(value.ts, value.values, strict=True)):
            cols = np.searchsorted(all_ts, ts)
            values[i, cols] = vals
            present[i, cols] = True
        return QueryResult("matrix", all_ts, [lb.to_dict() for lb in value.labels], values, present)
    assert isinstance(value, VectorValue)
    values = np.where(value.present, value.values, np.nan)
    return QueryResult("vector" if len(steps) == 1 else "matrix", steps,
                       [lb.to_dict() for lb in value.labels], values, value.present.copy())


class EmbeddedDB:
    """A data directory opened in-process: append, query, delete. Not shareable between processes."""

    def __init__(self, path: str, storage: StorageOptions, query: QueryOptions) -> None:
        self.storage = DB.open(path, storage)
        self.engine = Engine(self.storage, lookback_delta_ms=query.lookback_delta_ms,
                             max_samples=query.max_samples, timeout_s=query.timeout_ms / 1000,
                             max_points=query.max_points_per_series,
                             default_subquery_step_ms=query.default_subquery_step_ms)

    def __enter__(self) -> EmbeddedDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, labels: Mapping[str, str] | Labels, ts: Sequence[int] | npt.NDArray[np.int64],
               values: Sequence[float] | npt.NDArray[np.float64]) -> CommitResult:
        """Append and commit samples of one series; returns what was stored and rejected."""
        return self.append_many([(labels, ts, values)])

    def append_many(self, batch: Iterable[tuple[Mapping[str, str] | Labels, Any, Any]]) -> CommitResult:
        """Append and commit samples of several series in one WAL write."""
        appender = self.storage.appender()
        try:
            for labels, ts, values in batch:
                series = labels if isinstance(labels, Labels) else Labels(labels)
                ts_arr = np.asarray(ts, dtype=np.int64)
                values_arr = np.asarray(values, dtype=np.float64)
                if ts_arr.shape != values_arr.shape or ts_arr.ndim != 1:
                    raise InvalidArgumentError(f"timestamps and values of {series} differ in shape: "
                                               f"{ts_arr.shape} vs {values_arr.shape}")
                appender.append(series, ts_arr, values_arr)
            return appender.commit()
        except BaseException:
            appender.rollback()
            raise

    def query(self, query: str, t_ms: int, max_source_resolution: str = "auto") -> QueryResult:
        """Evaluate an instant query at ``t_ms`` (``max_source_resolution``: raw, 5m, 1h or auto)."""
        return to_result(self.engine.instant(query, t_ms, max_source_resolution), np.array([t_ms], dtype=np.int64))

    def query_range(self, query: str, start_ms: int, end_ms: int, step_ms: int,
                    max_source_resolution: str = "auto") -> QueryResult:
        """Evaluate a range query over ``[start_ms, end_ms]`` every ``step_ms`` (tiers as in :meth:`query`)."""
        if step_ms <= 0 or end_ms < start_ms:
            raise InvalidArgumentError("query_range needs step_ms > 0 and end_ms >= start_ms")
        steps = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
        return to_result(self.engine.range(query, start_ms, end_ms, step_ms, max_source_resolution), steps)

    def delete(self, selector: str, mint: int, maxt: int) -> None:
        """Delete samples of series matching ``selector`` in ``[mint, maxt]``."""
        self.storage.delete(parse_matchers(selector), mint, maxt)

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        querier = self.storage.querier(-(2**62), 2**62)
        try:
            return querier.label_names(matchers)
        finally:
            querier.close()

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        querier = self.storage.querier(-(2**62), 2**62)
        try:
            return querier.label_values(name, matchers)
        finally:
            querier.close()

    def close(self) -> None:
        self.storage.close()


def open_db(path: str, **options: Any) -> EmbeddedDB:
    """Open or create ``path``; keyword options are StorageOptions or QueryOptions field names."""
    storage_fields = {f.name for f in dataclasses.fields(StorageOptions)}
    query_fields = {f.name for f in dataclasses.fields(QueryOptions)}
    unknown = set(options) - storage_fields - query_fields
    if unknown:
        raise InvalidArgumentError(f"unknown option(s) {sorted(unknown)}; known: "
                                   f"{sorted(storage_fields | query_fields)}")
    storage = StorageOptions(**{k: v for k, v in options.items() if k in storage_fields})
    query = QueryOptions(**{k: v for k, v in options.items() if k in query_fields})
    return EmbeddedDB(path, storage, query)
