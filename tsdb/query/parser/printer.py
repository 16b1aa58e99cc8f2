"""Printing PromQL: the text forms the AST's ``__str__`` methods are made of (numbers, quoted strings and
label names, ``@``/``offset`` modifiers, ranges), so that ``str(expr)`` parses back to an equal tree."""

from __future__ import annotations

import json
import math

from tsdb.labels import is_legacy_label_name
from tsdb.timefmt import format_duration


def format_number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    return repr(value).removesuffix(".0") if value == int(value) and abs(value) < 1e15 else repr(value)


def quote(text: str) -> str:
    """A PromQL double-quoted string literal; raw bytes (kept as surrogate escapes) print as ``\\xHH``."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return json.dumps(text, ensure_ascii=False)
    parts = [f"\\x{ord(ch) - 0xDC00:02x}" if "\udc80" <= ch <= "\udcff" else json.dumps(ch, ensure_ascii=False)[1:-1]
             for ch in text]
    return '"' + "".join(parts) + '"'


KEYWORDS = frozenset({"and", "or", "unless", "bool", "on", "ignoring", "group_left", "group_right", "by", "without",
                      "offset", "atan2", "inf", "nan", "sum", "avg", "count", "count_values", "min", "max", "group",
                      "stddev", "stdvar", "topk", "bottomk", "quantile", "limitk", "limit_ratio", "start", "end"})
"""Words the lexer reads as keywords in some positions: metric names spelled so are printed quoted."""


def at_and_offset(offset_ms: int, at_ms: int | None, at_modifier: str | None,
                   offset_expr: object | None = None) -> str:
    out = ""
    if at_modifier:
        out += f" @ {at_modifier}()"
    elif at_ms is not None:
        out += f" @ {at_ms / 1000:.3f}"
    if offset_expr is not None:
        out += f" offset ({offset_expr})"
    elif offset_ms:
        out += f" offset {format_duration(offset_ms)}"
    return out


def range_text(range_ms: int, range_expr: object | None) -> str:
    return str(range_expr) if range_expr is not None else format_duration(range_ms)


def label_text(name: str) -> str:
    return name if is_legacy_label_name(name) else quote(name)
