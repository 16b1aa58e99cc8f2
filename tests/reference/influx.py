"""Reference tokenizer of InfluxDB line protocol in plain Python (the contract of tsdb/ingest/influx_kernels.py).

:func:`tokenize` returns, per line that is neither blank nor a ``#`` comment: ``(line number, status)`` for a
malformed line, else ``(line number, 0, key, measurement, tags, fields, timestamp)`` with raw (still escaped)
byte strings, ``fields`` as ``(key, kind, numeric text)`` (text None for strings, ``1``/``0`` for booleans)
and ``timestamp`` None when absent.
"""

from __future__ import annotations

import re
from typing import Any

from tsdb.ingest import influx_kernels as k

_FLOAT = re.compile(rb"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_TRUE = {b"t", b"T", b"true", b"True", b"TRUE"}
_FALSE = {b"f", b"F", b"false", b"False", b"FALSE"}
_INT64_MAX = 2**63 - 1


def _until(line: bytes, i: int, stops: bytes) -> int:
    """Index of the first unescaped byte of ``stops`` at or after ``i`` (len(line) when none)."""
    while i < len(line):
        if line[i] == 0x5C and i + 1 < len(line):  # backslash escapes the next byte
            i += 2
        elif line[i] in stops:
            return i
        else:
            i += 1
    return len(line)


def _value(text: bytes) -> tuple[int, bytes] | None:
    """(kind, numeric text) of an unquoted field value, None when invalid."""
    if text.endswith(b"i") and re.fullmatch(rb"-?\d+", text[:-1]):
        return k.KIND_INT, text[:-1]
    if text.endswith(b"u") and re.fullmatch(rb"\d+", text[:-1]):
        return k.KIND_UINT, text[:-1]
    if _FLOAT.fullmatch(text):
        return k.KIND_FLOAT, text
    if text in _TRUE or text in _FALSE:
        return k.KIND_BOOL, b"1" if text in _TRUE else b"0"
    return None


def _line(line: bytes) -> tuple[Any, ...]:
    meas_end = _until(line, 0, b", ")
    if meas_end == 0:
        return (k.ERR_MEASUREMENT,)
    i = meas_end
    tags = []
    while i < len(line) and line[i:i + 1] == b",":
        key_end = _until(line, i + 1, b",= ")
        if key_end == i + 1 or line[key_end:key_end + 1] != b"=":
            return (k.ERR_TAG,)
        value_end = _until(line, key_end + 1, b", ")
        if value_end == key_end + 1:
            return (k.ERR_TAG,)
        tags.append((line[i + 1:key_end], line[key_end + 1:value_end]))
        i = value_end
    key = line[:i]
    rest = line[i:].lstrip(b" ")
    if not rest:
        return (k.ERR_NO_FIELDS,)
    i = len(line) - len(rest)
    fields = []
    while True:
        key_end = _until(line, i, b",= ")
        if key_end == i or line[key_end:key_end + 1] != b"=":
            return (k.ERR_FIELD,)
        field_key = line[i:key_end]
        i = key_end + 1
        if line[i:i + 1] == b'"':
            j = i + 1
            while j < len(line) and line[j:j + 1] != b'"':
                j += 2 if line[j:j + 1] == b"\\" else 1
            if j >= len(line):
                return (k.ERR_STRING,)
            fields.append((field_key, k.KIND_STRING, None))
            i = j + 1
        else:
            m = re.match(rb"[^, ]*", line[i:])
            assert m is not None
            parsed = _value(m.group())
            if parsed is None:
                return (k.ERR_FIELD_VALUE,)
            fields.append((field_key, *parsed))
            i += m.end()
        if line[i:i + 1] == b",":
            i += 1
            continue
        break
    if i < len(line) and line[i:i + 1] != b" ":
        return (k.ERR_FIELD_VALUE,)
    stamp_text = line[i:].strip(b" ")
    stamp = None
    if stamp_text:
        if not re.fullmatch(rb"-?\d+", stamp_text) or int(stamp_text.lstrip(b"-")) > _INT64_MAX:
            return (k.ERR_TIMESTAMP,)
        stamp = int(stamp_text)
    return (k.OK, key, line[:meas_end], tags, fields, stamp)


def tokenize(body: bytes) -> list[tuple[Any, ...]]:
    """The lines of ``body`` as described in the module doc."""
    out = []
    for number, raw in enumerate(body.split(b"\n"), 1):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        line = line.lstrip(b" \t")
        if not line or line.startswith(b"#"):
            continue
        out.append((number, *_line(line)))
    return out
