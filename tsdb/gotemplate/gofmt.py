"""Go's ``fmt`` package over Python values: ``sprint``, ``sprintln``, ``sprintf``.

Values map to Go types as the template engine sees them: ``None`` is nil, ``bool``, ``int`` (Go ``int``),
``float`` (``float64``), ``str``, ``list``/``tuple`` (a slice), ``dict`` (a map, printed with sorted keys),
objects with a ``String()`` or ``Error()`` method are Stringers/errors, other objects print as Go structs
(``{field ...}``; ``&{...}`` when their class sets ``GO_POINTER = True``). Verbs, flags, width, precision,
argument indexes and the ``%!verb(type=value)``, ``%!v(MISSING)``, ``%!(EXTRA ...)`` markers follow Go's
``fmt/print.go`` and ``fmt/format.go``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any


def go_type(value: Any) -> str:
    """The Go type name a value stands for (used in ``%T`` and error messages)."""
    if value is None:
        return "<nil>"
    name = getattr(type(value), "GO_TYPE", None)
    if isinstance(name, str):
        return name
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "[]string" if value and all(isinstance(v, str) for v in value) else "[]interface {}"
    if isinstance(value, dict):
        return "map[string]string" if all(isinstance(v, str) for v in value.values()) else \
            "map[string]interface {}"
    return type(value).__name__


def format_float(v: float, verb: str, prec: int) -> str:
    """``strconv.FormatFloat(v, verb, prec, 64)`` for verbs e, E, f, F, g, G, b, x, X (prec -1: shortest)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if verb == "b":
        return _float_b(v)
    if verb in "xX":
        return _float_x(v, prec, verb)
    neg = math.copysign(1.0, v) < 0
    sign = "-" if neg else ""
    if prec < 0:
        digits, dp = _shortest(abs(v))
        if verb in "eE":
            return sign + _e_form(digits, dp, len(digits) - 1, verb)
        if verb in "fF":
            return sign + _f_form(digits, dp, max(len(digits) - dp, 0))
        exp = dp - 1
        if exp < -4 or exp >= 6:  # shortest %g decides with precision 6, as strconv does
            return sign + _e_form(digits, dp, len(digits) - 1, "e" if verb == "g" else "E")
        return sign + _f_form(digits, dp, max(len(digits) - dp, 0))
    if verb in "eE":
        text = f"{abs(v):.{prec}e}"
        return sign + (text.upper() if verb == "E" else text)
    if verb in "fF":
        return sign + f"{abs(v):.{prec}f}"
    text = f"{abs(v):.{max(prec, 1)}g}"  # Python's %g trims zeros and picks the form exactly as Go does
    return sign + (text.upper() if verb == "G" else text)


