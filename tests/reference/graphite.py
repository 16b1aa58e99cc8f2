"""Pure-Python references of Graphite plaintext decoding: :func:`tokenize_ref` is the contract of
:mod:`tsdb.ingest.graphite_kernels` and :func:`parse_ref` the per-line decoder :func:`tsdb.ingest.graphite.parse`
must agree with."""

from __future__ import annotations

import re

import numpy as np

from tsdb.ingest import graphite_kernels as k
from tsdb.ingest.batch import MAX_REPORTED_ERRORS, Batch, LineError, empty_batch
from tsdb.ingest.graphite import _labels
from tsdb.labels import Labels

NUMBER = re.compile(rb"[+-]?((\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|nan|inf|infinity)", re.IGNORECASE)


def tokenize_ref(body: bytes) -> list[tuple[int, int, bytes, int, list[bytes]]]:
    """Per non-blank line: (line number, status, path, fields, [value text, timestamp text]) with the texts
    only for well-formed lines (``-1`` for a missing timestamp)."""
    out = []
    for number, raw in enumerate(body.split(b"\n"), 1):
        parts = raw.split()
        if not parts:
            continue
        if len(parts) not in (2, 3):
            out.append((number, k.ERR_FIELDS, parts[0], len(parts), []))
        elif not all(NUMBER.fullmatch(p) for p in parts[1:]):
            out.append((number, k.ERR_NUMBER, parts[0], len(parts), []))
        else:
            out.append((number, k.OK, parts[0], len(parts), [parts[1], parts[2] if len(parts) == 3 else b"-1"]))
    return out


def parse_ref(body: bytes, now_ms: int) -> Batch:
    """Decode line by line in Python (no cache)."""
    series: dict[bytes, int] = {}
    labels: list[Labels] = []
    rows: list[tuple[int, int, float]] = []
    errors: list[LineError] = []
    bad = 0
    for number, status, path, fields, texts in tokenize_ref(body):
        problem = ""
        if status == k.ERR_FIELDS:
            problem = f"expected 'path value [timestamp]', got {fields} fields"
        elif status == k.ERR_NUMBER:
            problem = "invalid value or timestamp"
        else:
            value, stamp = float(texts[0]), float(texts[1])
            if not np.isfinite(stamp) or abs(stamp) >= 9.2e15:
                problem = "invalid value or timestamp"
            elif path not in series:
                made = _labels(path)
                if isinstance(made, str):
                    problem = made
                else:
                    series[path] = len(labels)
                    labels.append(made)
        if problem:
            bad += 1
            if len(errors) < MAX_REPORTED_ERRORS:
                errors.append(LineError(number, problem))
            continue
        rows.append((series[path], now_ms if stamp == -1 else int(np.rint(stamp * 1000)), value))
    if not labels:
        batch = empty_batch()
        batch.errors, batch.bad_lines = errors, bad
        return batch
    rows.sort(key=lambda r: r[0])  # stable: each series' samples in body order
    offsets = np.zeros(len(labels) + 1, np.int64)
    np.cumsum(np.bincount([r[0] for r in rows], minlength=len(labels)), out=offsets[1:])
    return Batch(labels, offsets, np.array([r[1] for r in rows], np.int64),
                 np.array([r[2] for r in rows], np.float64), errors, bad)
