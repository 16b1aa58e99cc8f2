"""Runner for Prometheus's PromQL ``.test`` scripts (the conformance bar of the query engine).

The format is Prometheus's ``promql/promqltest`` script format (described in that package's README in the
Prometheus repository): ``load`` blocks in series notation,
``clear``, ``eval instant|range`` with ``expect`` lines and expected series or scalars. Every eval is a
case with a status ``passed``, ``failed`` or ``skipped`` (skips only for native-histogram cases and for
experimental syntax our parser rejects, always with a reason).

Usage: ``python -m tsdb.query.promqltest FILES... [--json] [-v]``; the last line printed is
``N passed, M failed, K skipped``.

Checks done per instant eval, as Prometheus's runner does: the main evaluation, the ``@`` invariance
re-runs (``@ T`` on every selector, evaluated at -10T, 0, T/5, T, 10T) and the range-mode check (the query
run as a range query from t-1m to t+1m, the point at t compared with the same expectations).
Warning/info annotations are checked by kind and message; the ``(line:col)`` position suffix is ignored
because the engine does not track positions. ``@st`` start-timestamp lines are read but not loaded (the
storage interface has no start timestamps); native histogram samples are not loaded either.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import shutil
import struct
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tsdb.errors import ParseError, TsdbError
from tsdb.labels import Labels, matches_all
from tsdb.query.evaluator import children, selector_matchers
from tsdb.query.value import MatrixValue, ScalarValue, StringValue, Value, VectorValue
from tsdb.storage.interfaces import STALE_NAN, Appendable, Queryable
from tsdb.storage.memory import MemoryStore

_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_DURATION_UNITS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)
_INSTANT_HEADER = re.compile(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")
_RANGE_HEADER = re.compile(r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$")
_EXPECT = re.compile(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$")
_EXPECT_RANGE = re.compile(r"^expect\s+range\s+vector\s+from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)$")
_EXPECT_STRING = re.compile(r"^expect\s+string\s+(.+)$")
_NUMBER = re.compile(r"^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)$", re.IGNORECASE)
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_NO_AT_FUNCS = ("days_in_month", "day_of_month", "day_of_week", "day_of_year", "end", "hour", "minute",
                "month", "year", "predict_linear", "range", "start", "step", "time", "timestamp")
_RANGE_FN_RE = re.compile(r"(start|end|range|step)\(\)")
SMALLEST_NORMAL = 2.2250738585072014e-308
MAX_FLOAT = 1.7976931348623157e308
EPSILON = 1e-6


class TestSyntaxError(TsdbError, ValueError):
    """A ``.test`` file is malformed; the message names the file and line."""


# -- durations and numbers -------------------------------------------------------------------------
def parse_duration(text: str) -> int:
    """A Prometheus duration (``0``, ``1m30s``, ``20s500ms``) in milliseconds."""
    if text == "0":
        return 0
    match = _DURATION.match(text)
    if not text or match is None:
        raise TestSyntaxError(f"invalid duration {text!r}")
    return sum(int(g) * unit for g, unit in zip(match.groups(), _DURATION_UNITS, strict=True) if g)


def parse_number(text: str) -> float:
    """A float in series notation: decimal, ``Inf``/``NaN`` in any case, optional sign."""
    if not _NUMBER.match(text):
        raise TestSyntaxError(f"invalid number {text!r}")
    return float(text)


def parse_scalar_line(text: str) -> float | None:
    """The value of a line that is one number (Go ParseInt base 0, then ParseFloat); else None."""
    t = text.replace("_", "") if re.fullmatch(r"[+-]?0[xXoObB][0-9a-fA-F_]+", text) else text
    try:
        return float(int(t, 0))
    except ValueError:
        pass
    if _NUMBER.match(text):
        return float(text)
    return None


def almost_equal(a: float, b: float) -> bool:
    """Go's ``almost.Equal(a, b, 1e-6)`` with the stale marker handled bit-exactly."""
    sa = struct.pack("<d", a) == struct.pack("<d", STALE_NAN)
    sb = struct.pack("<d", b) == struct.pack("<d", STALE_NAN)
    if sa or sb:
        return sa and sb
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    diff = abs(a - b)
    if a == 0 or b == 0 or abs(a) + abs(b) < SMALLEST_NORMAL:
        return diff < EPSILON * SMALLEST_NORMAL
    return diff / min(abs(a) + abs(b), MAX_FLOAT) < EPSILON


