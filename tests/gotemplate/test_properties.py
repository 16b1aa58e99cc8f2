"""Properties: the engine answers every input with output or TemplateError (never another exception),
and ``%v`` of any float64 is Go's shortest formatting, checked against an independent reference."""

from __future__ import annotations

import contextlib
import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tsdb.gotemplate.gofmt import sprintf
from tsdb.gotemplate.template import TemplateError, TemplateSet

_PIECES = ["{{", "}}", "{{-", "-}}", " ", "\n", ".", "$", "$x", ":=", "=", "|", "(", ")", ",", "'a'", '"s"',
           "`r`", "1", "-2.5e3", "0x1f", "if", "else", "end", "range", "with", "define", "template", "block",
           "break", "continue", "nil", "true", ".A", ".B.C", "printf", '"%d %v %5.2f %q"', "len", "index",
           "slice", "eq", "lt", "and", "or", "not", "print", "html", "js", "call", "/*", "*/", "text", "é"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=30), st.sampled_from([None, 1, "s", [1, 2], {"A": 1}]))
def test_random_input_gives_output_or_template_error(pieces: list[str], data: object) -> None:
    text = "".join(pieces)
    try:
        out = TemplateSet().execute_text(text, data, "fuzz")
    except TemplateError as err:
        assert str(err).startswith("template: ")
    else:
        assert isinstance(out, str)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_text_never_crashes(text: str) -> None:
    with contextlib.suppress(TemplateError):
        TemplateSet().execute_text(text, {"A": "x"}, "fuzz")


def _reference_go_v(x: float) -> str:
    """Go's %v of a float64 derived independently: the fewest significant digits (1..17) that read back
    as ``x`` (the closer of the two neighbours at that length, the even one on a tie), then strconv's 'g'
    rule for shortest output: exponent form when exp < -4 || exp >= 6 (strconv decides with precision 6;
    21 is encoding/json's threshold, not fmt's)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x == 0:
        return "-0" if math.copysign(1, x) < 0 else "0"
    exact = Decimal(x)
    significant, exp = "", 0
    for digits in range(1, 18):
        # the shortest digit string inside x's rounding interval; of two, the one closer to x
        exp = exact.adjusted()
        quantum = Decimal(1).scaleb(exp - digits + 1)
        candidates = [exact.quantize(quantum, rounding=r) for r in (ROUND_FLOOR, ROUND_CEILING)]
        good = [c for c in candidates if float(c) == x]
        if good:
            # the closer one; on a tie the even last digit (Go rounds its decimal half to even)
            best = min(good, key=lambda c: (abs(c - exact), int(c.scaleb(-exp + digits - 1)) % 2))
            exp = best.adjusted()
            significant = format(abs(best), "e").split("e")[0].replace(".", "").rstrip("0") or "0"
            break
    sign = "-" if x < 0 else ""
    if exp < -4 or exp >= 6:
        body = significant[0] + ("." + significant[1:] if len(significant) > 1 else "")
        return f"{sign}{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{significant}"
    whole = significant[:exp + 1].ljust(exp + 1, "0")
    frac = significant[exp + 1:]
    return sign + whole + ("." + frac if frac else "")


@settings(max_examples=500, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_percent_v_of_floats_is_gos_shortest(x: float) -> None:
    assert sprintf("%v", x) == _reference_go_v(x)
    assert TemplateSet().execute_text("{{ . }}", x) == _reference_go_v(x)


def test_reference_examples() -> None:
    assert [_reference_go_v(v) for v in (1e6, 0.1, 1.5e-7, 123456.0, 1e21, -0.5)] == \
        ["1e+06", "0.1", "1.5e-07", "123456", "1e+21", "-0.5"]
