"""Graphite plaintext protocol -> columnar samples, mapped as VictoriaMetrics maps it.

A line is ``path value [timestamp]`` or, tagged, ``path;tag1=v1;tag2=v2 value [timestamp]``. The dotted path
is kept as is as ``__name__`` (query it as ``{__name__="a.b.c"}``); tags become labels, their names made
Prometheus-compatible. The timestamp is in seconds (a fraction allowed) and becomes milliseconds; a missing
one, or ``-1``, gets the server's time. Malformed lines are reported by number and the others kept.

Lines are tokenized in one numba pass (:mod:`tsdb.ingest.graphite_kernels`) and their numbers converted in one
vectorised call; Python runs once per distinct path only, and Labels are cached across calls.
"""

from __future__ import annotations

import numpy as np

from tsdb.ingest import graphite_kernels as k
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
    data = bytes(body)
    buf = np.frombuffer(data, dtype=np.uint8)
    n_rows = data.count(b"\n") + 1
    lines = np.empty((n_rows, k.LINE_COLUMNS), np.int64)
    numbuf = np.empty(len(data) + 3 * n_rows + 4, np.uint8)
    rows, n_num = k.tokenize(buf, lines, numbuf)
    lines = lines[:rows]
    status = lines[:, k.G_STATUS]
    numbers = np.array(numbuf[:n_num].tobytes().split(), dtype=np.float64).reshape(-1, 2)
    ok_rows = np.flatnonzero(status == k.OK)
    values, stamps = numbers[:, 0], numbers[:, 1]
    bad_stamp = ~np.isfinite(stamps) | (np.abs(stamps) >= _MAX_SECONDS)
    if bad_stamp.any():
        status[ok_rows[bad_stamp]] = k.ERR_NUMBER
        keep = ~bad_stamp
        ok_rows, values, stamps = ok_rows[keep], values[keep], stamps[keep]
    # series identity: the raw path bytes; one Labels per distinct path
    paths = list(map(data.__getitem__, map(slice, lines[ok_rows, k.G_PATH_S].tolist(),
                                           lines[ok_rows, k.G_PATH_E].tolist())))
    ids = {path: i for i, path in enumerate(dict.fromkeys(paths))}  # a loop over distinct paths only
    distinct = list(ids)
    found: list[Labels | str | None] = list(cache.get_many(distinct)) if cache is not None else [None] * len(ids)
    for i in [i for i, labels in enumerate(found) if labels is None]:
        made = _labels(distinct[i])
        found[i] = made
        if cache is not None and not isinstance(made, str):
            cache.put(distinct[i], made)
    path_id = np.fromiter(map(ids.__getitem__, paths), np.int64, len(paths))
    problems = {i: made for i, made in enumerate(found) if isinstance(made, str)}
    if problems:
        wrong = np.isin(path_id, np.fromiter(problems, np.int64, len(problems)))
        status[ok_rows[wrong]] = -1 - path_id[wrong]  # a bad path: its message is problems[-1 - status]
        keep = ~wrong
        ok_rows, values, stamps, path_id = ok_rows[keep], values[keep], stamps[keep], path_id[keep]
    bad = np.flatnonzero(status != k.OK)
    errors = [LineError(int(lines[i, k.G_NO]), _problem(int(lines[i, k.G_STATUS]), int(lines[i, k.G_FIELDS]),
                                                        problems))
              for i in bad[:MAX_REPORTED_ERRORS].tolist()]
    if not len(ok_rows):
        batch = empty_batch()
        batch.errors, batch.bad_lines = errors, len(bad)
        return batch
    # renumber the good paths densely in first-seen order
    used, series_of = np.unique(path_id, return_inverse=True)
    first_seen = np.argsort(np.unique(path_id, return_index=True)[1], kind="stable")
    rank = np.empty(len(used), np.int64)
    rank[first_seen] = np.arange(len(used))
    series_of = rank[series_of]
    labels = [found[i] for i in used[first_seen].tolist()]
    ts = np.where(stamps == -1, now_ms, np.rint(stamps * 1000)).astype(np.int64)
    order = np.argsort(series_of, kind="stable")
    offsets = np.zeros(len(labels) + 1, np.int64)
    np.cumsum(np.bincount(series_of, minlength=len(labels)), out=offsets[1:])
    return Batch(labels, offsets, ts[order], values[order], errors, len(bad))


_MAX_SECONDS = 9.2e15
"""Timestamps (seconds) at or beyond this magnitude do not fit int64 milliseconds."""


def _problem(status: int, fields: int, problems: dict[int, str]) -> str:
    if status == k.ERR_FIELDS:
        return f"expected 'path value [timestamp]', got {fields} fields"
    if status == k.ERR_NUMBER:
        return "invalid value or timestamp"
    return problems[-1 - status]
