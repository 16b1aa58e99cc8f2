"""The Prometheus text exposition format (0.0.4), parsed as Prometheus's scraper reads it.

Sample names are kept exactly as exposed (a counter ``requests`` stays ``requests``; client libraries that
rename counters to ``*_total`` are not followed), ``# HELP``/``# TYPE`` give each metric family's metadata
under the name on that line, timestamps are integer milliseconds. Label values unescape ``\\\\``, ``\\"`` and
``\\n``; HELP text ``\\\\`` and ``\\n``. Values are Go floats (``NaN``, ``+Inf``, ``-Inf``, exponents; no
underscores). Any malformed line fails the whole exposition with a :class:`ExpositionError` naming the line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from tsdb.storage.metadata import MetricMetadata, normalise_type

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_FLOAT = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
                    r"|0[xX][0-9a-fA-F]+(?:\.[0-9a-fA-F]*)?(?:[pP][+-]?\d+)?)")
_SPECIAL = {"nan": math.nan, "+inf": math.inf, "inf": math.inf, "-inf": -math.inf, "+infinity": math.inf,
            "infinity": math.inf, "-infinity": -math.inf, "+nan": math.nan, "-nan": math.nan}
_TYPES = {"counter", "gauge", "histogram", "summary", "untyped", "gaugehistogram", "info", "stateset", "unknown"}


class ExpositionError(ValueError):
    """A malformed exposition (the message names the line)."""


@dataclass
class Exposition:
    """Parsed samples ``(labels with __name__, value, timestamp ms or None)`` and metric family metadata."""

    samples: list[tuple[dict[str, str], float, int | None]] = field(default_factory=list)
    metadata: list[MetricMetadata] = field(default_factory=list)


def parse_float(text: str) -> float:
    """A sample value as Go's strconv.ParseFloat reads it (no underscores)."""
    special = _SPECIAL.get(text.lower())
    if special is not None:
        return special
    if not _FLOAT.fullmatch(text):
        raise ValueError(f"invalid number {text!r}")
    if text.lstrip("+-")[:2].lower() == "0x":
        sign = -1.0 if text.startswith("-") else 1.0
        body = text.lstrip("+-")
        try:
            return sign * float.fromhex(body if "p" in body.lower() else body + "p0")
        except OverflowError:  # Go's ParseFloat fails with "value out of range" too
            raise ValueError(f"invalid number {text!r}: out of range") from None
    return float(text)


def _unescape(text: str, quote: bool) -> str:
    out = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "n":
                out.append("\n")
            elif nxt == "\\" or (quote and nxt == '"'):
                out.append(nxt)
            else:
                out.append("\\" + nxt)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _labels(line: str, pos: int, where: str) -> tuple[dict[str, str], int]:
    """Parse ``{a="b",...}`` starting after the ``{`` at ``pos``; returns the labels and the position after ``}``."""
    labels: dict[str, str] = {}
    n = len(line)
    while True:
        while pos < n and line[pos] in " \t":
            pos += 1
        if pos < n and line[pos] == "}":
            return labels, pos + 1
        m = _LABEL_NAME.match(line, pos)
        if m is None:
            raise ExpositionError(f"{where}: invalid label name at column {pos + 1}")
        name = m.group()
        pos = m.end()
        while pos < n and line[pos] in " \t":
            pos += 1
        if pos >= n or line[pos] != "=":
            raise ExpositionError(f"{where}: expected '=' after label name {name!r}")
        pos += 1
        while pos < n and line[pos] in " \t":
            pos += 1
        if pos >= n or line[pos] != '"':
            raise ExpositionError(f"{where}: expected '\"' to start the value of label {name!r}")
        start = pos = pos + 1
        while pos < n and line[pos] != '"':
            pos += 2 if line[pos] == "\\" else 1
        if pos >= n:
            raise ExpositionError(f"{where}: unterminated value of label {name!r}")
        if name in labels:
            raise ExpositionError(f"{where}: duplicate label name {name!r}")
        labels[name] = _unescape(line[start:pos], quote=True)
        pos += 1
        while pos < n and line[pos] in " \t":
            pos += 1
        if pos < n and line[pos] == ",":
            pos += 1
        elif pos < n and line[pos] != "}":
            raise ExpositionError(f"{where}: expected ',' or '}}' after the value of label {name!r}")


def parse_text(text: str) -> Exposition:
    """Parse a text-format exposition (see the module docstring)."""
    result = Exposition()
    helps: dict[str, str] = {}
    types: dict[str, str] = {}
    order: list[str] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        stripped = line.strip(" \t")
        where = f"line {number}"
        if not stripped:
            continue
        if stripped.startswith("#"):
            parts = stripped[1:].lstrip(" \t").split(None, 2)
            if len(parts) >= 2 and parts[0] in ("HELP", "TYPE"):
                name = parts[1]
                if not _NAME.fullmatch(name):
                    raise ExpositionError(f"{where}: invalid metric name {name!r} in {parts[0]} line")
                rest = parts[2] if len(parts) > 2 else ""
                # a repeated HELP or TYPE line replaces the earlier one, as Prometheus's scraper keeps the last
                if parts[0] == "HELP":
                    helps[name] = _unescape(rest, quote=False)
                else:
                    kind = rest.strip().lower()
                    if kind not in _TYPES:
                        raise ExpositionError(f"{where}: invalid metric type {rest.strip()!r}")
                    types[name] = kind
                if name not in order:
                    order.append(name)
            continue
        m = _NAME.match(line)  # leading whitespace makes the name invalid, as in Prometheus
        if m is None:
            raise ExpositionError(f"{where}: invalid metric name")
        stripped = line.rstrip(" \t")
        name = m.group()
        pos = m.end()
        labels: dict[str, str] = {}
        if pos < len(stripped) and stripped[pos] == "{":
            labels, pos = _labels(stripped, pos + 1, where)
        fields = stripped[pos:].split()
        if not fields or len(fields) > 2 or (pos < len(stripped) and stripped[pos] not in " \t"):
            raise ExpositionError(f"{where}: expected a value (and optional timestamp) after the series")
        try:
            value = parse_float(fields[0])
        except ValueError as err:
            raise ExpositionError(f"{where}: {err}") from err
        stamp: int | None = None
        if len(fields) == 2:
            try:
                stamp = int(fields[1])
            except ValueError as err:
                raise ExpositionError(f"{where}: invalid timestamp {fields[1]!r}") from err
        if "__name__" in labels:
            raise ExpositionError(f"{where}: label name '__name__' is reserved")
        labels["__name__"] = name
        result.samples.append((labels, value, stamp))
    # metadata exists only for names with HELP or TYPE lines, as Prometheus's scrape cache records it
    result.metadata = [MetricMetadata(name, normalise_type(types.get(name, "unknown")), helps.get(name, ""))
                       for name in order]
    return result
