"""Does a dashboard expression parse as PromQL? Dashboard expressions hold variable references (``$name``,
``${name}``, ``${name:fmt}``, ``[[name]]`` and the built-ins ``$__rate_interval`` ...), so :func:`check`
first replaces each with a plausible value for where it stands: a duration inside ``[...]`` or after
``offset``, any text inside a string, otherwise a number or else a name (tried in turn)."""

from __future__ import annotations

import re

from tsdb.errors import ParseError
from tsdb.query.parser.parser import parse

VARIABLE_RE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)(?::\w+)?\]\]|\$(\w+)")
_NUMBERS = {"__interval_ms": "60000", "__range_s": "3600", "__range_ms": "3600000", "__from": "0", "__to": "0"}


def _in_string(text: str, pos: int) -> bool:
    quote = ""
    i = 0
    while i < pos:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'`":
            quote = ch
        i += 1
    return bool(quote)


def _duration_context(text: str, start: int, end: int) -> bool:
    before = text[:start].rstrip()
    after = text[end:].lstrip()
    return (before.endswith(("[", ":")) or before.lower().endswith("offset")) or after.startswith(("]", ":"))


def substitute(expr: str, plain: str = "1") -> str:
    """``expr`` with every variable reference replaced: durations by ``5m``, references inside strings by
    ``value``, the rest by ``plain`` (or a fitting number for the ``$__*_ms``-like built-ins)."""
    out: list[str] = []
    last = 0
    for match in VARIABLE_RE.finditer(expr):
        name = match.group(1) or match.group(2) or match.group(3)
        out.append(expr[last:match.start()])
        if _in_string(expr, match.start()):
            out.append("value")
        elif _duration_context(expr, match.start(), match.end()):
            out.append("5m")
        else:
            out.append(_NUMBERS.get(name, plain))
        last = match.end()
    out.append(expr[last:])
    return "".join(out)


def check(expr: str) -> str | None:
    """None when ``expr`` (with its variables replaced) parses, else the parser's message."""
    first: ParseError | None = None
    for plain in ("1", "value"):
        try:
            parse(substitute(expr, plain))
            return None
        except ParseError as err:
            first = first or err
    assert first is not None
    return first.message