def _shortest(v: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of ``v`` >= 0 and the decimal point position."""
    if v == 0:
        return "0", 1
    mant, _, exp = repr(v).partition("e")
    whole, _, frac = mant.partition(".")
    if frac == "0":
        frac = ""
    digits = (whole + frac).lstrip("0")
    lead = len(whole + frac) - len(digits)
    dp = len(whole) + (int(exp) if exp else 0) - lead
    return digits.rstrip("0") or "0", dp


def _e_form(digits: str, dp: int, prec: int, e: str) -> str:
    digits = digits.ljust(prec + 1, "0")
    exp = dp - 1 if digits != "0" * len(digits) else 0
    body = digits[0] + ("." + digits[1:prec + 1] if prec > 0 else "")
    return f"{body}{e}{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _f_form(digits: str, dp: int, prec: int) -> str:
    if dp <= 0:
        whole, frac = "0", "0" * -dp + digits
    else:
        whole, frac = digits[:dp].ljust(dp, "0"), digits[dp:]
    frac = frac.ljust(prec, "0")[:prec]
    return whole + ("." + frac if prec > 0 else "")


def _float_b(v: float) -> str:
    mant, exp = math.frexp(abs(v))
    m = int(mant * (1 << 53))
    e = exp - 53
    if v == 0:
        m, e = 0, -1074
    return f"{'-' if math.copysign(1, v) < 0 else ''}{m}p{'-' if e < 0 else '+'}{abs(e)}"


def _float_x(v: float, prec: int, verb: str) -> str:
    sign = "-" if math.copysign(1, v) < 0 else ""
    if v == 0:
        text = "0x0" + ("." + "0" * prec if prec > 0 else "") + "p+00"
    else:
        mant, exp = math.frexp(abs(v))  # mant in [0.5, 1): Go normalises to 1.xxx
        mant, exp = mant * 2, exp - 1
        bits = int(mant * (1 << 52))
        frac = f"{bits & ((1 << 52) - 1):013x}"
        if prec >= 0:
            scaled = round(bits / (1 << (52 - 4 * prec))) if prec < 13 else bits << (4 * (prec - 13))
            if prec < 13 and scaled >> (4 * prec) >= 2:
                scaled >>= 1
                exp += 1
            frac = f"{scaled & ((1 << (4 * prec)) - 1):0{prec}x}" if prec else ""
        else:
            frac = frac.rstrip("0")
        text = "0x1" + ("." + frac if frac else "") + f"p{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return sign + (text.upper() if verb == "X" else text)


def quote(s: str, ascii_only: bool = False) -> str:
    """``strconv.Quote`` (``QuoteToASCII`` when ``ascii_only``)."""
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif (ascii_only and code >= 0x80) or (code >= 0x80 and not ch.isprintable()):
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


class _Printer:
    """One ``pp`` of Go's fmt: a buffer plus the flags of the verb being formatted."""

    def __init__(self) -> None:
        self.buf: list[str] = []
        self.clear()

    def clear(self) -> None:
        self.wid = 0
        self.prec = 0
        self.wid_present = self.prec_present = False
        self.minus = self.plus = self.sharp = self.space = self.zero = False
        self.plus_v = self.sharp_v = False

    # -- padding (format.go) --
    def _padding(self, n: int) -> str:
        if n <= 0:
            return ""
        return ("0" if self.zero and not self.minus else " ") * n

    def pad(self, s: str) -> None:
        if not self.wid_present or self.wid == 0:
            self.buf.append(s)
            return
        fill = self._padding(self.wid - len(s))
        self.buf.append(s + fill if self.minus else fill + s)

    def fmt_s(self, s: str) -> None:
        if self.prec_present:
            s = s[:self.prec]
        self.pad(s)

    def fmt_integer(self, u: int, base: int, verb: str) -> None:
        negative = u < 0
        u = abs(u)
        prec = 0
        if self.prec_present:
            prec = self.prec
            if prec == 0 and u == 0:
                old, self.zero = self.zero, False
                self.buf.append(self._padding(self.wid) if self.wid_present else "")
                self.zero = old
                return
        elif self.zero and not self.minus and self.wid_present:
            prec = self.wid
            if negative or self.plus or self.space:
                prec -= 1
        if verb == "c":
            digits = chr(u) if u < 0x110000 else "\ufffd"
        else:
            digits = {2: f"{u:b}", 8: f"{u:o}", 10: str(u), 16: f"{u:x}"}[base]
            if verb == "X":
                digits = digits.upper()
        digits = digits.rjust(prec, "0")
        if self.sharp:
            if base == 2:
                digits = "0b" + digits
            elif base == 8 and not digits.startswith("0"):
                digits = "0" + digits
            elif base == 16:
                digits = ("0X" if verb == "X" else "0x") + digits
        if verb == "O":
            digits = "0o" + digits
        if negative:
            digits = "-" + digits
        elif self.plus:
            digits = "+" + digits
        elif self.space:
            digits = " " + digits
        old, self.zero = self.zero, False
        self.pad(digits)
        self.zero = old

    def fmt_float(self, v: float, verb: str, prec: int) -> None:
        if self.prec_present:
            prec = self.prec
        num = format_float(v, verb, prec)
        if num[0] not in "+-":
            num = "+" + num
        if self.space and num[0] == "+" and not self.plus:
            num = " " + num[1:]
        if num[1] in "IN":
            old, self.zero = self.zero, False
            if num[1] == "N" and not self.space and not self.plus:
                num = num[1:]
            self.pad(num)
            self.zero = old
            return
        if self.sharp and verb != "b":
            num = self._sharp_float(num, verb, prec)
        if self.plus or num[0] != "+":
            if self.zero and not self.minus and self.wid_present and self.wid > len(num):
                self.buf.append(num[0] + "0" * (self.wid - len(num)) + num[1:])
                return
            self.pad(num)
            return
        self.pad(num[1:])

    @staticmethod
    def _sharp_float(num: str, verb: str, prec: int) -> str:
        """The '#' flag: always a decimal point; %g/%v keep trailing zeros up to the precision."""
        digits = (6 if prec == -1 else prec) if verb in "vgGx" else 0
        tail = ""
        has_point = saw_nonzero = False
        i = 1
        while i < len(num):
            c = num[i]
            if c == ".":
                has_point = True
            elif c in "pP" or (c in "eE" and verb not in "xX"):
                tail, num = num[i:], num[:i]
                break
            else:
                saw_nonzero = saw_nonzero or c != "0"
                if saw_nonzero:
                    digits -= 1
            i += 1
        if not has_point:
            if len(num) == 2 and num[1] == "0":
                digits -= 1
            num += "."
        return num + "0" * max(digits, 0) + tail

    # -- values (print.go) --
    def bad_verb(self, verb: str, arg: Any) -> None:
        self.buf.append("%!" + verb + "(")
        if arg is None:
            self.buf.append("<nil>")
        else:
            self.buf.append(go_type(arg) + "=")
            self.print_arg(arg, "v", 0)
        self.buf.append(")")

    def print_arg(self, arg: Any, verb: str, depth: int = 0) -> None:
        if arg is None:
            if verb in "Tv":
                self.pad("<nil>")
            else:
                self.bad_verb(verb, None)
            return
        if verb == "T":
            self.fmt_s(go_type(arg))
            return
        if isinstance(arg, bool):
            if verb in "tv":
                self.pad("true" if arg else "false")
            else:
                self.bad_verb(verb, arg)
        elif isinstance(arg, int):
            self._print_int(arg, verb)
        elif isinstance(arg, float):
            if verb == "v":
                self.fmt_float(arg, "g", -1)
            elif verb in "bgGxX":
                self.fmt_float(arg, verb, -1)
            elif verb in "feEF":
                self.fmt_float(arg, verb, 6)
            else:
                self.bad_verb(verb, arg)
        elif isinstance(arg, str):
            self._print_str(arg, verb)
        elif self._handle_methods(arg, verb):
            return
        elif isinstance(arg, dict):
            self.buf.append("map[")
            for i, key in enumerate(sorted(arg, key=_sort_key)):
                if i:
                    self.buf.append(" ")
                self.print_arg(key, verb, depth + 1)
                self.buf.append(":")
                self.print_arg(arg[key], verb, depth + 1)
            self.buf.append("]")
        elif isinstance(arg, (list, tuple)):
            self.buf.append("[")
            for i, item in enumerate(arg):
                if i:
                    self.buf.append(" ")
                self.print_arg(item, verb, depth + 1)
            self.buf.append("]")
        else:
            self._print_struct(arg, verb, depth)

    def _print_int(self, v: int, verb: str) -> None:
        bases = {"v": 10, "d": 10, "b": 2, "o": 8, "O": 8, "x": 16, "X": 16, "c": 10}
        if verb in bases:
            self.fmt_integer(v, bases[verb], verb)
        elif verb == "q":
            self.fmt_s(_quote_rune(v))
        elif verb == "U":
            text = f"U+{v:04X}"
            if self.sharp and 0 <= v < 0x110000 and chr(v).isprintable():
                text += f" '{chr(v)}'"
            self.pad(text)
        else:
            self.bad_verb(verb, v)

    def _print_str(self, s: str, verb: str) -> None:
        if verb in "vs":
            if self.sharp_v:
                self.pad(quote(s))
            else:
                self.fmt_s(s)
        elif verb in "xX":
            data = (s[:self.prec] if self.prec_present else s).encode()
            text = data.hex(" ") if self.space else data.hex()
            if self.sharp:
                prefix = "0x"
                text = " ".join(prefix + part for part in text.split(" ")) if self.space else prefix + text
            self.pad(text.upper() if verb == "X" else text)
        elif verb == "q":
            s = s[:self.prec] if self.prec_present else s
            if self.sharp and "`" not in s and all(c == "\t" or (c.isprintable() and c != "\ufeff") for c in s):
                self.pad("`" + s + "`")
            else:
                self.pad(quote(s, ascii_only=self.plus))
        else:
            self.bad_verb(verb, s)

    def _handle_methods(self, arg: Any, verb: str) -> bool:
        if verb not in "vsxXq":
            return False
        for name in ("Error", "String"):
            method = getattr(arg, name, None)
            if callable(method):
                try:
                    text = str(method())
                except Exception as err:  # Go recovers a panicking String method into the output
                    self.buf.append(f"%!{verb}(PANIC={name} method: {err})")
                    return True
                self._print_str(text, verb)
                return True
        return False

    def _print_struct(self, arg: Any, verb: str, depth: int) -> None:
        if getattr(type(arg), "GO_POINTER", False):
            if depth > 0:
                self.buf.append(f"0xc{id(arg) & 0xFFFFFFFFF:09x}")
                return
            self.buf.append("&")
        if dataclasses.is_dataclass(arg):
            fields = [(f.name, getattr(arg, f.name)) for f in dataclasses.fields(arg)]
        else:
            fields = [(k, v) for k, v in vars(arg).items() if not k.startswith("_")] if hasattr(arg, "__dict__") \
                else []
        self.buf.append("{")
        for i, (name, value) in enumerate(fields):
            if i:
                self.buf.append(" ")
            if self.plus_v:
                self.buf.append(name + ":")
            self.print_arg(value, verb, depth + 1)
        self.buf.append("}")


def _sort_key(key: Any) -> tuple[int, Any]:
    if isinstance(key, (int, float)) and not isinstance(key, bool):
        return (0, key)
    return (1, str(key))


def _quote_rune(v: int) -> str:
    if not 0 <= v < 0x110000 or 0xD800 <= v < 0xE000:
        v = 0xFFFD
    ch = chr(v)
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    inner = quote(ch)[1:-1]
    return "'" + inner + "'"


def sprint(*args: Any) -> str:
    """``fmt.Sprint``: a space between operands when neither is a string."""
    p = _Printer()
    prev_string = False
    for i, arg in enumerate(args):
        is_string = isinstance(arg, str)
        if i > 0 and not is_string and not prev_string:
            p.buf.append(" ")
        p.print_arg(arg, "v")
        prev_string = is_string
    return "".join(p.buf)


def sprintln(*args: Any) -> str:
    """``fmt.Sprintln``: spaces between all operands, a newline at the end."""
    p = _Printer()
    for i, arg in enumerate(args):
        if i:
            p.buf.append(" ")
        p.print_arg(arg, "v")
    return "".join(p.buf) + "\n"


def _parsenum(s: str, i: int) -> tuple[int, bool, int]:
    num, found = 0, False
    while i < len(s) and s[i].isdigit() and s[i].isascii():
        if num > 1_000_000:
            return 0, False, len(s)
        num = num * 10 + int(s[i])
        found = True
        i += 1
    return num, found, i


def sprintf(fmt: str, *args: Any) -> str:
    """``fmt.Sprintf`` with Go's verbs, flags, ``[n]`` indexes and error markers."""
    p = _Printer()
    arg_num, end, i = 0, len(fmt), 0
    reordered = False

    def arg_number(arg_num: int, i: int) -> tuple[int, int, bool, bool]:
        """(arg_num, i, found, good) for an optional ``[n]`` at ``i``."""
        nonlocal reordered
        if i >= end or fmt[i] != "[":
            return arg_num, i, False, True
        reordered = True
        close = fmt.find("]", i + 1)
        if end - i < 3 or close < 0:
            return arg_num, i + 1, False, False
        num, ok, stop = _parsenum(fmt, i + 1)
        if not ok or stop != close:
            return arg_num, close + 1, False, False
        if 0 <= num - 1 < len(args):
            return num - 1, close + 1, True, True
        return arg_num, close + 1, True, False

    def int_arg(arg_num: int) -> tuple[int, bool, int]:
        if arg_num < len(args):
            value = args[arg_num]
            ok = isinstance(value, int) and not isinstance(value, bool) and -1_000_000 <= value <= 1_000_000
            return (value if ok else 0), ok, arg_num + 1
        return 0, False, arg_num

    while i < end:
        good = True
        last = i
        while i < end and fmt[i] != "%":
            i += 1
        if i > last:
            p.buf.append(fmt[last:i])
        if i >= end:
            break
        i += 1
        p.clear()
        while i < end and fmt[i] in "#0+- ":
            c = fmt[i]
            if c == "#":
                p.sharp = True
            elif c == "0":
                p.zero = not p.minus
            elif c == "+":
                p.plus = True
            elif c == "-":
                p.minus, p.zero = True, False
            else:
                p.space = True
            i += 1
        arg_num, i, after_index, ok = arg_number(arg_num, i)
        good = good and ok
        if i < end and fmt[i] == "*":
            i += 1
            p.wid, p.wid_present, arg_num = int_arg(arg_num)
            if not p.wid_present:
                p.buf.append("%!(BADWIDTH)")
            if p.wid < 0:
                p.wid, p.minus, p.zero = -p.wid, True, False
            after_index = False
        else:
            p.wid, p.wid_present, i = _parsenum(fmt, i)
            if after_index and p.wid_present:
                good = False
        if i + 1 < end and fmt[i] == ".":
            i += 1
            if after_index:
                good = False
            arg_num, i, after_index, ok = arg_number(arg_num, i)
            good = good and ok
            if i < end and fmt[i] == "*":
                i += 1
                p.prec, p.prec_present, arg_num = int_arg(arg_num)
                if p.prec < 0:
                    p.prec, p.prec_present = 0, False
                if not p.prec_present:
                    p.buf.append("%!(BADPREC)")
                after_index = False
            else:
                p.prec, p.prec_present, i = _parsenum(fmt, i)
                if not p.prec_present:
                    p.prec, p.prec_present = 0, True
        if not after_index:
            arg_num, i, after_index, ok = arg_number(arg_num, i)
            good = good and ok
        if i >= end:
            p.buf.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            p.buf.append("%")
        elif not good:
            p.buf.append(f"%!{verb}(BADINDEX)")
        elif arg_num >= len(args):
            p.buf.append(f"%!{verb}(MISSING)")
        else:
            if verb == "v":
                p.sharp_v, p.sharp = p.sharp, False
                p.plus_v, p.plus = p.plus, False
            p.print_arg(args[arg_num], verb)
            arg_num += 1
    if not reordered and arg_num < len(args):
        p.clear()
        p.buf.append("%!(EXTRA ")
        for k, arg in enumerate(args[arg_num:]):
            if k:
                p.buf.append(", ")
            if arg is None:
                p.buf.append("<nil>")
            else:
                p.buf.append(go_type(arg) + "=")
                p.print_arg(arg, "v")
        p.buf.append(")")
    return "".join(p.buf)
