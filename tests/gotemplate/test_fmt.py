"""Go's fmt over Python values: cases from Go's ``src/fmt/fmt_test.go`` (``fmtTests``) and
``strconv/ftoa_test.go``; the expected strings are Go's."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tsdb.gotemplate.gofmt import format_float, sprint, sprintf, sprintln


@pytest.mark.parametrize(("fmt", "arg", "expected"), [
    # strings (fmt_test.go: "%s", "%q", "%x", width and precision)
    ("%s", "abc", "abc"),
    ("%q", "abc", '"abc"'),
    ("%x", "xyz", "78797a"),
    ("%X", "xyz", "78797A"),
    ("% x", "xyz", "78 79 7a"),
    ("%#x", "xyz", "0x78797a"),
    ("%q", "\n", '"\\n"'),
    ("%q", '"', '"\\""'),
    ("%q", "\u263a", '"\u263a"'),
    ("%+q", "\u263a", '"\\u263a"'),
    ("%#q", "abc", "`abc`"),
    ("%5s", "abc", "  abc"),
    ("%-5s", "abc", "abc  "),
    ("%05s", "abc", "00abc"),
    ("%.2s", "abc", "ab"),
    ("%.5s", "abc", "abc"),
    ("%5.1s", "abc", "    a"),
    # integers
    ("%d", 12345, "12345"),
    ("%v", 12345, "12345"),
    ("%t", True, "true"),
    ("%d", -12345, "-12345"),
    ("%+d", 12345, "+12345"),
    ("% d", 12345, " 12345"),
    ("%05d", -12, "-0012"),
    ("%-5d", 12, "12   "),
    ("%.3d", 7, "007"),
    ("%6.3d", 7, "   007"),
    ("%.0d", 0, ""),
    ("%5.0d", 0, "     "),
    ("%x", 255, "ff"),
    ("%X", 255, "FF"),
    ("%#x", 255, "0xff"),
    ("%o", 8, "10"),
    ("%#o", 8, "010"),
    ("%O", 8, "0o10"),
    ("%b", 5, "101"),
    ("%c", 65, "A"),
    ("%q", 65, "'A'"),
    ("%U", 0x263a, "U+263A"),
    # floats
    ("%v", 1.0, "1"),
    ("%v", 1e6, "1e+06"),
    ("%v", 123456.0, "123456"),
    ("%v", 1234567.0, "1.234567e+06"),
    ("%v", 0.0001, "0.0001"),
    ("%v", 0.00001, "1e-05"),
    ("%v", 1e21, "1e+21"),
    ("%f", 1.0, "1.000000"),
    ("%.2f", 1.005, "1.00"),
    ("%.2f", 2.675, "2.67"),
    ("%e", 1.0, "1.000000e+00"),
    ("%E", 1.0, "1.000000E+00"),
    ("%g", 1.0, "1"),
    ("%g", 1e-7, "1e-07"),
    ("%G", 1e-7, "1E-07"),
    ("%.3g", 1234.5, "1.23e+03"),
    ("%.4g", 1234567.0, "1.235e+06"),
    ("%5.1f", 3.14159, "  3.1"),
    ("%-8.2f|", 3.14159, "3.14    |"),
    ("%08.3f", -3.14159, "-003.142"),
    ("%+.1f", 3.0, "+3.0"),
    ("% .1f", 3.0, " 3.0"),
    ("%f", math.inf, "+Inf"),
    ("%f", -math.inf, "-Inf"),
    ("%v", math.nan, "NaN"),
    ("%+.3g", math.nan, "+NaN"),
    ("%5.2f", math.nan, "  NaN"),
    ("%05.2f", math.inf, " +Inf"),
    ("%v", -0.0, "-0"),
    ("%#g", 1.0, "1.00000"),
    ("%#.0f", 1.0, "1."),
    ("%b", 1.0, "4503599627370496p-52"),
    ("%x", 1.0, "0x1p+00"),
    ("%x", 3.0, "0x1.8p+01"),
    # nil and bad verbs (fmt_test.go: "%!d(string=hello)", "%!s(int=5)", "<nil>")
    ("%d", "hello", "%!d(string=hello)"),
    ("%s", 5, "%!s(int=5)"),
    ("%d", 1.5, "%!d(float64=1.5)"),
    ("%t", 1, "%!t(int=1)"),
    ("%s", None, "%!s(<nil>)"),
    ("%v", None, "<nil>"),
    ("%z", 1, "%!z(int=1)"),
    # composites: maps print sorted, slices space separated
    ("%v", {"b": 2, "a": 1}, "map[a:1 b:2]"),
    ("%v", [1, "a", 2.5], "[1 a 2.5]"),
    ("%d", [1, 2], "[1 2]"),
    ("%q", ["a", "b"], '["a" "b"]'),
    ("%T", 1.5, "float64"),
    ("%T", "x", "string"),
])
def test_sprintf_one_operand(fmt: str, arg: Any, expected: str) -> None:
    assert sprintf(fmt, arg) == expected


@pytest.mark.parametrize(("fmt", "args", "expected"), [
    ("%d %d", (1,), "1 %!d(MISSING)"),
    ("%d", (1, 2), "1%!(EXTRA int=2)"),
    ("%d", (1, "x", None), "1%!(EXTRA string=x, <nil>)"),
    ("", (1,), "%!(EXTRA int=1)"),
    ("%", (), "%!(NOVERB)"),
    ("%%", (), "%"),
    ("%5%", (), "%"),
    ("%[2]d %[1]d", (1, 2), "2 1"),
    ("%[3]d", (1, 2), "%!d(BADINDEX)"),
    ("%*d", (5, 1), "    1"),
    ("%-*d|", (3, 1), "1  |"),
    ("%.*f", (2, 3.14159), "3.14"),
    ("%*d", ("x", 1), "%!(BADWIDTH)1"),
    ("%s %v", ("a", 1.5), "a 1.5"),
])
def test_sprintf_arguments(fmt: str, args: tuple[Any, ...], expected: str) -> None:
    assert sprintf(fmt, *args) == expected


def test_sprint_spaces_between_non_strings_only() -> None:
    # fmt.Sprint: "Spaces are added between operands when neither is a string."
    assert sprint(1, 2) == "1 2"
    assert sprint("a", 1, 2, "b", "c") == "a1 2bc"
    assert sprint(1.5, None, True) == "1.5 <nil> true"
    assert sprintln("a", 1, "b") == "a 1 b\n"


@pytest.mark.parametrize(("value", "verb", "prec", "expected"), [
    # strconv/ftoa_test.go
    (1.0, "e", 5, "1.00000e+00"),
    (1.0, "f", 5, "1.00000"),
    (1.0, "g", 5, "1"),
    (1.0, "g", -1, "1"),
    (20.0, "g", -1, "20"),
    (1234567.8, "g", -1, "1.2345678e+06"),
    (200000.0, "g", -1, "200000"),
    (2000000.0, "g", -1, "2e+06"),
    (400.0, "g", 2, "4e+02"),
    (40.0, "g", 2, "40"),
    (4.0, "g", 2, "4"),
    (0.001, "g", -1, "0.001"),
    (0.0001, "g", -1, "0.0001"),
    (0.00001, "g", -1, "1e-05"),
    (1e23, "e", 17, "9.99999999999999916e+22"),
    (1e23, "g", -1, "1e+23"),
    (100.0, "x", -1, "0x1.9p+06"),
    (5e-324, "g", -1, "5e-324"),
    (1.7976931348623157e308, "g", -1, "1.7976931348623157e+308"),
])
def test_format_float_as_strconv(value: float, verb: str, prec: int, expected: str) -> None:
    assert format_float(value, verb, prec) == expected
