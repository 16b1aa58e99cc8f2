"""The columnar rendering of a range query result (``query_range`` with ``format=columns``), for charts.

Prometheus's matrix repeats every timestamp in every series and writes every value as a decimal string;
formatting those strings costs the server about half a microsecond per point and parsing them costs the
browser as much again. A chart needs one time axis and one float64 array per series, so this form sends
exactly that::

    {"resultType":"matrix","format":"columns","times":[<seconds>,...],
     "result":[{"metric":{...},"values":"<base64>","absent":[<index>,...]},...]}

``values`` is the base64 of the series' float64 values in little-endian byte order, one per entry of
``times`` (so NaN and infinities are exact); ``absent`` (left out when empty) lists the indexes where the
series has no point, whose values are to be ignored. Series are in label order and series without any
point are left out, as in the matrix.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import numpy as np

from tsdb.query.value import ScalarValue, Value, VectorValue
from tsdb.server import json_format as jf

FORMATS = ("prometheus", "columns")


def _series(metric_json: str, values: np.ndarray, present: np.ndarray | None) -> str:
    encoded = base64.b64encode(np.ascontiguousarray(values, dtype="<f8").tobytes()).decode("ascii")
    text = '{"metric":' + metric_json + ',"values":"' + encoded + '"'
    if present is not None:
        text += ',"absent":[' + ",".join(map(str, np.flatnonzero(~present).tolist())) + "]"
    return text + "}"


def render_columns(value: Value, steps: Sequence[int]) -> str:
    """``value`` (the result of a range query over ``steps``, in ms) in the columnar form above."""
    head = ('{"resultType":"matrix","format":"columns","times":[' + ",".join(map(jf.format_timestamp, steps))
            + '],"result":[')
    if isinstance(value, ScalarValue):
        return head + _series("{}", value.values, None) + "]}"
    if not isinstance(value, VectorValue):
        raise TypeError(f"a range query result is a vector per step or a scalar, not {type(value).__name__}")
    items = []
    for i in sorted(range(value.num_series), key=lambda i: value.labels[i]):
        mask = value.present[i]
        if mask.any():
            items.append(_series(jf.labels_json(value.labels[i]), value.values[i], None if mask.all() else mask))
    return head + ",".join(items) + "]}"
