"""Prometheus's template functions (``template/template.go`` and ``prometheus/common/helpers/templates``)
with their Go parameter types, outputs and error texts.

Numbers given as strings are read as Go's ``strconv.ParseFloat`` does (``ConvertToFloat``); regular
expressions are Go's RE2 syntax run by Python's ``re`` after a small translation (``$`` and ``\\z`` mean end
of text, ``\\d \\w \\s \\b`` are ASCII), with Go's replacement expansion (``$1``, ``${name}``, ``$1x`` is the
group named ``1x``) and Go's rule for empty matches after a match.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tsdb.gotemplate.errors import FuncError
from tsdb.gotemplate.gofmt import go_type, quote, sprint, sprintf
from tsdb.gotemplate.values import AnyMap, GoFunc
from tsdb.rules.gotime import GoDuration, GoTime

# -- values Prometheus's functions return --


@dataclass(eq=False)
class Sample:
    """One element of a ``query`` result: ``.Labels`` and ``.Value`` (Go's ``*template.sample``)."""

    Labels: dict[str, str]
    Value: float
    GO_TYPE = "*template.sample"
    GO_POINTER = True


class QueryResult(list[Sample]):
    """The result of ``query`` (Go's ``template.queryResult``)."""

    GO_TYPE = "template.queryResult"


class HTML(str):
    """``safeHtml``'s result: a string type of its own (not assignable to ``string`` parameters)."""

    GO_TYPE = "template.HTML"

    def String(self) -> str:  # noqa: N802 - prints as its text, as Go's fmt prints a string kind
        return str.__str__(self)


# -- numbers and times --

_DECIMAL = re.compile(r"[+-]?(?=\.?\d)(?:\d(?:_?\d)*)?(?:\.(?:\d(?:_?\d)*)?)?(?:[eE][+-]?\d(?:_?\d)*)?\Z")
_HEX = re.compile(r"[+-]?0[xX](?:_?[0-9a-fA-F])*(?:\.[0-9a-fA-F]*)?[pP][+-]?\d+\Z")
_SPECIAL = re.compile(r"(?:[+-]?(?:inf|infinity)|nan)\Z", re.I)


def parse_go_float(text: str) -> float:
    """``strconv.ParseFloat(text, 64)``; FuncError with Go's message when it fails."""
    err = f"strconv.ParseFloat: parsing {quote(text)}: "
    if not text.isascii():
        raise FuncError(err + "invalid syntax")
    if _SPECIAL.match(text):
        return float(text)
    if _HEX.match(text):
        body = text.replace("_", "")
        sign = -1.0 if body.startswith("-") else 1.0
        try:
            value = sign * float.fromhex(body.lstrip("+-"))
        except OverflowError:
            raise FuncError(err + "value out of range") from None
        return value
    if not _DECIMAL.match(text):
        raise FuncError(err + "invalid syntax")
    value = float(text)
    if math.isinf(value):
        raise FuncError(err + "value out of range")
    return value


def convert_to_float(value: Any) -> float:
    """Prometheus's ``ConvertToFloat``: float64, string, int kinds and durations; anything else fails."""
    if isinstance(value, float):
        return value
    if isinstance(value, str) and type(value) is str:
        return parse_go_float(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, GoDuration):  # a *time.Duration is not a time.Duration: Go fails on it too
        raise FuncError("can't convert *time.Duration to float")
    raise FuncError(f"can't convert {go_type(value)} to float")


def _g4(v: float) -> str:
    return sprintf("%.4g", v)


def humanize(value: Any) -> str:
    v = convert_to_float(value)
    if v == 0 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    prefix = ""
    if abs(v) >= 1:
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix, v = p, v / 1000
        return _g4(v) + prefix
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return _g4(v) + prefix


def humanize1024(value: Any) -> str:
    v = convert_to_float(value)
    if abs(v) <= 1 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(v) < 1024:
            break
        prefix, v = p, v / 1024
    return _g4(v) + prefix


def _go_int64(v: float) -> int:
    """Go's float64 -> int64 conversion on amd64: truncation; out of range (and NaN) is MinInt64."""
    if math.isnan(v) or not -9.223372036854775808e18 <= v < 9.223372036854775808e18:
        return -(1 << 63)
    return int(v)


def humanize_duration(value: Any) -> str:
    v = convert_to_float(value)
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    if v == 0:
        return _g4(v) + "s"
    if abs(v) >= 1:
        sign = ""
        if v < 0:
            sign, v = "-", -v
        d = _go_int64(v)
        seconds, minutes = _rem(d, 60), _rem(_quo(d, 60), 60)
        hours, days = _rem(_quo(d, 3600), 24), _quo(d, 86400)
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_g4(v)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return f"{_g4(v)}{prefix}s"


def _quo(a: int, b: int) -> int:
    """Go's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _rem(a: int, b: int) -> int:
    return a - b * _quo(a, b)


def float_to_time(v: float) -> GoTime:
    """Prometheus's ``floatToTime``: seconds -> a time truncated to milliseconds, as model.Time does."""
    if math.isnan(v) or math.isinf(v):
        raise FuncError("value is NaN or Inf")
    ns = v * 1e9
    if ns > 9.223372036854775807e18 or ns < -9.223372036854775808e18:
        raise FuncError(f"{sprint(v)} cannot be represented as a nanoseconds timestamp since it overflows int64")
    return GoTime(_quo(_go_int64(ns), 1_000_000))


def humanize_timestamp(value: Any) -> str:
    v = convert_to_float(value)
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    return float_to_time(v).String()


def to_time(value: Any) -> GoTime:
    return float_to_time(convert_to_float(value))


def to_duration(value: Any) -> GoDuration:
    return GoDuration(_go_int64(convert_to_float(value) * 1e9))


_DURATION_UNITS = {"ms": (7, 1_000_000), "s": (6, 1_000_000_000), "m": (5, 60 * 10**9), "h": (4, 3600 * 10**9),
                   "d": (3, 86400 * 10**9), "w": (2, 7 * 86400 * 10**9), "y": (1, 365 * 86400 * 10**9)}


def _parse_duration_ns(text: str) -> int:
    """``model.ParseDuration`` in nanoseconds: units y w d h m s ms, biggest first, "0" alone allowed."""
    if text == "0":
        return 0
    if text == "":
        raise FuncError("empty duration string")
    invalid = FuncError(f"not a valid duration string: {quote(text)}")
    rest, total, last_pos = text, 0, 0
    while rest:
        i = 0
        while i < len(rest) and "0" <= rest[i] <= "9":
            i += 1
        if i == 0:
            raise invalid
        value, rest = int(rest[:i]), rest[i:]
        i = 0
        while i < len(rest) and not "0" <= rest[i] <= "9":
            i += 1
        if i == 0:
            raise invalid
        unit, rest = rest[:i], rest[i:]
        if unit not in _DURATION_UNITS:
            raise FuncError(f"unknown unit {quote(unit)} in duration {quote(text)}")
        pos, mult = _DURATION_UNITS[unit]
        if pos <= last_pos:
            raise invalid
        last_pos = pos
        if value > (1 << 63) // mult:
            raise FuncError("duration out of range")
        total += value * mult
        if total > (1 << 63) - 1:
            raise FuncError("duration out of range")
    return total


def parse_duration(text: str) -> float:
    """Prometheus's ``parseDuration`` (``model.ParseDurationAllowNegative``): seconds as a float."""
    if text.startswith("-"):
        return -(_parse_duration_ns(text[1:]) / 1e9)
    return _parse_duration_ns(text) / 1e9


# -- strings, regular expressions, hosts --

def go_regexp(pattern: str) -> re.Pattern[str]:
    """Compile Go (RE2) syntax with Python's re; FuncError ``error parsing regexp: ...`` when invalid."""
    out: list[str] = []
    i, in_class = 0, False
    multiline = "(?m" in pattern or re.search(r"\(\?[a-zA-Z]*m", pattern) is not None
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append("\\Z" if nxt == "z" and not in_class else c + nxt)
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            elif c == "[" and pattern[i + 1:i + 2] != ":":
                out.append("\\[")
                i += 1
                continue
        elif c == "[":
            in_class = True
            out.append(c)
            if pattern[i + 1:i + 2] == "^":
                out.append("^")
                i += 1
            if pattern[i + 1:i + 2] == "]":
                out.append("\\]")
                i += 1
            i += 1
            continue
        elif c == "$" and not multiline:
            out.append("\\Z")
            i += 1
            continue
        out.append(c)
        i += 1
    try:
        return re.compile("".join(out), re.ASCII)
    except re.error as err:
        raise FuncError(f"error parsing regexp: {_go_regexp_error(err, pattern)}") from None


_RE_ERRORS = (("missing ), unterminated subpattern", "missing closing )"), ("unbalanced parenthesis", "unexpected )"),
              ("unterminated character set", "missing closing ]"),
              ("nothing to repeat", "missing argument to repetition operator"),
              ("multiple repeat", "invalid nested repetition operator"), ("bad escape", "invalid escape sequence"))


def _go_regexp_error(err: re.error, pattern: str) -> str:
    """Python's complaint about a pattern in RE2's words (``missing closing ): `(` ``) where they map."""
    message = str(err.msg)
    for python_text, go_text in _RE_ERRORS:
        if message.startswith(python_text):
            at = err.pos or 0
            if go_text == "missing closing ]":
                return f"{go_text}: `{pattern[at:]}`"
            if go_text == "missing argument to repetition operator":
                return f"{go_text}: `{pattern[at]}`"
            if go_text == "invalid nested repetition operator":
                return f"{go_text}: `{pattern[max(at - 1, 0):at + 1]}`"
            if go_text == "invalid escape sequence":
                return f"{go_text}: `{pattern[at:at + 2]}`"
            return f"{go_text}: `{pattern}`"
    return f"{message}: `{pattern}`"


def _regexp_quote(text: str) -> str:
    """The regexp package's quote: backquoted when possible, else strconv.Quote."""
    if "`" not in text and all(c == "\t" or (c.isprintable() and c != "\ufeff") for c in text):
        return "`" + text + "`"
    return quote(text)


_NAME = re.compile(r"[A-Za-z0-9_]+")


def go_expand(template: str, match: re.Match[str]) -> str:
    """Go's ``Regexp.Expand``: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``; unknown groups are empty."""
    out: list[str] = []
    i = 0
    while i < len(template):
        j = template.find("$", i)
        if j < 0:
            out.append(template[i:])
            break
        out.append(template[i:j])
        rest = template[j + 1:]
        if rest.startswith("$"):
            out.append("$")
            i = j + 2
            continue
        if rest.startswith("{"):
            close = rest.find("}")
            name = rest[1:close] if close > 0 else ""
            if not name or not _NAME.fullmatch(name):
                out.append("$")
                i = j + 1
                continue
            i = j + 1 + close + 1
        else:
            m = _NAME.match(rest)
            if m is None:
                out.append("$")
                i = j + 1
                continue
            name = m.group(0)
            i = j + 1 + len(name)
        out.append(_group(match, name))
    return "".join(out)


def _group(match: re.Match[str], name: str) -> str:
    if name.isdigit():
        n = int(name)
        if n <= (match.re.groups or 0):
            return match.group(n) or ""
        return ""
    return (match.groupdict().get(name) or "") if name in match.re.groupindex else ""


def re_replace_all(pattern: str, repl: str, text: str) -> str:
    """Go's ``regexp.MustCompile(pattern).ReplaceAllString(text, repl)``."""
    try:
        regex = go_regexp(pattern)
    except FuncError as err:
        raise FuncError(f"regexp: Compile({_regexp_quote(pattern)}): {err}") from None
    out: list[str] = []
    last = 0
    for m in regex.finditer(text):
        out.append(text[last:m.start()])
        if m.end() > last or m.start() == 0:  # no replacement for an empty match right after a match
            out.append(go_expand(repl, m))
        last = m.end()
    out.append(text[last:])
    return "".join(out)


def match(pattern: str, text: str) -> bool:
    return go_regexp(pattern).search(text) is not None


def title(text: str) -> str:
    """``cases.Title(language.AmericanEnglish, cases.NoLower)``: each word's first letter upper-cased, the
    rest untouched; an apostrophe between letters does not end a word."""
    out: list[str] = []
    in_word = False
    for i, c in enumerate(text):
        word_char = c.isalnum() or c == "_" or (c in "'’" and in_word and text[i + 1:i + 2].isalpha())
        out.append(c.upper() if word_char and not in_word and len(c.upper()) == 1 else c)
        in_word = word_char
    return "".join(out)


def _simple_case(text: str, conv: Callable[[str], str]) -> str:
    """Go's rune-by-rune case mapping: a character whose mapping is several characters stays as it is."""
    return "".join(m if len(m := conv(c)) == 1 else c for c in text)


def split_host_port(host_port: str) -> tuple[str, str] | None:
    """Go's ``net.SplitHostPort`` (None where Go returns an error)."""
    i = host_port.rfind(":")
    if i < 0:
        return None
    j = k = 0
    if host_port.startswith("["):
        end = host_port.find("]")
        if end < 0 or end + 1 != i:
            return None
        host = host_port[1:end]
        j, k = 1, end + 1
    else:
        host = host_port[:i]
        if ":" in host:
            return None
    if "[" in host_port[j:] or "]" in host_port[k:]:
        return None
    return host, host_port[i + 1:]


def _is_ip(host: str) -> bool:
    if "%" in host:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def strip_port(host_port: str) -> str:
    parts = split_host_port(host_port)
    return host_port if parts is None else parts[0]


def strip_domain(host_port: str) -> str:
    parts = split_host_port(host_port)
    host, port = parts if parts is not None else (host_port, "")
    if _is_ip(host):
        return host_port
    host = host.split(".")[0]
    if port:
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return host


def query_escape(text: str) -> str:
    """Go's ``url.QueryEscape``."""
    return urllib.parse.quote_plus(text, safe="")


# -- query results --

def first(v: QueryResult) -> Sample:
    if v:
        return v[0]
    raise FuncError("first() called on vector with no elements")


def sort_by_label(label: str, v: QueryResult) -> QueryResult:
    v.sort(key=lambda s: s.Labels.get(label, ""))  # list.sort is stable, as Go's sort.Stable
    return v


def args(*values: Any) -> AnyMap:
    return AnyMap({f"arg{i}": value for i, value in enumerate(values)})


def functions(query: Callable[[str], QueryResult], now_seconds: float, external_url: str) -> dict[str, GoFunc]:
    """Prometheus's function map for one expansion: ``query`` runs PromQL at the evaluation time."""
    return {**static_functions(), **dynamic_functions(query, now_seconds, external_url)}


def dynamic_functions(query: Callable[[str], QueryResult], now_seconds: float,
                      external_url: str) -> dict[str, GoFunc]:
    """The functions that depend on the expansion: query, now, pathPrefix, externalURL."""
    path = urllib.parse.urlsplit(external_url).path
    return {
        "query": GoFunc(query, ("string",)),
        "now": GoFunc(lambda: now_seconds, ()),
        "pathPrefix": GoFunc(lambda: path, ()),
        "externalURL": GoFunc(lambda: external_url, ()),
    }


@functools.cache
def static_functions() -> dict[str, GoFunc]:
    """The functions that are the same for every expansion."""
    s = "string"
    return {
        "first": GoFunc(first, (QueryResult,)),
        "label": GoFunc(lambda name, sample: sample.Labels.get(name, ""), (s, Sample)),
        "value": GoFunc(lambda sample: sample.Value, (Sample,)),
        "strvalue": GoFunc(lambda sample: sample.Labels.get("__value__", ""), (Sample,)),
        "args": GoFunc(args, (), "any"),
        "reReplaceAll": GoFunc(re_replace_all, (s, s, s)),
        "safeHtml": GoFunc(HTML, (s,)),
        "match": GoFunc(match, (s, s)),
        "title": GoFunc(title, (s,)),
        "toUpper": GoFunc(lambda t: _simple_case(t, str.upper), (s,)),
        "toLower": GoFunc(lambda t: _simple_case(t, str.lower), (s,)),
        "graphLink": GoFunc(lambda e: f"/graph?g0.expr={query_escape(e)}&g0.tab=0", (s,)),
        "tableLink": GoFunc(lambda e: f"/graph?g0.expr={query_escape(e)}&g0.tab=1", (s,)),
        "sortByLabel": GoFunc(sort_by_label, (s, QueryResult)),
        "stripPort": GoFunc(strip_port, (s,)),
        "stripDomain": GoFunc(strip_domain, (s,)),
        "humanize": GoFunc(humanize, ("any",)),
        "humanize1024": GoFunc(humanize1024, ("any",)),
        "humanizeDuration": GoFunc(humanize_duration, ("any",)),
        "humanizePercentage": GoFunc(lambda v: sprintf("%.4g%%", convert_to_float(v) * 100), ("any",)),
        "humanizeTimestamp": GoFunc(humanize_timestamp, ("any",)),
        "toTime": GoFunc(to_time, ("any",)),
        "toDuration": GoFunc(to_duration, ("any",)),
        "parseDuration": GoFunc(parse_duration, (s,)),
        "urlQueryEscape": GoFunc(query_escape, (s,)),
    }
