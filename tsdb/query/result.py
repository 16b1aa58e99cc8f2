"""The one query result type, :class:`QueryResult`, and the one converter from an engine value to it,
:func:`to_result`.

A result is a kind (vector, matrix, scalar or string) and a list of series, each its labels with
timestamps and values (a scalar is one unlabelled series; a string is ``text``), plus the query's
warnings and infos. Every consumer uses it: the embedded API (also as dense arrays, Arrow or pandas),
the gRPC client, the REPL and ``tsdb query`` (:mod:`tsdb.result_format` renders it) and the engine's
``query_instant``/``query_range``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from tsdb.labels import Labels
from tsdb.query.value import MatrixValue, ScalarValue, StringValue, Value, VectorValue


@dataclass
class ResultSeries:
    """One result series: labels and its samples as arrays."""

    labels: Labels
    ts: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]


@dataclass
class QueryResult:
    """A query result: ``kind`` is vector, matrix, scalar or string; scalars use ``series[0]`` with empty
    labels, strings ``text``. ``steps`` is the evaluation grid when known (the dense views use it, else
    the union of the series' timestamps); ``value`` is the engine's value when evaluated in-process.

    Dense views (the embedded API): ``labels[i]`` is the label dict of row ``i`` of ``values``/``present``
    (``float64``/``bool`` of shape ``[series, len(steps)]``, NaN/False where a series has no point)."""

    kind: str
    series: list[ResultSeries] = field(default_factory=list)
    text: str = ""
    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)
    steps: npt.NDArray[np.int64] | None = None
    value: Value | None = field(default=None, repr=False)

    # -- views -----------------------------------------------------------------------------------------
    @property
    def result_type(self) -> str:
        """Same as ``kind`` (the name Prometheus's API uses)."""
        return self.kind

    @property
    def scalar(self) -> float:
        """A scalar result's value (0.0 for other kinds)."""
        return float(self.series[0].values[0]) if self.kind == "scalar" and self.series else 0.0

    @property
    def string(self) -> str:
        return self.text

    @property
    def time_ms(self) -> int:
        """The evaluation time of an instant query (0 when the result spans several steps)."""
        return int(self.steps[0]) if self.steps is not None and len(self.steps) == 1 else 0

    @property
    def grid(self) -> npt.NDArray[np.int64]:
        """The columns of the dense views: ``steps`` or the union of the series' timestamps."""
        if self.steps is not None:
            return self.steps
        return np.unique(np.concatenate([s.ts for s in self.series])) if self.series else np.empty(0, np.int64)

    @property
    def labels(self) -> list[dict[str, str]]:
        return [s.labels.to_dict() for s in self.series]

    @property
    def values(self) -> npt.NDArray[np.float64]:
        return self._dense()[0]

    @property
    def present(self) -> npt.NDArray[np.bool_]:
        return self._dense()[1]

    def _dense(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
        grid = self.grid
        values = np.full((len(self.series), len(grid)), np.nan)
        present = np.zeros((len(self.series), len(grid)), dtype=bool)
        for i, s in enumerate(self.series):
            cols = np.searchsorted(grid, s.ts)
            values[i, cols] = s.values
            present[i, cols] = True
        return values, present

    def to_arrow(self) -> pa.Table:
        """Long format: one row per point with ``timestamp`` (ms), ``value`` and ``labels`` (map)."""
        labels = [s.labels.to_dict() for s in self.series for _ in range(len(s.ts))]
        return pa.table({
            "labels": pa.array(labels, type=pa.map_(pa.string(), pa.string())),
            "timestamp": pa.array(_concat([s.ts for s in self.series], np.int64), type=pa.int64()),
            "value": pa.array(_concat([s.values for s in self.series], np.float64), type=pa.float64()),
        })

    def to_pandas(self) -> Any:
        """Long format DataFrame (needs pandas): one column per label name, plus timestamp and value."""
        import pandas as pd

        frame = pd.DataFrame([s.labels.to_dict() for s in self.series for _ in range(len(s.ts))])
        frame["timestamp"] = pd.to_datetime(_concat([s.ts for s in self.series], np.int64), unit="ms", utc=True)
        frame["value"] = _concat([s.values for s in self.series], np.float64)
        return frame


def _concat(parts: list[Any], dtype: type) -> Any:
    return np.concatenate(parts).astype(dtype) if parts else np.empty(0, dtype)


def to_result(value: Value, steps: npt.NDArray[np.int64], warnings: Sequence[str] = (),
              infos: Sequence[str] = ()) -> QueryResult:
    """An engine value over ``steps`` -> :class:`QueryResult`, shaped as Prometheus's API shapes it: a scalar
    over several steps is a one-series matrix, series without points are left out, order is the value's
    (the engine orders range results by labels)."""
    notes: dict[str, Any] = {"warnings": list(warnings), "infos": list(infos), "value": value}
    if isinstance(value, StringValue):
        return QueryResult("string", text=value.value, steps=steps, **notes)
    if isinstance(value, ScalarValue):
        one = [ResultSeries(Labels(), steps.copy(), value.values.copy())]
        return QueryResult("scalar" if len(steps) == 1 else "matrix", one, steps=steps, **notes)
    if isinstance(value, MatrixValue):  # a range vector at one instant: its own timestamps
        return QueryResult("matrix", [ResultSeries(lb, ts, vals) for lb, ts, vals in
                                      zip(value.labels, value.ts, value.values, strict=True)], **notes)
    assert isinstance(value, VectorValue)
    series = [ResultSeries(value.labels[i], steps[value.present[i]], value.values[i][value.present[i]])
              for i in range(value.num_series) if value.present[i].any()]
    return QueryResult("vector" if len(steps) == 1 else "matrix", series, steps=steps, **notes)
