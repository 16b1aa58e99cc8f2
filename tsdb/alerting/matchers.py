"""Alertmanager's label matchers: ``{a="b", c=~"d.*"}``, ``a=b`` and the legacy ``match``/``match_re`` maps.

Matchers are :class:`tsdb.labels.Matcher` (fully anchored RE2-style regexes, as Alertmanager uses).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from tsdb.errors import ConfigError, TsdbError
from tsdb.labels import Matcher

_ONE = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*|"[^"]*")\s*(=~|!~|!=|=)\s*(.*?)\s*$')


_ESCAPE = re.compile(r'\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|[abfnrtv\\"\'])|\\')
_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"', "'": "'"}


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    if code is None:
        raise ConfigError(f"invalid escape sequence at {match.string[match.start():match.start() + 4]!r}")
    if code in _SIMPLE:
        return _SIMPLE[code]
    value = int(code, 8) if code[0] in "01234567" else int(code[1:], 16)
    if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
        raise ConfigError(f"invalid escape sequence {match.group()!r}: not a Unicode character")
    return chr(value)


def _unquote(text: str) -> str:
    """A double-quoted string with Go's escapes (``\\"``, ``\\n``, ``\\x41``, ``\\u00e9`` ...) or bare text."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return _ESCAPE.sub(_unescape, text[1:-1])
    return text


def _split(body: str) -> list[str]:
    """Split a matcher list on commas outside double quotes."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in body:
        if escaped:
            current.append(ch)
            escaped = False
            continue
        if ch == "\\":
            current.append(ch)
            escaped = True
            continue
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    if quoted:
        raise ConfigError(f"unterminated quote in matchers {body!r}")
    if "".join(current).strip():
        parts.append("".join(current))
    return [p for p in parts if p.strip()]


def parse_matchers(text: str) -> list[Matcher]:
    """``{a="b", c=~"x"}`` or ``a=b`` (one or a comma separated list) -> matchers; ConfigError naming it."""
    body = text.strip()
    if body.startswith("{"):
        if not body.endswith("}"):
            raise ConfigError(f"matchers {text!r}: missing closing '}}'")
        body = body[1:-1]
    out = []
    for part in _split(body):
        m = _ONE.match(part)
        if m is None:
            raise ConfigError(f"invalid matcher {part.strip()!r} in {text!r}: expected name, operator, value")
        name, op, value = _unquote(m.group(1)), m.group(2), _unquote(m.group(3))
        try:
            out.append(Matcher(op, name, value))
        except (TsdbError, ValueError) as err:
            raise ConfigError(f"invalid matcher {part.strip()!r}: {err}") from err
    return out


def matchers_from_config(raw: Mapping[str, Any], where: str, prefix: str = "") -> list[Matcher]:
    """Matchers of a config object: ``<prefix>matchers`` (list of strings) plus the legacy
    ``<prefix>match`` (equality) and ``<prefix>match_re`` (regex) maps."""
    out: list[Matcher] = []
    texts = raw.get(f"{prefix}matchers") or []
    if not isinstance(texts, list):
        raise ConfigError(f"{where}: {prefix}matchers: expected a list of strings")
    for text in texts:
        try:
            out.extend(parse_matchers(str(text)))
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from err
    for key in (f"{prefix}match", f"{prefix}match_re"):
        if not isinstance(raw.get(key) or {}, dict):
            raise ConfigError(f"{where}: {key}: expected a mapping of label name to value")
    for name, value in (raw.get(f"{prefix}match") or {}).items():
        try:
            out.append(Matcher("=", str(name), str(value)))
        except (TsdbError, ValueError) as err:
            raise ConfigError(f"{where}: invalid matcher for {name}: {err}") from err
    for name, value in (raw.get(f"{prefix}match_re") or {}).items():
        try:
            out.append(Matcher("=~", str(name), str(value)))
        except (TsdbError, ValueError) as err:
            raise ConfigError(f"{where}: invalid regex for {name}: {err}") from err
    return out


def matches(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """All matchers hold for ``labels`` (an absent label is the empty string)."""
    return all(m.matches(labels.get(m.name, "")) for m in matchers)
