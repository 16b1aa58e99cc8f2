"""Alert label and annotation templates in Prometheus's Go text/template syntax (a subset).

Supported: ``{{ $labels.name }}``, ``{{ $value }}``, ``{{ $externalLabels.name }}``, ``{{ .Labels.name }}``,
``{{ .Value }}``, string and number literals, pipelines ``a | f b`` and calls ``f a b`` with ``humanize``,
``humanize1024``, ``humanizeDuration``, ``humanizePercentage``, ``humanizeTimestamp``, ``printf``, ``title``,
``toUpper``, ``toLower``, ``reReplaceAll``, and ``{{ if X }}..{{ else }}..{{ end }}``. Anything else fails the
expansion, which yields ``<error expanding template: ...>`` as Prometheus does, never an exception.
"""

from __future__ import annotations

import ast
import datetime as dt
import math
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

_ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}", re.S)


class TemplateError(Exception):
    """A template that cannot be expanded (the message is what the user sees)."""


def _humanize(v: Any) -> str:
    x = float(v)
    if x == 0 or math.isnan(x) or math.isinf(x):
        return _go_g(x)
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


def _go_g(x: float) -> str:
    """Go's ``%v`` of a float64 (``strconv.FormatFloat(x, 'g', -1, 64)``): shortest digits, exponent
    form when the decimal exponent is below -4 or at least 6 (so 1e6 prints as ``1e+06``)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x == 0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    sci = str(np.format_float_scientific(x, unique=True, trim="-", exp_digits=2))
    exp = int(sci.split("e")[1])
    if exp < -4 or exp >= 6:
        return sci
    return str(np.format_float_positional(x, unique=True, trim="-"))


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
    t = dt.datetime.fromtimestamp(x, tz=dt.UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond * 1000:09d}".rstrip("0").ljust(1, "0") + " +0000 UTC"


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


def _resolve(token: str, data: TemplateData) -> Any:
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
    if token == "$externalURL":
        return data.external_url
    try:
        return float(token) if any(c in token for c in ".eE") else int(token)
    except ValueError:
        raise TemplateError(f"undefined variable or function {token!r}") from None


def _eval_pipeline(text: str, data: TemplateData) -> Any:
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
            args = [_resolve(t, data) for t in rest]
            if stage_no > 0:
                args.append(result)
            try:
                result = FUNCTIONS[head](*args)
            except TypeError as err:
                raise TemplateError(f"wrong number of args for {head}: {err}") from err
        else:
            if rest or stage_no > 0:
                raise TemplateError(f"function {head!r} not defined")
            result = _resolve(head, data)
    return result


def _render(value: Any) -> str:
    if isinstance(value, float):
        return _go_g(value)
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


def _expand(template: str, data: TemplateData) -> str:
    out: list[str] = []
    stack: list[tuple[bool, bool]] = []  # (emitting before this if, this branch taken)
    emitting = True
    pos = 0
    for match in _ACTION.finditer(template):
        if emitting:
            out.append(template[pos:match.start()])
        pos = match.end()
        action = match.group(1).strip()
        if action.startswith("/*"):
            continue
        if action.startswith("if "):
            taken = _truthy(_eval_pipeline(action[3:], data)) if emitting else False
            stack.append((emitting, taken))
            emitting = emitting and taken
        elif action == "else":
            if not stack:
                raise TemplateError("unexpected {{else}}")
            outer, taken = stack[-1]
            emitting = outer and not taken
        elif action == "end":
            if not stack:
                raise TemplateError("unexpected {{end}}")
            emitting = stack.pop()[0]
        elif emitting:
            out.append(_render(_eval_pipeline(action, data)))
    if stack:
        raise TemplateError("unexpected EOF: missing {{end}}")
    if emitting:
        out.append(template[pos:])
    return "".join(out)
