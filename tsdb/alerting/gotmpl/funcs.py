"""The template functions of Alertmanager (``template.DefaultFuncs``): 0.25's ``toUpper toLower title join
match safeHtml reReplaceAll stringSlice``, and the ones later releases added, ``date tz since humanizeDuration
trimSpace`` (so configs written for newer Alertmanagers work too). Go's builtins (``len eq index printf
urlquery`` ...) come from the template engine.

Regular expressions use Go's RE2 syntax; the common subset is translated to Python's ``re``
(``\\z`` -> ``\\Z``, ``(?P<name>)`` as is) and replacements expand ``$1 ${1} $name ${name} $$`` as Go does.
"""

from __future__ import annotations

import re
import time
import zoneinfo
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from tsdb.alerting.gotmpl.gotime import GoTime

# Prometheus's common template helpers, shared with the rule templates (Alertmanager takes them from there too)
from tsdb.rules.gotime import GoDuration
from tsdb.rules.template_funcs import humanize_duration


class SafeHtml(str):
    """Text that HTML templates print without escaping (``safeHtml``)."""


@lru_cache(maxsize=256)
def go_regexp(pattern: str) -> re.Pattern[str]:
    """A Go (RE2) pattern compiled with Python's ``re``; ``ValueError`` when it is invalid."""
    try:
        return re.compile(pattern.replace("\\z", "\\Z"))
    except re.error as err:
        raise ValueError(f"error parsing regexp: {err}: `{pattern}`") from err


_EXPAND = re.compile(r"\$(?:(\$)|\{([A-Za-z0-9_]*)\}|([A-Za-z0-9_]+))")


def _expand(template: str, match: re.Match[str]) -> str:
    """Go's ``Regexp.Expand``: ``$$`` is ``$``; an unknown or unmatched group is empty."""
    def one(m: re.Match[str]) -> str:
        if m.group(1):
            return "$"
        name = m.group(2) if m.group(2) is not None else m.group(3)
        try:
            value = match.group(int(name)) if name.isdigit() else match.group(name)
        except (IndexError, re.error):
            return ""
        return value or ""
    return _EXPAND.sub(one, template)



def re_replace_all(pattern: str, repl: str, text: str) -> str:
    """``reReplaceAll``: every match of ``pattern`` in ``text`` replaced by ``repl`` with ``$`` expansion."""
    return go_regexp(pattern).sub(lambda m: _expand(repl, m), text)


def match(pattern: str, text: str) -> bool:
    """``match``: whether ``pattern`` matches anywhere in ``text`` (Go's ``regexp.MatchString``)."""
    return go_regexp(pattern).search(text) is not None


_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def title(text: str) -> str:
    """``title``: each word's first letter upper case and the rest lower case."""
    return _WORD.sub(lambda m: m.group(0)[:1].upper() + m.group(0)[1:].lower(), text)


def join(sep: str, items: Iterable[Any]) -> str:
    """``join``: Go's ``strings.Join`` with the separator first, for pipelines."""
    return sep.join(str(i) for i in items)


def string_slice(*items: str) -> list[str]:
    return list(items)


def date(layout: str, when: GoTime) -> str:
    """``date``: ``when`` in the Go layout ``layout`` (``{{ .StartsAt | date "2006-01-02" }}``)."""
    return when.Format(layout)


def tz(name: str, when: GoTime) -> GoTime:
    """``tz``: ``when`` in the IANA zone ``name`` (``{{ .StartsAt | tz "Europe/Paris" }}``)."""
    try:
        zone = zoneinfo.ZoneInfo(name) if name not in ("", "UTC") else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {name}") from err
    return when.In(zone) if zone is not None else when.UTC()


def since(when: GoTime) -> GoDuration:
    """``since``: the time elapsed since ``when``, a Go duration (prints as ``1h2m3.5s``)."""
    now_ns = time.time_ns()
    return GoDuration(now_ns - (when.ns if when.ns is not None else when.UnixNano()))


DEFAULT_FUNCS: dict[str, Callable[..., Any]] = {
    "toUpper": lambda s: str(s).upper(),
    "toLower": lambda s: str(s).lower(),
    "title": title,
    "join": join,
    "match": match,
    "safeHtml": lambda s: SafeHtml(s),
    "reReplaceAll": re_replace_all,
    "stringSlice": string_slice,
    "date": date,
    "tz": tz,
    "since": since,
    "humanizeDuration": humanize_duration,
    "trimSpace": lambda s: str(s).strip(" \t\n\r\v\f"),
}
"""Alertmanager's function map, by name."""
