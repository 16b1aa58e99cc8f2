"""The builtin functions of Go's ``text/template`` (``funcs.go``), with Go's semantics and error texts.

``and``, ``or`` (short-circuit) and ``call`` are evaluated by the executor; their entries here only fix
their signatures. Comparison follows Go's basic kinds: bool, int, float, complex, string; comparing
different kinds (an int with a float included) is ``incompatible types for comparison``.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from tsdb.gotemplate.errors import FuncError
from tsdb.gotemplate.gofmt import go_type, sprint, sprintf, sprintln
from tsdb.gotemplate.values import GoFunc, truth


def _kind(value: Any) -> str:
    if value is None:
        return "invalid"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, complex):
        return "complex"
    if isinstance(value, str):
        return "string"
    return "other"


def eq(arg1: Any, *args: Any) -> bool:
    """``eq a b c...``: a == b || a == c ...; errors on incompatible basic kinds."""
    if not args:
        raise FuncError("missing argument for comparison")
    k1 = _kind(arg1)
    for arg in args:
        k2 = _kind(arg)
        if k1 != k2:
            if arg1 is not None and arg is not None:
                raise FuncError("incompatible types for comparison")
            continue
        if k1 == "other":
            if isinstance(arg1, (list, dict)) or isinstance(arg, (list, dict)):
                raise FuncError(f"non-comparable type {sprint(arg1)}: {go_type(arg1)}")
            if arg1 is arg or arg1 == arg:
                return True
        elif k1 == "invalid" or arg1 == arg:
            return True
    return False


def ne(arg1: Any, arg2: Any) -> bool:
    return not eq(arg1, arg2)


def _basic(value: Any) -> str:
    kind = _kind(value)
    if kind in ("invalid", "other"):
        raise FuncError("invalid type for comparison")
    return kind


def lt(arg1: Any, arg2: Any) -> bool:
    k1, k2 = _basic(arg1), _basic(arg2)
    if k1 != k2:
        raise FuncError("incompatible types for comparison")
    if k1 in ("bool", "complex"):
        raise FuncError("invalid type for comparison")
    return bool(arg1 < arg2)


def le(arg1: Any, arg2: Any) -> bool:
    return lt(arg1, arg2) or eq(arg1, arg2)


def gt(arg1: Any, arg2: Any) -> bool:
    return not le(arg1, arg2)


def ge(arg1: Any, arg2: Any) -> bool:
    return not lt(arg1, arg2)


def length(item: Any) -> int:
    if item is None:
        raise FuncError("len of untyped nil")
    if isinstance(item, (str)):
        return len(item.encode())  # Go's len of a string counts bytes
    if isinstance(item, (list, tuple, dict)):
        return len(item)
    raise FuncError(f"len of type {go_type(item)}")


def _index_arg(index: Any, cap: int) -> int:
    if index is None:
        raise FuncError("cannot index slice/array with nil")
    if isinstance(index, bool) or not isinstance(index, int):
        raise FuncError(f"cannot index slice/array with type {go_type(index)}")
    if index < 0 or index > cap:
        raise FuncError(f"index out of range: {index}")
    return index


def index(item: Any, *indexes: Any) -> Any:
    """``index x 1 2``: x[1][2] over slices, strings (a byte) and maps (zero value when missing)."""
    if item is None:
        raise FuncError("index of untyped nil")
    for idx in indexes:
        if item is None:
            raise FuncError("index of nil pointer")
        if isinstance(item, (list, tuple, str)):
            seq = item.encode() if isinstance(item, str) else item
            x = _index_arg(idx, len(seq))
            if x == len(seq):
                raise FuncError(f"index out of range: {x}")
            item = seq[x]
        elif isinstance(item, dict):
            if not isinstance(idx, str) or idx is None:
                raise FuncError(f"value has type {go_type(idx)}; should be string")
            from tsdb.gotemplate.values import is_string_map
            item = item[idx] if idx in item else ("" if is_string_map(item) else None)
        else:
            raise FuncError(f"can't index item of type {go_type(item)}")
    return item


def slice_(item: Any, *indexes: Any) -> Any:
    """``slice x 1 2``: x[1:2] (three indexes only for slices)."""
    if item is None:
        raise FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise FuncError("cannot 3-index slice a string")
        data = item.encode()
    elif isinstance(item, (list, tuple)):
        data = item  # type: ignore[assignment]
    else:
        raise FuncError(f"can't slice item of type {go_type(item)}")
    cap = len(data)
    idx = [0, len(data)]
    for i, raw in enumerate(indexes):
        x = _index_arg(raw, cap)
        if i < 2:
            idx[i] = x
        else:
            idx.append(x)
    if idx[0] > idx[1]:
        raise FuncError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(idx) == 3 and idx[1] > idx[2]:
        raise FuncError(f"invalid slice index: {idx[1]} > {idx[2]}")
    out = data[idx[0]:idx[1]]
    return out.decode(errors="replace") if isinstance(out, bytes) else list(out)


def _eval_args(args: tuple[Any, ...]) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(*("<no value>" if a is None else a for a in args))


def html_escape(*args: Any) -> str:
    text = _eval_args(args)
    return "".join(_HTML.get(c, c) for c in text)


_HTML = {"<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&#39;", '"': "&#34;", "\0": "\ufffd"}
_JS = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026", "=": "\\u003D"}


def js_escape(*args: Any) -> str:
    out = []
    for c in _eval_args(args):
        if c in _JS:
            out.append(_JS[c])
        elif c < " " or (ord(c) >= 0x80 and not c.isprintable()):
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def urlquery(*args: Any) -> str:
    return urllib.parse.quote_plus(_eval_args(args), safe="")


def not_(arg: Any) -> bool:
    return not truth(arg)


def _placeholder(*args: Any) -> Any:  # and/or/call are evaluated by the executor
    raise FuncError("internal: evaluated by the executor")


BUILTINS: dict[str, GoFunc] = {
    "and": GoFunc(_placeholder, ("value",), "value"),
    "or": GoFunc(_placeholder, ("value",), "value"),
    "call": GoFunc(_placeholder, ("value",), "value"),
    "not": GoFunc(not_, ("value",)),
    "len": GoFunc(length, ("value",)),
    "index": GoFunc(index, ("value",), "value"),
    "slice": GoFunc(slice_, ("value",), "value"),
    "print": GoFunc(sprint, (), "any"),
    "printf": GoFunc(sprintf, ("string",), "any"),
    "println": GoFunc(sprintln, (), "any"),
    "html": GoFunc(html_escape, (), "any"),
    "js": GoFunc(js_escape, (), "any"),
    "urlquery": GoFunc(urlquery, (), "any"),
    "eq": GoFunc(eq, ("value",), "value"),
    "ne": GoFunc(ne, ("value", "value")),
    "lt": GoFunc(lt, ("value", "value")),
    "le": GoFunc(le, ("value", "value")),
    "gt": GoFunc(gt, ("value", "value")),
    "ge": GoFunc(ge, ("value", "value")),
}
