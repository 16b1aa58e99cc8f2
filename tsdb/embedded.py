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
from typing import Any

import numpy as np
import numpy.typing as npt

from tsdb.config import QueryOptions, StorageOptions
from tsdb.errors import InvalidArgumentError
from tsdb.labels import Labels, Matcher
from tsdb.query.engine.engine import Engine
from tsdb.query.parser.parser import parse_matchers
from tsdb.query.result import QueryResult
from tsdb.storage.db import DB
from tsdb.storage.interfaces import CommitResult


class EmbeddedDB:
    """A data directory opened in-process: append, query, delete. Not shareable between processes."""

    def __init__(self, path: str, storage: StorageOptions, query: QueryOptions) -> None:
        self.storage = DB.open(path, storage)
        self.engine = Engine.from_options(self.storage, query)

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
        return self.engine.query_instant(query, t_ms, max_source_resolution)

    def query_range(self, query: str, start_ms: int, end_ms: int, step_ms: int,
                    max_source_resolution: str = "auto") -> QueryResult:
        """Evaluate a range query over ``[start_ms, end_ms]`` every ``step_ms`` (tiers as in :meth:`query`)."""
        if step_ms <= 0 or end_ms < start_ms:
            raise InvalidArgumentError("query_range needs step_ms > 0 and end_ms >= start_ms")
        return self.engine.query_range(query, start_ms, end_ms, step_ms, max_source_resolution)

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