# -- series notation -------------------------------------------------------------------------------
_GO_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\",
               "'": "'", '"': '"'}


def unquote_go(text: str) -> str:
    """Unquote a Go string literal (double quotes, single quotes or backticks)."""
    if len(text) < 2 or text[0] != text[-1] or text[0] not in "\"'`":
        raise TestSyntaxError(f"invalid string literal {text}")
    body = text[1:-1]
    if text[0] == "`":
        return body
    out: list[str] = []
    raw = bytearray()
    i = 0

    def flush() -> None:
        if raw:
            out.append(raw.decode("utf-8", errors="replace"))
            raw.clear()

    while i < len(body):
        c = body[i]
        if c != "\\":
            flush()
            out.append(c)
            i += 1
            continue
        e = body[i + 1] if i + 1 < len(body) else ""
        if e in _GO_ESCAPES:
            flush()
            out.append(_GO_ESCAPES[e])
            i += 2
        elif e == "x":
            raw.append(int(body[i + 2:i + 4], 16))
            i += 4
        elif e in "uU":
            n = 4 if e == "u" else 8
            flush()
            out.append(chr(int(body[i + 2:i + 2 + n], 16)))
            i += 2 + n
        elif e.isdigit():
            raw.append(int(body[i + 1:i + 4], 8))
            i += 4
        else:
            raise TestSyntaxError(f"invalid escape in {text}")
    flush()
    return "".join(out)


_LABEL_PAIR = re.compile(
    r"\s*(?:([a-zA-Z_][a-zA-Z0-9_]*)|(\"(?:[^\"\\]|\\.)*\"))\s*=\s*(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|`[^`]*`)"
    r"\s*,?")
_QUOTED_NAME = re.compile(r"\s*(\"(?:[^\"\\]|\\.)*\")\s*,?")


def split_series_line(line: str) -> tuple[Labels, str, str]:
    """Split ``labels values`` into (labels, suffix such as ``@st`` or "", the rest of the line)."""
    pos = 0
    name = ""
    m = _IDENT.match(line)
    if m:
        name = m.group(0)
        pos = m.end()
    pairs: dict[str, str] = {}
    if pos < len(line) and line[pos] == "{":
        pos += 1
        while True:
            while pos < len(line) and line[pos] in " \t":
                pos += 1
            if pos < len(line) and line[pos] == "}":
                pos += 1
                break
            pm = _LABEL_PAIR.match(line, pos)
            if pm is None:
                qm = _QUOTED_NAME.match(line, pos)
                if qm is None or name:
                    raise TestSyntaxError(f"invalid label set in {line!r}")
                name = unquote_go(qm.group(1))
                pos = qm.end()
                continue
            lname = pm.group(1) or unquote_go(pm.group(2))
            pairs[lname] = unquote_go(pm.group(3))
            pos = pm.end()
    elif not name:
        raise TestSyntaxError(f"invalid series line {line!r}")
    if name:
        pairs["__name__"] = name
    suffix = ""
    if line.startswith("@st", pos):
        suffix = "@st"
        pos += 3
    return Labels(pairs), suffix, line[pos:].strip()


@dataclass
class Slot:
    """One slot of a series line: a float sample, an empty slot, or a native histogram (text)."""

    value: float | None = None
    histogram: str | None = None


def _expand_number_item(item: str) -> list[Slot]:
    if item == "_":
        return [Slot()]
    if item == "stale":
        return [Slot(STALE_NAN)]
    if item.startswith("_x"):
        return [Slot() for _ in range(int(item[2:]))]
    try:
        return [Slot(parse_number(item))]
    except TestSyntaxError:
        pass
    m = re.match(r"^([+-]?(?:[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?|[iI][nN][fF]|[nN][aA][nN]))"
                 r"(?:([+-])([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?|[iI][nN][fF]|[nN][aA][nN]))?x(\d+)$", item)
    if m is None:
        raise TestSyntaxError(f"invalid series item {item!r}")
    value = parse_number(m.group(1))
    step = parse_number(m.group(3)) if m.group(3) else 0.0
    if m.group(2) == "-":
        step = -step
    out = [Slot(value)]
    for _ in range(int(m.group(4))):
        value += step
        out.append(Slot(value))
    return out


