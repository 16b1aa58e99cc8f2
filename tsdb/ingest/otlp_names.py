"""Names and values of OTLP metrics as Prometheus 3.x writes them (its ``otlptranslator`` rules).

Metric names are escaped with unit and type suffixes (``UnderscoreEscapingWithSuffixes``), attribute names
sanitised into label names with Prometheus's default options, attribute values rendered as pdata's
``AsString`` does, and ``le``/``quantile`` values as Go's ``FormatFloat(v, 'f', -1, 64)``. Pure functions.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import re
from typing import Any

import numpy as np
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tsdb.errors import InvalidArgumentError

# OTel unit -> Prometheus suffix (otlptranslator's tables)
UNITS = {
    "d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds", "us": "microseconds",
    "ns": "nanoseconds", "By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes",
    "TiBy": "tibibytes", "KBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes",
    "m": "meters", "V": "volts", "A": "amperes", "J": "joules", "W": "watts", "g": "grams", "Cel": "celsius",
    "Hz": "hertz", "1": "", "%": "percent",
}
PER_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year"}


def _metric_char_ok(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c == ":")


def _fields(text: str, keep: Any) -> list[str]:
    """Go's strings.FieldsFunc: the runs of characters for which ``keep`` holds (empty runs dropped)."""
    out, run = [], []
    for c in text:
        if keep(c):
            run.append(c)
        elif run:
            out.append("".join(run))
            run = []
    if run:
        out.append("".join(run))
    return out


def _clean_unit(unit: str) -> str:
    """Characters outside ``[a-zA-Z0-9:]`` -> ``_``, runs of ``_`` collapsed, a leading ``_`` dropped."""
    mapped = "".join(c if _metric_char_ok(c) else "_" for c in unit)
    return re.sub("_+", "_", mapped).removeprefix("_")


def unit_suffixes(unit: str) -> tuple[str, str]:
    """(main suffix, ``per_`` suffix) of an OTel unit: ``By/s`` -> (``bytes``, ``per_second``); units in
    braces (annotations such as ``{request}``) give no suffix."""
    parts = unit.split("/", 1)
    main = per = ""
    head = parts[0].strip()
    if head and "{" not in head and "}" not in head:
        main = UNITS.get(head, head)
    if len(parts) > 1 and parts[1] != "":
        tail = parts[1].strip()
        if tail and "{" not in tail and "}" not in tail:
            per = PER_UNITS.get(tail, tail)
        if per:
            per = "per_" + per
    return main, per


def metric_name(name: str, unit: str, kind: str, with_suffixes: bool = True) -> str:
    """The Prometheus name of an OTLP metric (``kind``: gauge, counter (monotonic sum), sum, histogram,
    summary); InvalidArgumentError when nothing valid remains of it."""
    if with_suffixes:
        tokens = _fields(name, _metric_char_ok)
        main, per = unit_suffixes(unit)
        main, per = _clean_unit(main), _clean_unit(per)
        if main in tokens:
            main = ""
        if per == "per_":
            per = ""
        else:
            per = per.removesuffix("_")
            if per in tokens:
                per = ""
        if per:
            main = main.removesuffix("_")
        tokens += [t for t in (main, per) if t]
        if kind == "counter":
            tokens = [t for t in tokens if t != "total"] + ["total"]
        if unit == "1" and kind == "gauge":
            tokens = [t for t in tokens if t != "ratio"] + ["ratio"]
        result = "_".join(tokens)
    else:
        result = "_".join(_fields(name, lambda c: _metric_char_ok(c) or c == "_"))
    if result and result[0].isdigit():
        result = "_" + result
    if not result or (result != name and not result.strip("_")):
        raise InvalidArgumentError(f"normalization for metric {name!r} resulted in an invalid name {result!r}")
    return result


def unit_name(unit: str) -> str:
    """The metadata unit of an OTel unit (``ms`` -> ``milliseconds``, ``By/s`` -> ``bytes_per_second``)."""
    main, per = unit_suffixes(unit)
    main, per = _clean_unit(main), _clean_unit(per)
    text = f"{main}_{per}" if main and per else (main or per)
    return text.removeprefix("_").removesuffix("_")


_PLAIN_LABEL = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@functools.lru_cache(maxsize=65536)
def label_name(name: str) -> str:
    """A label name from an attribute name, as Prometheus's defaults sanitise it: characters outside
    ``[a-zA-Z0-9_]`` become ``_`` (runs kept), a leading digit gets ``key_``, a single leading ``_`` gets
    ``key``. InvalidArgumentError for an empty name or one of underscores only."""
    if _PLAIN_LABEL.fullmatch(name):
        return name
    if not name:
        raise InvalidArgumentError("label name is empty")
    out = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in name)
    if out[0].isdigit():
        out = "key_" + out
    elif out.startswith("_") and not out.startswith("__"):
        out = "key" + out
    if not out.strip("_"):
        raise InvalidArgumentError(f"normalization for label name {name!r} resulted in invalid name {out!r}")
    return out


def format_float(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)`` (``le`` and ``quantile`` values)."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return str(np.format_float_positional(value, trim="-"))


def any_value_text(value: AnyValue) -> str:
    """An attribute value as a label value (pdata's ``AsString``: JSON for arrays and maps)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind is None:
        return ""
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    return _non_string(value, kind)


def _non_string(value: AnyValue, kind: str) -> str:
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return _double_text(value.double_value)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return json.dumps(_any_json(value), separators=(",", ":"), ensure_ascii=False)


def _double_text(v: float) -> str:
    if math.isinf(v) or math.isnan(v):
        return f"json: unsupported value: {format_float(v)}"
    if v != 0 and (abs(v) < 1e-6 or abs(v) >= 1e21):
        mantissa, _, exponent = repr(v).partition("e")
        return f"{mantissa}e{exponent[0]}{exponent[1:].lstrip('0') or '0'}"
    return format_float(v)


def _any_json(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_any_json(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any_json(kv.value) for kv in value.kvlist_value.values}
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value if math.isfinite(value.double_value) else format_float(value.double_value)
    if kind == "bool_value":
        return value.bool_value
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return value.string_value if kind else None
