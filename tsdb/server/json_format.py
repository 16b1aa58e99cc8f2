"""Prometheus HTTP API JSON rendering: sample values, timestamps and query results, as Prometheus writes them.

Values are strings in Go's ``strconv.FormatFloat`` shortest form: fixed notation for
``1e-6 <= |v| < 1e21`` (and zero), exponent notation otherwise (``1e-07``, ``1.5e+21``), ``NaN``,
``+Inf``, ``-Inf``. Timestamps are seconds with up to millisecond precision written from integer
milliseconds (``1.5`` s is written ``1.500``, as Prometheus does).
"""

from __future__ import annotations

import math
import re

import numpy as np

from tsdb.labels import Labels


def format_value(value: float) -> str:
    """A sample value as Prometheus's JSON renders it (see module docstring)."""
    text = repr(value)  # Python's repr is the shortest round-trip decimal, as Go's FormatFloat(v, 'f'|'e', -1)
    if "e" not in text and "n" not in text:  # positional (|v| < 1e16), not inf/nan
        return text[:-2] if text.endswith(".0") else text
    return _format_slow(value)


def _format_slow(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        return np.format_float_scientific(value, unique=True, trim="-", exp_digits=2)
    return np.format_float_positional(value, unique=True, trim="-")


def format_values(values: np.ndarray) -> list[str]:
    """:func:`format_value` of every element of a float64 array, without a Python call per element.

    Python's ``str`` of a float is already Go's form for ``1e-4 <= |v| < 1e16`` except that integral values
    end in ``.0``; those become ints first, and the rest (tiny, huge, NaN, infinite, ``-0``) take
    :func:`format_value`.
    """
    arr = np.asarray(values, dtype=np.float64)
    items: list[object] = arr.tolist()
    magnitude = np.abs(arr)
    with np.errstate(invalid="ignore"):
        plain = (magnitude >= 1e-4) & (magnitude < 1e16)
        integral = plain & (arr == np.trunc(arr))
    for j in np.flatnonzero(integral).tolist():
        items[j] = int(items[j])  # type: ignore[call-overload]
    for j in np.flatnonzero(~plain).tolist():
        items[j] = format_value(items[j])  # type: ignore[arg-type]
    return list(map(str, items))


def format_timestamp(ts_ms: int) -> str:
    """Milliseconds as Prometheus writes a JSON timestamp: integer seconds, then ``.mmm`` if non-zero."""
    sign = "-" if ts_ms < 0 else ""
    ts_ms = abs(ts_ms)
    seconds, fraction = divmod(ts_ms, 1000)
    return f"{sign}{seconds}.{fraction:03d}" if fraction else f"{sign}{seconds}"


def labels_json(labels: Labels) -> str:
    """A label set as a JSON object (keys in label order)."""
    return "{" + ",".join(f"{json_string(n)}:{json_string(v)}" for n, v in labels.items()) + "}"


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\<>&\u2028\u2029]')


def json_string(text: str) -> str:
    """A JSON string literal, escaping as Go's encoder does (``<``, ``>``, ``&`` as \\u escapes)."""
    if _NEEDS_ESCAPE.search(text) is None:
        return '"' + text + '"'
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch in "<>&" or ord(ch) < 0x20 or ch in "\u2028\u2029":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def point_json(ts_ms: int, value: float) -> str:
    """``[<seconds>,"<value>"]``."""
    return f'[{format_timestamp(ts_ms)},"{format_value(value)}"]'