def expand_values(text: str) -> list[Slot]:
    """Expand the value part of a series line into slots (section 4.2 of the format)."""
    slots: list[Slot] = []
    i = 0
    n = len(text)
    while i < n:
        if text[i] in " \t":
            i += 1
            continue
        if text.startswith("{{", i):
            end = text.find("}}", i)
            j = end + 2
            while j < n and text[j] not in " \t":
                if text.startswith("{{", j):
                    j = text.find("}}", j) + 2
                else:
                    j += 1
            item = text[i:j]
            m = re.search(r"x(\d+)$", item)
            count = int(m.group(1)) + 1 if m and item.rstrip().endswith(m.group(0)) and "}}x" in item else 1
            slots.extend(Slot(histogram=item) for _ in range(count))
            i = j
            continue
        j = i
        while j < n and text[j] not in " \t":
            j += 1
        slots.extend(_expand_number_item(text[i:j]))
        i = j
    return slots


# -- commands ---------------------------------------------------------------------------------------
@dataclass
class ExpectedSeries:
    labels: Labels
    slots: list[Slot]


@dataclass
class EvalCase:
    """One ``eval`` command."""

    file: str
    line: int
    query: str
    instant: bool
    start: int = 0
    end: int = 0
    step: int = 0
    fail: bool = False
    fail_match: tuple[str, str] | None = None
    ordered: bool = False
    warn: list[tuple[str, str]] | None = None
    info: list[tuple[str, str]] | None = None
    no_warn: bool = False
    no_info: bool = False
    scalar: float | None = None
    string: str | None = None
    range_vector: tuple[int, int, int] | None = None
    series: list[ExpectedSeries] = field(default_factory=list)


@dataclass
class LoadCommand:
    line: int
    interval: int
    series: list[tuple[Labels, list[Slot]]]
    nhcb: bool = False


@dataclass
class ClearCommand:
    line: int


Command = EvalCase | LoadCommand | ClearCommand


def _blocks(text: str) -> list[tuple[int, list[str]]]:
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    for no, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip(" \t\r")
        if line.startswith("#"):
            line = ""
        if not line:
            if current:
                blocks.append((start, current))
                current = []
            continue
        if not current:
            start = no
        current.append(line)
    if current:
        blocks.append((start, current))
    return blocks


def parse_test_file(text: str, name: str) -> list[Command]:
    """Parse a ``.test`` file into commands; raises :class:`TestSyntaxError` naming file and line."""
    commands: list[Command] = []
    for start, lines in _blocks(text):
        i = 0
        while i < len(lines):
            line_no = start + i
            header = lines[i]
            word = header.split()[0].lower()
            try:
                if word == "clear":
                    commands.append(ClearCommand(line_no))
                    i += 1
                elif word.startswith("load"):
                    commands.append(_parse_load(header, lines[i + 1:], line_no))
                    i = len(lines)
                elif word.startswith("eval"):
                    case, used = _parse_eval(header, lines[i + 1:], name, line_no)
                    commands.append(case)
                    i += 1 + used
                else:
                    raise TestSyntaxError(f"unknown command {word!r}")
            except (TestSyntaxError, ValueError, IndexError) as err:
                raise TestSyntaxError(f"{name}:{line_no}: {err}") from err
    return commands


def _parse_load(header: str, body: list[str], line_no: int) -> LoadCommand:
    parts = header.split()
    if len(parts) != 2:
        raise TestSyntaxError(f"invalid load header {header!r}")
    series: dict[Labels, list[Slot]] = {}
    for line in body:
        labels, suffix, rest = split_series_line(line)
        if suffix == "@st":
            continue  # start timestamps: not modelled (see module docstring)
        series[labels] = expand_values(rest)
    return LoadCommand(line_no, parse_duration(parts[1]), list(series.items()), parts[0] == "load_with_nhcb")


