"""Values the evaluator passes around.

Everything is evaluated over a grid of step timestamps ``steps`` (int64 ms, ascending; an instant query
is a grid of one step). An instant vector over the grid is ``labels`` (one per series) plus
``values: float64[series, steps]`` and ``present: bool[series, steps]``: NaN is a legal sample value,
so absence is the mask, never NaN. ``drop_name[i]`` marks series whose ``__name__`` is to be removed
at the end of evaluation (Prometheus 3.x delayed name removal). Arrays are owned by the value; an
operation that changes them makes new arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tsdb.labels import Labels

StepArray = npt.NDArray[np.int64]
Matrix2D = npt.NDArray[np.float64]
Mask2D = npt.NDArray[np.bool_]


@dataclass
class ScalarValue:
    """A scalar per step: ``values[steps]`` (always present)."""

    values: npt.NDArray[np.float64]


@dataclass
class StringValue:
    """A string literal."""

    value: str


@dataclass
class VectorValue:
    """An instant vector over the step grid (see module docstring)."""

    labels: list[Labels]
    values: Matrix2D
    present: Mask2D
    drop_name: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self) -> None:
        if len(self.drop_name) != len(self.labels):
            self.drop_name = np.zeros(len(self.labels), dtype=bool)

    @classmethod
    def empty(cls, num_steps: int) -> VectorValue:
        return cls([], np.empty((0, num_steps)), np.zeros((0, num_steps), dtype=bool))

    @property
    def num_series(self) -> int:
        return len(self.labels)

    def select_rows(self, rows: npt.NDArray[np.intp] | list[int]) -> VectorValue:
        """The vector restricted to the given series rows (in that order)."""
        idx = np.asarray(rows, dtype=np.intp)
        return VectorValue([self.labels[i] for i in idx], self.values[idx], self.present[idx],
                           self.drop_name[idx])

    def without_empty_rows(self) -> VectorValue:
        """Drop series that are absent at every step."""
        keep = np.flatnonzero(self.present.any(axis=1))
        return self if len(keep) == self.num_series else self.select_rows(keep)


@dataclass
class MatrixValue:
    """A range vector: per series the raw samples of its window (instant evaluation only).

    ``ts[i]``/``values[i]`` are the samples of series ``i`` (ascending timestamps).
    """

    labels: list[Labels]
    ts: list[npt.NDArray[np.int64]]
    values: list[npt.NDArray[np.float64]]
    drop_name: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self) -> None:
        if len(self.drop_name) != len(self.labels):
            self.drop_name = np.zeros(len(self.labels), dtype=bool)


Value = ScalarValue | StringValue | VectorValue | MatrixValue


def label_order_key(lbls: Labels) -> tuple[str, ...]:
    """Prometheus's label-set order: (name, value) pairs compared in turn, a prefix first."""
    return tuple(x for pair in lbls.items() for x in pair)


class Annotations:
    """Warnings and infos of one query, in order, without duplicates."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.infos: list[str] = []

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def info(self, message: str) -> None:
        if message not in self.infos:
            self.infos.append(message)


def go_quote(s: str) -> str:
    """Go's ``%q`` of a string: invalid bytes (surrogate-escaped here) as ``\\xNN``."""
    out = []
    for ch in s:
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:
            out.append(f"\\x{o - 0xDC00:02x}")
        elif ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def format_go_float(f: float) -> str:
    """Go's ``strconv.FormatFloat(f, 'f', -1, 64)``: shortest round-trip digits, never an exponent."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    return str(np.format_float_positional(f, unique=True, trim="-"))


def format_go_float_g(f: float) -> str:
    """Go's ``%v`` of a float64 (``strconv.FormatFloat(f, 'g', -1, 64)``): shortest digits, exponent
    form when the decimal exponent is below -4 or at least 6 (so 1e6 prints as ``1e+06``)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    sci = str(np.format_float_scientific(f, unique=True, trim="-", exp_digits=2))
    if -4 <= int(sci.split("e")[1]) < 6:
        return str(np.format_float_positional(f, unique=True, trim="-"))
    return sci


def go_float(x: float) -> str:
    """Format a float like Go's ``%g`` (shortest representation)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x == 0:
        return "-0" if math.copysign(1, x) < 0 else "0"
    text = repr(x)
    mantissa, _, exp_text = text.partition("e")
    digits = mantissa.replace("-", "").replace(".", "").lstrip("0")
    exponent = math.floor(math.log10(abs(x)))
    if -4 <= exponent < 21:
        formatted = f"{x:.{max(len(digits.rstrip('0')) - 1 - exponent, 0)}f}"
        return formatted.rstrip("0").rstrip(".") if "." in formatted else formatted
    mant = f"{x / 10 ** exponent:.{max(len(digits.rstrip('0')) - 1, 0)}f}" if not exp_text else mantissa
    return f"{mant}e{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"
