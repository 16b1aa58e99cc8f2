"""Alert label and annotation templates in Prometheus's Go text/template syntax (a subset).

Supported: ``{{ $labels.name }}``, ``{{ $value }}``, ``{{ $externalLabels.name }}``, ``{{ .Labels.name }}``,
``{{ .Value }}``, string and number literals, pipelines ``a | f b`` and calls ``f a b`` with ``humanize``,
``humanize1024``, ``humanizeDuration``, ``humanizePercentage``, ``humanizeTimestamp``, ``printf``, ``title``,
``toUpper``, ``toLower``, ``reReplaceAll``, ``{{ if X }}..{{ else }}..{{ end }}``, ``{{ with X }}`` and
``{{ range $k, $v := X }}`` (``{{ . }}`` inside). Anything else fails the
expansion, which yields ``<error expanding template: ...>`` as Prometheus does, never an exception.
"""

from __future__ import annotations

import ast
import math
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tsdb.query.value import format_go_float_g
from tsdb.timefmt import format_go_time

_ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}", re.S)


class TemplateError(Exception):
    """A template that cannot be expanded (the message is what the user sees)."""


def _humanize(v: Any) -> str:
    x = float(v)
    if x == 0 or math.isnan(x) or math.isinf(x):
        return format_go_float_g(x)
    if abs(x) >= 1:
        for prefix in ("", "k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(x) < 1000 or prefix == "Y":
                return f"{_go_4g(x)}{prefix}"
            x /= 1000
    for prefix in ("", "m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(x) >= 1 or prefix == "y":
            return f"{_go_4g(x)}{prefix}"
        x *= 1000
    return _go_4g(x)


def _humanize1024(v: Any) -> str:
    x = float(v)
    if abs(x) <= 1 or math.isnan(x) or math.isinf(x):
        return _go_4g(x)
    for prefix in ("", "ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(x) < 1024 or prefix == "Yi":
            return f"{_go_4g(x)}{prefix}"
        x /= 1024
    return _go_4g(x)


def _go_4g(x: float) -> str:
    """Go's ``%.4g``."""
    text = f"{x:.4g}"
    if "e" in text:
        mantissa, exp = text.split("e")
        sign = exp[0]
        digits = exp[1:].lstrip("0").rjust(2, "0")
        return f"{mantissa}e{sign}{digits}"
    return text


def _humanize_duration(v: Any) -> str:
    x = float(v)
    if math.isnan(x) or math.isinf(x):
        return f"{x:.4g}"
    if x == 0:
        return "0s"
    if abs(x) < 1:
        for prefix in ("m", "u", "n", "p", "f", "a", "z", "y"):
            x *= 1000
            if abs(x) >= 1 or prefix == "y":
                return f"{_go_4g(x)}{prefix}s"
    sign = "-" if x < 0 else ""
    seconds = abs(x)
    days, rem = divmod(int(seconds), 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    frac = seconds - int(seconds)
    parts = []
    if days:
        parts.append(f"{days}d")
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if days == 0 and hours == 0 and minutes == 0:
        parts.append(f"{_go_4g(secs + frac)}s")
    elif secs:
        parts.append(f"{secs}s")
    return sign + "".join(parts)


def _humanize_percentage(v: Any) -> str:
    return f"{_go_4g(float(v) * 100)}%"


def _humanize_timestamp(v: Any) -> str:
    x = float(v)
    if math.isnan(x) or math.isinf(x):
        return f"{x:.4g}"
    return format_go_time(x)


def _printf(fmt: Any, *args: Any) -> str:
    fmt = str(fmt).replace("%v", "%s")
    try:
        return fmt % tuple(args)
    except (TypeError, ValueError) as err:
        raise TemplateError(f"printf: {err}") from err


FUNCTIONS: dict[str, Callable[..., str]] = {
    "humanize": _humanize,
    "humanize1024": _humanize1024,
    "humanizeDuration": _humanize_duration,
    "humanizePercentage": _humanize_percentage,
    "humanizeTimestamp": _humanize_timestamp,
    "printf": _printf,
    "title": lambda s: str(s).title(),
    "toUpper": lambda s: str(s).upper(),
    "toLower": lambda s: str(s).lower(),
    "reReplaceAll": lambda pattern, repl, text: re.sub(str(pattern), re.sub(r"\$(\d+)", r"\\\1", str(repl)),
                                                       str(text)),
}


@dataclass(frozen=True)
class TemplateData:
    """What a template sees: the alert's labels and value, and the server's external labels/URL."""

    labels: Mapping[str, str]
    value: float
    external_labels: Mapping[str, str]
    external_url: str = ""


def _resolve(token: str, data: TemplateData, scope: dict[str, Any] | None = None) -> Any:
    scope = scope or {}
    if token in scope:
        return scope[token]
    if token.startswith(".") and "." in scope and token[1:] and not token.startswith((".Labels", ".Value",
                                                                                     ".ExternalLabels")):
        value = scope["."]
        return value.get(token[1:], "") if isinstance(value, dict) else getattr(value, token[1:], "")
    if token.startswith("`"):
        return token[1:-1]
    if token.startswith('"'):
        try:
            return ast.literal_eval(token)  # Go's escapes in double-quoted strings match Python's
        except (ValueError, SyntaxError) as err:
            raise TemplateError(f"bad string literal {token}") from err
    for prefix, source in (("$labels.", data.labels), (".Labels.", data.labels),
                           ("$externalLabels.", data.external_labels), (".ExternalLabels.", data.external_labels)):
        if token.startswith(prefix):
            return source.get(token[len(prefix):], "")
    if token in ("$value", ".Value"):
        return data.value
    if token in ("$labels", ".Labels"):
        return dict(data.labels)
    if token in ("$externalLabels", ".ExternalLabels"):
        return dict(data.external_labels)
    if token == "$externalURL":
        return data.external_url
    try:
        return float(token) if any(c in token for c in ".eE") else int(token)
    except ValueError:
        raise TemplateError(f"undefined variable or function {token!r}") from None


def _eval_pipeline(text: str, data: TemplateData, scope: dict[str, Any] | None = None) -> Any:
    result: Any = None
    for stage_no, stage in enumerate(text.split("|")):
        try:
            tokens = shlex.split(stage.strip(), posix=False)
        except ValueError as err:
            raise TemplateError(f"bad action {text!r}: {err}") from err
        if not tokens:
            raise TemplateError(f"empty command in {text!r}")
        head, rest = tokens[0], tokens[1:]
        if head in FUNCTIONS:
            args = [_resolve(t, data, scope) for t in rest]
            if stage_no > 0:
                args.append(result)
            try:
                result = FUNCTIONS[head](*args)
            except TypeError as err:
                raise TemplateError(f"wrong number of args for {head}: {err}") from err
        else:
            if rest or stage_no > 0:
                raise TemplateError(f"function {head!r} not defined")
            result = _resolve(head, data, scope)
    return result


def _render(value: Any) -> str:
    if isinstance(value, float):
        return format_go_float_g(value)
    return str(value)


def expand(template: str, data: TemplateData) -> str:
    """Expand ``template``; on any failure ``<error expanding template: ...>``."""
    try:
        return _expand(template, data)
    except TemplateError as err:
        return f"<error expanding template: {err}>"
    except Exception as err:  # any function failing on its input must not break evaluation
        return f"<error expanding template: {type(err).__name__}: {err}>"


def _truthy(value: Any) -> bool:
    return bool(value) and value != 0


Node = tuple[Any, ...]


def _parse(template: str) -> list[Node]:
    """Text and actions into a tree: ("text", s), ("expr", a), ("if"|"with", a, body, else), ("range", a,
    body, else)."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    for match in _ACTION.finditer(template):
        tokens.append(("text", template[pos:match.start()]))
        tokens.append(("action", match.group(1).strip()))
        pos = match.end()
    tokens.append(("text", template[pos:]))
    nodes, _, end = _parse_block(tokens, 0)
    if end is not None:
        raise TemplateError(f"unexpected {{{{{end}}}}}")
    return nodes


def _parse_block(tokens: list[tuple[str, str]], i: int) -> tuple[list[Node], int, str | None]:
    nodes: list[Node] = []
    while i < len(tokens):
        kind, value = tokens[i]
        i += 1
        if kind == "text":
            if value:
                nodes.append(("text", value))
            continue
        if value.startswith("/*"):
            continue
        if value in ("end", "else"):
            return nodes, i, value
        head = value.split(" ", 1)[0]
        if head in ("if", "with", "range"):
            body, i, stop = _parse_block(tokens, i)
            other: list[Node] = []
            if stop == "else":
                other, i, stop = _parse_block(tokens, i)
            if stop != "end":
                raise TemplateError(f"unexpected EOF: missing {{{{end}}}} for {{{{{value}}}}}")
            nodes.append((head, value[len(head):].strip(), body, other))
        else:
            nodes.append(("expr", value))
    return nodes, i, None


def _render_nodes(nodes: list[Node], data: TemplateData, scope: dict[str, Any]) -> str:
    out: list[str] = []
    for node in nodes:
        kind = node[0]
        if kind == "text":
            out.append(node[1])
        elif kind == "expr":
            out.append(_render(_eval_pipeline(node[1], data, scope)))
        elif kind in ("if", "with"):
            value = _eval_pipeline(node[1], data, scope)
            if _truthy(value):
                inner = {**scope, ".": value} if kind == "with" else scope
                out.append(_render_nodes(node[2], data, inner))
            else:
                out.append(_render_nodes(node[3], data, scope))
        else:  # range [$k, $v :=] EXPR
            spec = node[1]
            names: list[str] = []
            if ":=" in spec:
                left, spec = spec.split(":=", 1)
                names = [n.strip() for n in left.split(",")]
            items = _eval_pipeline(spec.strip(), data, scope)
            pairs = sorted(items.items()) if isinstance(items, dict) else list(enumerate(items or []))
            if not pairs:
                out.append(_render_nodes(node[3], data, scope))
            for key, value in pairs:
                inner = {**scope, ".": value}
                if len(names) == 2:
                    inner[names[0]], inner[names[1]] = key, value
                elif len(names) == 1:
                    inner[names[0]] = value
                out.append(_render_nodes(node[2], data, inner))
    return "".join(out)


def _expand(template: str, data: TemplateData) -> str:
    return _render_nodes(_parse(template), data, {})
