"""Go's ``strconv`` pieces the template parser needs: ``Unquote`` and number constants.

``parse_number`` builds a :class:`NumberNode` exactly as Go's ``parse.newNumber`` does (every
interpretation that succeeds: int, uint, float; char constants are all three; ``1i`` is complex).
Errors are ValueError with Go's text (``invalid syntax``, ``integer overflow: "..."``,
``illegal number syntax: "..."``, ``malformed character constant: ...``).
"""

from __future__ import annotations

import math

from tsdb.gotemplate.nodes import NumberNode

_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
INT64_MIN, INT64_MAX, UINT64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1


def _quote_go(s: str) -> str:
    from tsdb.gotemplate.gofmt import quote
    return quote(s)


def unquote_char(s: str, i: int, quote: str) -> tuple[str, int]:
    """One (possibly escaped) character of a quoted literal at ``s[i]``: (char, next index)."""
    c = s[i]
    if c == quote and quote in "'\"":
        raise ValueError("invalid syntax")
    if c != "\\":
        return c, i + 1
    if i + 1 >= len(s):
        raise ValueError("invalid syntax")
    e = s[i + 1]
    if e in _SIMPLE:
        return _SIMPLE[e], i + 2
    if e in "xuU":
        n = {"x": 2, "u": 4, "U": 8}[e]
        digits = s[i + 2:i + 2 + n]
        if len(digits) != n or any(d not in "0123456789abcdefABCDEF" for d in digits):
            raise ValueError("invalid syntax")
        value = int(digits, 16)
        if e != "x" and (value > 0x10FFFF or 0xD800 <= value < 0xE000):
            raise ValueError("invalid syntax")
        return chr(value), i + 2 + n
    if e in "01234567":
        digits = s[i + 1:i + 4]
        if len(digits) != 3 or any(d not in "01234567" for d in digits) or int(digits, 8) > 255:
            raise ValueError("invalid syntax")
        return chr(int(digits, 8)), i + 4
    if e == quote and quote in "'\"":
        return e, i + 2
    raise ValueError("invalid syntax")


def unquote(quoted: str) -> str:
    """``strconv.Unquote`` for ``"..."`` and raw ``` `...` ``` literals."""
    if len(quoted) < 2 or quoted[0] != quoted[-1]:
        raise ValueError("invalid syntax")
    body = quoted[1:-1]
    if quoted[0] == "`":
        if "`" in body:
            raise ValueError("invalid syntax")
        return body.replace("\r", "")
    if quoted[0] != '"' or "\n" in body:
        raise ValueError("invalid syntax")
    out: list[str] = []
    i = 0
    while i < len(body):
        ch, i = unquote_char(body, i, '"')
        out.append(ch)
    return "".join(out)


def parse_int(text: str) -> int | None:
    """``strconv.ParseInt(text, 0, 64)`` without the range check; None when malformed."""
    sign = ""
    body = text
    if body[:1] in ("+", "-"):
        sign, body = body[0], body[1:]
    if not body or body[0] in "+-_" or body.endswith("_"):
        return None
    if len(body) > 1 and body[0] == "0" and body[1] not in "xXoObB":
        body = "0o" + body[1:]  # a leading 0 means octal in Go
    try:
        return int(sign + body, 0)
    except ValueError:
        return None


def parse_float(text: str) -> float | None:
    """``strconv.ParseFloat(text, 64)`` for the literals the lexer produces; None when malformed."""
    body = text.lstrip("+-")
    if text[:2].lstrip("+-")[:0] == "" and body[:2] in ("0x", "0X"):
        if "p" not in body.lower():
            return None
        try:
            value = float.fromhex(body.replace("_", ""))
        except (ValueError, OverflowError):
            return None
        return -value if text.startswith("-") else value
    if "__" in text or text.endswith("_") or "_." in text or "._" in text or body.startswith("_"):
        return None
    try:
        return float(text)
    except ValueError:
        return None


def parse_number(pos: int, text: str, is_char: bool = False, is_complex: bool = False) -> NumberNode:
    """Go's ``newNumber``."""
    node = NumberNode(pos, text)
    if is_char:
        body = text[1:]
        try:
            ch, end = unquote_char(body, 0, "'")
        except (ValueError, IndexError):
            raise ValueError("invalid syntax") from None
        if body[end:] != "'":
            raise ValueError(f"malformed character constant: {text}")
        node.is_int = node.is_uint = node.is_float = True
        node.int_value, node.float_value = ord(ch), float(ord(ch))
        return node
    if is_complex or text.endswith("i"):
        core = text[:-1] if text.endswith("i") else text
        try:
            value = complex(core.replace("i", "j") + ("j" if text.endswith("i") else ""))
        except ValueError:
            value = None
        if value is None and not is_complex:
            f = parse_float(core)
            value = complex(0, f) if f is not None else None
        if value is None:
            raise ValueError(f"illegal number syntax: {_quote_go(text)}")
        node.is_complex, node.complex_value = True, value
        if value.imag == 0:  # simplifyComplex: a real complex constant is also a float (and maybe an int)
            node.is_float, node.float_value = True, value.real
            if value.real.is_integer() and INT64_MIN <= value.real <= INT64_MAX:
                node.is_int, node.int_value = True, int(value.real)
        return node
    i = parse_int(text)
    if i is not None and 0 <= i <= UINT64_MAX and not text.startswith("-"):
        node.is_uint = True
    if i is not None and INT64_MIN <= i <= INT64_MAX:
        node.is_int, node.int_value = True, i
        node.is_uint = node.is_uint or i == 0
    if node.is_int or node.is_uint:
        node.is_float, node.float_value = True, float(i or 0)
        if not node.is_int:
            node.int_value = i or 0
    else:
        f = parse_float(text)
        if f is not None and not math.isinf(f):
            if not any(c in text for c in ".eEpP"):
                raise ValueError(f"integer overflow: {_quote_go(text)}")
            node.is_float, node.float_value = True, f
            if f.is_integer() and INT64_MIN <= f <= INT64_MAX:
                node.is_int, node.int_value = True, int(f)
            if f.is_integer() and 0 <= f <= UINT64_MAX:
                node.is_uint = True
    if not (node.is_int or node.is_uint or node.is_float):
        raise ValueError(f"illegal number syntax: {_quote_go(text)}")
    return node
