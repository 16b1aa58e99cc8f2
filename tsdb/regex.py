"""Regular expressions with Prometheus's semantics: RE2 syntax, anchored, ``.`` matching newlines.

Prometheus compiles every regex (label matchers, ``label_replace``, relabelling, Alertmanager matchers) as
``^(?s:<pattern>)$`` with Go's RE2, which accepts exactly RE2 syntax and runs in linear time. Here RE2
(``google-re2``) checks the syntax of every pattern, so what Prometheus refuses is refused with RE2's own
message, and runs every pattern whose shape could make a backtracking engine take exponential or high
polynomial time (a quantified group holding a quantifier or an alternation, as ``(a+)+`` or ``(a|aa)*``;
three or more unbounded quantifiers, as ``.*.*.*x``). Other patterns are translated to Python's ``re``,
which answers the short label values of a series index about thirty times faster per call than the RE2
binding. ``google-re2`` is a dependency; where it cannot be installed every pattern is translated to
Python's ``re`` (with the syntax checks below) and nothing bounds a pattern's running time.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from tsdb.errors import InvalidMatcherError

try:
    import re2 as _re2
except ImportError:  # pragma: no cover - google-re2 is a dependency; kept for platforms without a wheel
    _re2 = None


class AnchoredRegex(Protocol):
    """What callers use of a compiled pattern (both ``re.Pattern`` and RE2's have it)."""

    def fullmatch(self, string: str) -> Any: ...

    def match(self, string: str) -> Any: ...


_UNSUPPORTED_RE = [
    (re.compile(r"\(\?<?[=!]"), "look-around assertions are not supported (RE2 syntax)"),
    (re.compile(r"\(\?P=\w+\)"), "back-references are not supported (RE2 syntax)"),
    (re.compile(r"(?<!\\)(?:\\\\)*\\[1-9]"), "back-references are not supported (RE2 syntax)"),
]
_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9", "graph": "!-~", "lower": "a-z", "print": " -~",
    "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z", "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_POSIX_RE = re.compile(r"\[:(\^?)([a-z]+):\]")


def translate_re2(pattern: str) -> str:
    """Translate an RE2 pattern to Python ``re`` syntax, rejecting what RE2 does not support."""
    for check, message in _UNSUPPORTED_RE:
        if check.search(pattern):
            raise InvalidMatcherError(f"invalid regular expression {pattern!r}: {message}")

    def posix(match: re.Match[str]) -> str:
        negate, name = match.group(1), match.group(2)
        if name not in _POSIX_CLASSES:
            raise InvalidMatcherError(f"invalid regular expression {pattern!r}: unknown class [:{name}:]")
        if negate:
            raise InvalidMatcherError(f"invalid regular expression {pattern!r}: negated POSIX class")
        return _POSIX_CLASSES[name]

    return _POSIX_RE.sub(posix, pattern.replace("\\z", "\\Z"))


_LEADING_FLAGS = re.compile(r"^\(\?([imsU]+)\)")
_INLINE_FLAGS = re.compile(r"\(\?([ims]+)\)")


def _scope_inline_flags(pattern: str) -> str:
    """Rewrite RE2 flags set mid-pattern, ``a((?i)b)c``, as Python scoped groups ``a((?i:b))c``.

    RE2 applies such flags up to the end of the enclosing group; Python only accepts them at the start.
    """
    out: list[str] = []
    pending = [0]
    i = 0
    in_class = False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            m = _INLINE_FLAGS.match(pattern, i)
            if m and i > 0:
                out.append(f"(?{m.group(1)}:")
                pending[-1] += 1
                i = m.end()
                continue
            pending.append(0)
        elif c == ")" and len(pending) > 1:
            out.append(")" * pending.pop())
        out.append(c)
        i += 1
    out.append(")" * pending[0])
    return "".join(out)


def compile_python(pattern: str) -> re.Pattern[str]:
    """``pattern`` translated to Python's ``re`` for full-string matching with ``.`` matching newlines."""
    try:
        translated = _scope_inline_flags(translate_re2(pattern))
        flags = _LEADING_FLAGS.match(translated)
        prefix = ""
        if flags:  # RE2 allows (?i) anywhere; Python wants global flags first
            if "U" in flags.group(1):
                raise InvalidMatcherError(f"invalid regular expression {pattern!r}: (?U) is not supported")
            prefix, translated = f"(?{flags.group(1)})", translated[flags.end():]
        return re.compile(f"{prefix}(?s:{translated})")
    except re.error as err:
        raise InvalidMatcherError(f"invalid regular expression {pattern!r}: {err}") from err


def _re2_options() -> Any:
    options = _re2.Options()
    options.log_errors = False  # RE2 would print parse errors to stderr; they are raised instead
    return options


_RE2_OPTIONS = _re2_options() if _re2 is not None else None


def backtracking_risk(pattern: str) -> bool:
    """Whether a backtracking engine could take exponential or high polynomial time on ``pattern``: a
    quantified group holding a quantifier or an alternation, or three or more unbounded quantifiers."""
    groups: list[bool] = []  # per open group: holds a quantifier or "|"
    unbounded = 0
    risky_group = False
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":  # skip a character class (a "]" first or after "^" is literal)
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            if i < n and pattern[i] == "]":
                i += 1
            while i < n and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
            i += 1
            risky_group = False
            continue
        quantifier = c in "*+?" or (c == "{" and re.match(r"\{\d*,?\d*\}", pattern[i:]) is not None)
        if quantifier:
            if c in "*+" or re.match(r"\{\d+,\}", pattern[i:]):
                unbounded += 1
            if risky_group:
                return True
            if groups:
                groups[-1] = True
            risky_group = False
            if c == "{":
                i = pattern.index("}", i)
        elif c == "(":
            groups.append(False)
            risky_group = False
        elif c == ")" and groups:
            inner = groups.pop()
            if groups and inner:
                groups[-1] = True
            risky_group = inner
        elif c == "|":
            if groups:
                groups[-1] = True
            risky_group = False
        else:
            risky_group = False
        i += 1
    return unbounded >= 3


def _re2_message(err: Exception) -> str:
    text = err.args[0] if err.args else str(err)
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def compile_anchored(pattern: str) -> AnchoredRegex:
    """Compile ``pattern`` as Prometheus does (see the module doc); bad syntax raises
    :class:`~tsdb.errors.InvalidMatcherError` naming the pattern."""
    if _re2 is None:
        return compile_python(pattern)
    try:
        linear = _re2.compile(f"^(?s:{pattern})$", _RE2_OPTIONS)
    except _re2.error as err:
        raise InvalidMatcherError(f"invalid regular expression {pattern!r}: {_re2_message(err)}") from err
    if backtracking_risk(pattern):
        return linear
    try:
        return compile_python(pattern)
    except InvalidMatcherError:  # RE2 syntax the translation does not cover: RE2 runs it
        return linear