def _parse_eval(header: str, body: list[str], name: str, line_no: int) -> tuple[EvalCase, int]:
    m = _INSTANT_HEADER.match(header)
    if m and " range " not in header.split("instant")[0]:
        mod, at, query = m.groups()
        if not at:
            raise TestSyntaxError("eval instant without time")
        case = EvalCase(name, line_no, query.strip(), True, start=parse_duration(at))
        case.end = case.start
    else:
        m = _RANGE_HEADER.match(header)
        if not m:
            raise TestSyntaxError(f"invalid eval header {header!r}")
        mod, start, end, step, query = m.groups()
        case = EvalCase(name, line_no, query.strip(), False, parse_duration(start), parse_duration(end),
                        parse_duration(step))
    if mod == "fail":
        case.fail = True
    elif mod == "ordered":
        case.ordered = True
    elif mod == "warn":
        case.warn = [("", "")]
    elif mod == "info":
        case.info = [("", "")]
    used = 0
    for line in body:
        used += 1
        rm = _EXPECT_RANGE.match(line)
        if rm:
            case.range_vector = (parse_duration(rm.group(1)), parse_duration(rm.group(2)),
                                 parse_duration(rm.group(3)))
            continue
        sm = _EXPECT_STRING.match(line)
        if sm:
            case.string = unquote_go(sm.group(1).strip())
            continue
        if line.startswith("expected_fail_message ") or line.startswith("expected_fail_regexp "):
            kind = "msg" if line.startswith("expected_fail_message") else "regex"
            case.fail_match = (kind, line.split(" ", 1)[1].strip())
            break
        em = _EXPECT.match(line)
        if em:
            kind, how, text = em.group(1), em.group(2) or "", (em.group(3) or "").strip()
            if kind == "fail":
                case.fail = True
                case.fail_match = (how, text) if how else None
            elif kind == "ordered":
                case.ordered = True
            elif kind in ("warn", "info"):
                lst = case.warn if kind == "warn" else case.info
                if lst is None or (lst == [("", "")] and not how):
                    lst = []
                lst.append((how, text))
                if kind == "warn":
                    case.warn = lst
                else:
                    case.info = lst
            elif kind == "no_warn":
                case.no_warn = True
            else:
                case.no_info = True
            continue
        scalar = parse_scalar_line(line)
        if scalar is not None:
            case.scalar = scalar
            break
        labels, _, rest = split_series_line(line)
        slots = expand_values(rest)
        case.series = [s for s in case.series if s.labels != labels]
        case.series.append(ExpectedSeries(labels, slots))
    return case, used


# -- running ----------------------------------------------------------------------------------------
@dataclass
class CaseResult:
    file: str
    line: int
    query: str
    status: str
    reason: str = ""


def create_store(directory: str | None = None) -> tuple[Appendable, Queryable]:
    """The storage the runner loads into and queries: the real DB (WAL, head, appender kernels) in
    ``directory``, or the in-memory store when no directory is given."""
    if directory is None:
        store = MemoryStore()
        return store, store
    from tsdb.config import StorageOptions
    from tsdb.storage.db import DB

    db = DB.open(directory, StorageOptions(wal_fsync="never", wal_segment_bytes=8 << 20))
    return db, db


EXPERIMENTAL_FUNCTIONS = frozenset({
    "info", "limitk", "limit_ratio", "sort_by_label", "sort_by_label_desc", "mad_over_time", "ts_of_first_over_time",
    "ts_of_last_over_time", "ts_of_min_over_time", "ts_of_max_over_time", "double_exponential_smoothing",
    "histogram_quantiles", "start_timestamp", "start", "end", "range", "step", "min_of", "max_of"})
"""Functions Prometheus marks experimental (README section 6)."""

_EXPERIMENTAL_SYNTAX = [
    (re.compile(r"\b(anchored|smoothed)\b"), "anchored/smoothed range modifiers"),
    (re.compile(r"\b(fill|fill_left|fill_right)\s*\("), "fill operator modifiers"),
    (re.compile(r"\[[^\]]*[-+*/%^()][^\]]*\]|offset\s*-?\s*\(|offset\s+-?\s*[a-z_]+\(|\bstep\(\)\s*[*+-/]",
                re.IGNORECASE), "duration expressions"),
]


