"""How Python values stand for Go values in templates: truth, nil, map element types, function signatures.

``None`` is Go's nil and also the "invalid" value of a missing map key (printed ``<no value>`` by an action,
``<nil>`` by ``print``). A ``dict`` is a map; what a missing key yields depends on the template's
``missingkey`` option and on the map's element type: a dict whose values are all strings (an empty dict
included) is a ``map[string]string`` (zero value ``""``, like Prometheus's ``$labels`` and Alertmanager's
``KV``), any other dict, or an :class:`AnyMap`, is a ``map[string]interface{}`` (zero value nil).

A template function is any callable; :class:`GoFunc` adds the Go parameter types Go's ``text/template``
checks arguments against (``"any"``, ``"value"`` for reflect.Value parameters of the builtins, ``"string"``,
``"float64"``, ``"int"``, ``"bool"`` or a Python class). Plain callables get ``"any"`` parameters from their
signature (``*args`` is variadic).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tsdb.gotemplate.gofmt import go_type


class _Missing:
    """No value from a previous pipeline stage (Go's ``missingVal``)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

GoType = str | type


class AnyMap(dict[str, Any]):
    """A dict that is a ``map[string]interface{}`` even when all its values are strings."""

    GO_TYPE = "map[string]interface {}"


class StrMap(dict[str, str]):
    """A dict that is a ``map[string]string`` (missing keys are "" under ``missingkey=zero``)."""

    GO_TYPE = "map[string]string"


def is_string_map(value: dict[Any, Any]) -> bool:
    """Whether a dict stands for a map with string elements (see the module docstring)."""
    if isinstance(value, AnyMap):
        return False
    return isinstance(value, StrMap) or all(isinstance(v, str) for v in value.values())


@dataclass(frozen=True)
class GoFunc:
    """A function with Go parameter types: ``params`` fixed, then ``variadic`` (the ``...`` element type)."""

    fn: Callable[..., Any]
    params: tuple[GoType, ...] = ()
    variadic: GoType | None = None

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)


def as_go_func(fn: Any) -> GoFunc:
    """The :class:`GoFunc` of a template function (a plain callable gets ``any`` parameters)."""
    if isinstance(fn, GoFunc):
        return fn
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return GoFunc(fn, (), "any")
    params: list[GoType] = []
    variadic: GoType | None = None
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            params.append("any")
        elif p.kind == p.VAR_POSITIONAL:
            variadic = "any"
    return GoFunc(fn, tuple(params), variadic)


def type_name(t: GoType) -> str:
    """How Go names a parameter type in messages."""
    if isinstance(t, str):
        return {"any": "interface {}", "value": "reflect.Value"}.get(t, t)
    return str(getattr(t, "GO_TYPE", t.__name__))


def can_be_nil(t: GoType) -> bool:
    return not (isinstance(t, str) and t in ("string", "float64", "int", "bool"))


def type_ok(value: Any, t: GoType) -> bool:
    """Whether a (non-nil) value is assignable to a parameter of Go type ``t``."""
    if t in ("any", "value"):
        return True
    if t == "string":
        return isinstance(value, str) and not hasattr(type(value), "GO_TYPE")
    if t == "float64":
        return isinstance(value, float)
    if t == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "bool":
        return isinstance(value, bool)
    if isinstance(t, type):
        return isinstance(value, t)
    return go_type(value) == t


def truth(value: Any) -> bool:
    """Go's ``isTrue``: zero values, nil and empty strings/slices/maps are false; structs are true."""
    if value is None:
        return False
    if isinstance(value, (bool, int, float, complex)):
        return value != 0
    if isinstance(value, (str, list, tuple, dict, bytes)):
        return len(value) > 0
    return True
