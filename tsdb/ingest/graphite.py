"""Graphite plaintext protocol -> columnar samples, mapped as VictoriaMetrics maps it.

A line is ``path value [timestamp]`` or, tagged, ``path;tag1=v1;tag2=v2 value [timestamp]``. The dotted path
is kept as is as ``__name__`` (query it as ``{__name__="a.b.c"}``); tags become labels, their names made
Prometheus-compatible. The timestamp is in seconds (a fraction allowed) and becomes milliseconds; a missing
one, or ``-1``, gets the server's time. Malformed lines are reported by number and the others kept.

Graphite senders send a few lines per connection round (collectd: one per value per interval), so lines are
split in Python; Labels are built once per distinct path and cached across calls.
"""

from __future__ import annotations

import math

import numpy as np

from tsdb.ingest.batch import MAX_REPORTED_ERRORS, Batch, LineError, empty_batch
from tsdb.ingest.names import label_name
from tsdb.labels import Labels, LabelsCache


def _labels(path: bytes) -> Labels | str:
    """The Labels of a (possibly tagged) path, or what is wrong with it."""
    text = path.decode("utf-8", errors="replace")
    name, *tags = text.split(";")
    if not name:
        return "empty metric name"
    pairs: dict[str, str] = {}
    for tag in tags:
        key, eq, value = tag.partition("=")
        if not key or not eq or not value:
            return f"tag {tag!r} is not name=value"
        key = label_name(key)
        if key != "__name__":
            pairs[key] = value
    pairs["__name__"] = name
    return Labels(pairs)


def parse(body: bytes | bytearray, now_ms: int, cache: LabelsCache | None = None) -> Batch:
    """Decode plaintext lines (see the module doc); ``now_ms`` stamps lines without a timestamp."""
    series: dict[bytes, int] = {}
    labels: list[Labels] = []
    series_of: list[int] = []
    ts: list[int] = []
    values: list[float] = []
    errors: list[LineError] = []
    bad = 0
    for number, raw in enumerate(bytes(body).split(b"\n"), 1):
        parts = raw.split()
        if not parts:
            continue
        problem = ""
        if len(parts) not in (2, 3):
            problem = f"expected 'path value [timestamp]', got {len(parts)} fields"
        else:
            try:
                value = float(parts[1])
                stamp = float(parts[2]) if len(parts) == 3 else -1.0
                if not math.isfinite(stamp):
                    raise ValueError(stamp)
            except ValueError:
                problem = "invalid value or timestamp"
        if not problem:
            index = series.get(parts[0])
            if index is None:
                found = cache.get_many([parts[0]])[0] if cache is not None else None
                made = found if found is not None else _labels(parts[0])
                if isinstance(made, str):
                    problem = made
                else:
                    if cache is not None and found is None:
                        cache.put(parts[0], made)
                    index = series[parts[0]] = len(labels)
                    labels.append(made)
        if problem or index is None:
            bad += 1
            if len(errors) < MAX_REPORTED_ERRORS:
                errors.append(LineError(number, problem))
            continue
        series_of.append(index)
        ts.append(now_ms if stamp == -1 else round(stamp * 1000))
        values.append(value)
    if not labels:
        batch = empty_batch()
        batch.errors, batch.bad_lines = errors, bad
        return batch
    of = np.array(series_of, np.int64)
    order = np.argsort(of, kind="stable")
    offsets = np.zeros(len(labels) + 1, np.int64)
    np.cumsum(np.bincount(of, minlength=len(labels)), out=offsets[1:])
    return Batch(labels, offsets, np.array(ts, np.int64)[order], np.array(values, np.float64)[order], errors, bad)