class Runner:
    """Runs ``.test`` files against an engine over a fresh store per ``clear``."""

    def __init__(self, verbose: bool = False) -> None:
        self.verbose = verbose
        self.results: list[CaseResult] = []

    def run_file(self, path: Path) -> list[CaseResult]:

        name = path.name
        try:
            commands = parse_test_file(path.read_text(), name)
        except TestSyntaxError as err:
            result = CaseResult(name, 0, "", "failed", f"file does not parse: {err}")
            self.results.append(result)
            return [result]
        scratch = tempfile.mkdtemp(prefix="tsdb-promqltest-")
        stores: list[Any] = []

        def fresh_store() -> tuple[Appendable, Queryable]:
            for old in stores:
                old.close()
            stores.clear()
            store = create_store(os.path.join(scratch, str(len(os.listdir(scratch)))))
            stores.append(store[0])
            return store

        try:
            return self._run_commands(name, commands, fresh_store)
        finally:
            for old in stores:
                old.close()
            shutil.rmtree(scratch, ignore_errors=True)

    def _run_commands(self, name: str, commands: list[Command],
                      fresh_store: Any) -> list[CaseResult]:
        from tsdb.query.engine import Engine

        appendable, queryable = fresh_store()
        engine = Engine(queryable, max_samples=10_000_000, timeout_s=100)
        hist_series: set[Labels] = set()
        out: list[CaseResult] = []
        load_failed = ""
        for command in commands:
            if isinstance(command, ClearCommand):
                appendable, queryable = fresh_store()
                engine = Engine(queryable, max_samples=10_000_000, timeout_s=100)
                hist_series = set()
                load_failed = ""
            elif isinstance(command, LoadCommand):
                try:
                    hist_series |= self._load(appendable, command)
                except TsdbError as err:
                    load_failed = f"load at line {command.line} failed: {err}"
            else:
                if load_failed:
                    res = CaseResult(name, command.line, command.query, "failed", load_failed)
                else:
                    res = self._run_case(engine, command, hist_series)
                out.append(res)
                if self.verbose and res.status == "failed":
                    print(f"{res.file}:{res.line}: {res.status}: {res.query}\n    {res.reason}")
        self.results.extend(out)
        return out

    @staticmethod
    def _load(appendable: Appendable, command: LoadCommand) -> set[Labels]:
        """Load the block's float samples; returns the label sets that hold native histograms."""
        hist_series: set[Labels] = set()
        app = appendable.appender()
        for labels, slots in command.series:
            ts = [k * command.interval for k, s in enumerate(slots) if s.value is not None]
            values = [s.value for s in slots if s.value is not None]
            if any(s.histogram is not None for s in slots):
                hist_series.add(labels)
            if ts:
                app.append(labels, np.array(ts, dtype=np.int64), np.array(values, dtype=np.float64))
        if command.nhcb:
            for labels, _ in command.series:
                base = labels.metric_name
                for suffix in ("_bucket", "_count", "_sum"):
                    if base.endswith(suffix):
                        hist_series.add(labels.without(("le",)).with_labels({"__name__": base[: -len(suffix)]}))
        result = app.commit()
        if result.rejected_count:
            raise TestSyntaxError(f"samples rejected: {result.summary()}")
        return hist_series

    def _skip_reason(self, case: EvalCase, hist_series: set[Labels], expr: Any, err: Exception | None) -> str:
        if any(s.histogram is not None for e in case.series for s in e.slots):
            return "native histogram: expected result holds histograms"
        hist_names = {lbls.metric_name for lbls in hist_series}
        names = set(_IDENT.findall(re.sub(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'", "", case.query)))
        touched = sorted(names & hist_names)
        if touched:
            return f"native histogram: query reads {', '.join(touched)}"
        if expr is not None:
            for vs in _selectors(expr):
                matchers = selector_matchers(vs)
                hit = next((lbls for lbls in hist_series if matches_all(matchers, lbls)), None)
                if hit is not None:
                    return f"native histogram: query selects {hit}"
        if isinstance(err, ParseError):
            unknown = re.search(r'unknown function with name "(\w+)"', str(err))
            if unknown and unknown.group(1) in EXPERIMENTAL_FUNCTIONS:
                return f"experimental: function {unknown.group(1)}() rejected by the parser"
            for pattern, feature in _EXPERIMENTAL_SYNTAX:
                if pattern.search(case.query):
                    return f"experimental: {feature}"
        return ""

    def _run_case(self, engine: Any, case: EvalCase, hist_series: set[Labels]) -> CaseResult:
        from tsdb.query.parser import parse

        def result(status: str, reason: str = "") -> CaseResult:
            return CaseResult(case.file, case.line, case.query, status, reason)

        parse_error: Exception | None = None
        expr: Any = None
        try:
            expr = parse(case.query)
        except Exception as err:  # a parser crash counts as a parse failure of this case
            parse_error = err if isinstance(err, ParseError) else ParseError(f"{type(err).__name__}: {err}")
        skip = self._skip_reason(case, hist_series, expr, parse_error)
        if skip:
            return result("skipped", skip)
        try:
            reason = self._check(engine, case)
        except Exception as err:  # a crash of the engine is a failed case, never a crashed runner
            reason = f"engine crashed: {type(err).__name__}: {err}"
        return result("failed" if reason else "passed", reason)

    def _check(self, engine: Any, case: EvalCase) -> str:
        t_eval = case.range_vector[1] if case.range_vector else case.start
        try:
            if case.instant:
                res = engine.query_instant(case.query, t_eval)
            else:
                res = engine.query_range(case.query, case.start, case.end, case.step)
        except TsdbError as err:
            if not case.fail:
                return f"unexpected error: {err}"
            return _check_fail_message(case, str(err))
        if case.fail:
            return "expected an error, got a result"
        reason = _check_annotations(case, res.warnings, res.infos)
        if reason:
            return reason
        reason = compare_result(case, res.value)
        if reason or not case.instant:
            return reason
        reason = self._range_mode(engine, case, case.query, t_eval)
        if reason:
            return reason
        return self._at_invariance(engine, case, t_eval)

    @staticmethod
    def _range_mode(engine: Any, case: EvalCase, query: Any, t_eval: int) -> str:
        if case.range_vector or case.string is not None or _RANGE_FN_RE.search(case.query):
            return ""
        try:
            rres = engine.query_range(query, t_eval - 60_000, t_eval + 60_000, 60_000)
        except TsdbError as err:
            return f"range-mode check at {t_eval}: unexpected error: {err}"
        if case.ordered:
            return ""
        reason = range_point_vector_check(case, rres.value, t_eval, t_eval - 60_000, 60_000)
        return f"range-mode check at {t_eval}: {reason}" if reason else ""

    def _at_invariance(self, engine: Any, case: EvalCase, t_eval: int) -> str:
        """Re-run the query with ``@ T`` on every selector at other evaluation times (README 5.3 step 2)."""
        from tsdb.query.parser import parse

        if any(re.search(rf"\b{f}\s*\(", case.query) for f in _NO_AT_FUNCS):
            return ""
        expr = parse(case.query)
        if not dataclasses.is_dataclass(expr):
            return ""  # the rewrite needs dataclass AST nodes
        rewritten = add_at(expr, t_eval)
        times = [-1000, 0, 1000] if t_eval == 0 else [-10 * t_eval, 0, t_eval // 5, t_eval, 10 * t_eval]
        for t in times:
            try:
                res = engine.query_instant(rewritten, t)
            except TsdbError as err:
                if case.fail:
                    continue
                return f"@ invariance at {t}: unexpected error: {err}"
            if case.fail:
                return f"@ invariance at {t}: expected an error"
            reason = compare_result(case, res.value)
            if reason:
                return f"@ invariance at {t}: {reason}"
            if not case.fail:
                reason = self._range_mode(engine, case, rewritten, t)
                if reason:
                    return f"@ invariance: {reason}"
        return ""


_AT_NODES = ("VectorSelector", "SubqueryExpr")


def _selectors(node: Any) -> list[Any]:
    """Every VectorSelector in the AST."""
    out: list[Any] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if type(current).__name__ == "VectorSelector":
            out.append(current)
        else:
            stack.extend(children(current))
    return out


def add_at(node: Any, t_ms: int) -> Any:
    """A copy of the AST with ``@ t`` on every selector and subquery that has no ``@`` yet."""
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        return node
    kind = type(node).__name__
    if kind in _AT_NODES and (getattr(node, "at_ms", None) is not None or getattr(node, "at_modifier", None)):
        return node
    if kind == "SubqueryExpr":  # the selectors inside a subquery that has @ are left alone
        return dataclasses.replace(node, at_ms=t_ms)
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            new = add_at(value, t_ms)
            if new is not value:
                changes[f.name] = new
        elif isinstance(value, list | tuple) and any(dataclasses.is_dataclass(v) for v in value):
            changes[f.name] = type(value)(add_at(v, t_ms) for v in value)
    if kind in _AT_NODES:
        changes["at_ms"] = t_ms
    return dataclasses.replace(node, **changes) if changes else node


def _match_text(how: str, pattern: str, message: str) -> bool:
    if not how:
        return True
    if how == "msg":
        return message.strip() == pattern
    try:
        return re.search(pattern, message) is not None
    except re.error:
        return False


def _check_fail_message(case: EvalCase, message: str) -> str:
    if case.fail_match is None:
        return ""
    how, text = case.fail_match
    if _match_text(how, text, message):
        return ""
    return f"error message {message!r} does not match {how}:{text!r}"


def _check_annotations(case: EvalCase, warnings: Sequence[str], infos: Sequence[str]) -> str:
    for kind, expected, none_allowed, produced in (("warning", case.warn, case.no_warn, warnings),
                                                   ("info", case.info, case.no_info, infos)):
        rendered = [f"PromQL {kind}: {p}" for p in produced]
        if none_allowed and rendered:
            return f"unexpected {kind} annotations: {rendered}"
        if expected is None:
            continue
        if not rendered:
            return f"expected {kind} annotations, got none"
        for how, text in expected:
            if not any(_annotation_matches(how, text, r) for r in rendered):
                return f"no {kind} annotation matches {how}:{text!r}; got {rendered}"
        for r in rendered:
            if not any(_annotation_matches(how, text, r) for how, text in expected):
                return f"{kind} annotation {r!r} not expected"
    return ""


def _annotation_matches(how: str, text: str, rendered: str) -> bool:
    """Match an annotation; when the engine has no position, the expected ``(l:c)`` suffix is ignored."""
    if _match_text(how, text, rendered):
        return True
    if how == "msg":
        return re.sub(r" \(\d+:\d+\)$", "", text) == re.sub(r" \(\d+:\d+\)$", "", rendered.strip())
    if how == "regex":
        return _match_text(how, re.sub(r" ?\\\(\[?\d.*\\\)$", "", text), rendered)
    return False


# -- comparing results ------------------------------------------------------------------------------
def _fmt(v: float) -> str:
    return "stale" if struct.pack("<d", v) == struct.pack("<d", STALE_NAN) else repr(v)


def compare_result(case: EvalCase, value: Value) -> str:
    """Compare a query result with the expectations of ``case``; "" when they match, else the reason."""
    if case.string is not None:
        if not isinstance(value, StringValue):
            return f"expected string, got {type(value).__name__}"
        return "" if value.value == case.string else f"expected string {case.string!r}, got {value.value!r}"
    if case.scalar is not None:
        if not isinstance(value, ScalarValue):
            return f"expected scalar {case.scalar}, got {type(value).__name__}"
        got = float(value.values[0])
        if not almost_equal(case.scalar, got):
            return f"expected scalar {case.scalar}, got {got}"
        return ""
    if isinstance(value, ScalarValue) and not case.instant:  # a range query's scalar is a series {}
        value = VectorValue([Labels()], value.values[None, :].copy(), np.ones((1, len(value.values)), dtype=bool))
    if isinstance(value, ScalarValue | StringValue):
        return f"expected a vector, got {type(value).__name__}"
    if isinstance(value, MatrixValue):
        if case.instant and case.range_vector is None:
            return "expected an instant vector, got a range vector"
        start, end, step = case.range_vector if case.range_vector else (case.start, case.end, case.step)
        return compare_matrix(case, value.labels, value.ts, value.values, start, end, step)
    if case.instant:
        return compare_vector(case, value, 0)
    ts_list: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    steps = np.arange(case.start, case.end + 1, case.step, dtype=np.int64) if case.step else np.array(
        [case.start], dtype=np.int64)
    for i in range(value.num_series):
        mask = value.present[i]
        ts_list.append(steps[mask])
        vals.append(value.values[i][mask])
    return compare_matrix(case, value.labels, ts_list, vals, case.start, case.end, case.step)


def compare_vector(case: EvalCase, value: VectorValue, col: int) -> str:
    got: list[tuple[Labels, float]] = [(value.labels[i], float(value.values[i, col]))
                                       for i in range(value.num_series) if value.present[i, col]]
    expected = case.series
    if len(got) != len(expected) or {g[0] for g in got} != {e.labels for e in expected}:
        exp_set = {e.labels for e in expected}
        got_set = {g[0] for g in got}
        missing = sorted(str(x) for x in exp_set - got_set)
        extra = sorted(str(x) for x in got_set - exp_set)
        return f"series mismatch: missing {missing[:5]}, unexpected {extra[:5]} ({len(got)} got)"
    by_labels = {e.labels: e for e in expected}
    for idx, (labels, v) in enumerate(got):
        exp = by_labels[labels]
        if case.ordered and expected[idx].labels != labels:
            return f"order mismatch at {idx}: expected {expected[idx].labels}, got {labels}"
        if len(exp.slots) != 1 or exp.slots[0].value is None:
            return f"expected series {labels} needs one float value"
        if not almost_equal(exp.slots[0].value, v):
            return f"{labels}: expected {_fmt(exp.slots[0].value)}, got {_fmt(v)}"
    return ""


def compare_matrix(case: EvalCase, labels: list[Labels], ts: list[np.ndarray], values: list[np.ndarray],
                   start: int, end: int, step: int) -> str:
    for i in range(1, len(labels)):
        if not labels[i - 1] < labels[i]:
            return f"matrix not sorted by labels at {labels[i]}"
    got = {labels[i]: (ts[i], values[i]) for i in range(len(labels)) if len(ts[i])}
    exp_set = {e.labels for e in case.series}
    if set(got) != exp_set:
        missing = sorted(str(x) for x in exp_set - set(got))
        extra = sorted(str(x) for x in set(got) - exp_set)
        return f"series mismatch: missing {missing[:5]}, unexpected {extra[:5]}"
    for e in case.series:
        g_ts, g_vals = got[e.labels]
        exp_ts = [start + k * step for k, s in enumerate(e.slots) if s.value is not None or s.histogram]
        exp_vals = [s.value for s in e.slots if s.value is not None or s.histogram]
        if len(exp_ts) != len(g_ts) or any(int(a) != b for a, b in zip(g_ts, exp_ts, strict=False)):
            return f"{e.labels}: expected points at {exp_ts[:12]}, got {[int(x) for x in g_ts[:12]]}"
        for t, a, b in zip(exp_ts, exp_vals, g_vals, strict=True):
            if a is None or not almost_equal(a, float(b)):
                return f"{e.labels} @ {t}: expected {a}, got {_fmt(float(b))}"
    return ""


def range_point_vector_check(case: EvalCase, value: Value, t: int, start: int, step: int) -> str:
    """Take the point at ``t`` of a range-query result and compare it with the instant expectations."""
    col = (t - start) // step
    if isinstance(value, ScalarValue):
        if case.scalar is None:
            return "got a scalar"
        got = float(value.values[col])
        return "" if almost_equal(case.scalar, got) else f"expected scalar {case.scalar}, got {got}"
    if not isinstance(value, VectorValue):
        return f"got {type(value).__name__}"
    if case.scalar is not None:
        return "expected a scalar, got a vector"
    for i in range(1, value.num_series):
        if not value.labels[i - 1] < value.labels[i]:
            return f"matrix not sorted by labels at {value.labels[i]}"
    return compare_vector(case, value, col)


# -- command line -------------------------------------------------------------------------------------
def run_files(paths: Sequence[Path], verbose: bool = False) -> list[CaseResult]:
    """Run every file; returns one result per eval case (or one failed entry per unparsable file)."""
    runner = Runner(verbose)
    for path in paths:
        runner.run_file(path)
    return runner.results


def summary(results: Sequence[CaseResult]) -> str:
    counts = {s: sum(1 for r in results if r.status == s) for s in ("passed", "failed", "skipped")}
    return f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tsdb.query.promqltest", description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--json", action="store_true", help="print one JSON object per eval case")
    parser.add_argument("-v", "--verbose", action="store_true", help="print failing cases with reasons")
    args = parser.parse_args(argv)
    results = run_files(args.files, args.verbose)
    if args.json:
        for r in results:
            print(json.dumps({"file": r.file, "line": r.line, "query": r.query, "status": r.status,
                              "reason": r.reason}))
    run = sum(1 for r in results if r.status != "skipped")
    passed = sum(1 for r in results if r.status == "passed")
    if run:
        print(f"pass rate over cases not skipped (native histograms, experimental syntax): {passed / run:.1%}")
    print(summary(results))
    return 0 if all(r.status != "failed" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
