"""The ``.test`` script format: durations, numbers, series notation, ``load``/``clear``/``eval`` commands.

Prometheus's ``promql/promqltest`` script format; :func:`parse_test_file` turns a file into commands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tsdb.errors import TsdbError
from tsdb.labels import Labels
from tsdb.storage.interfaces import STALE_NAN
from tsdb.timefmt import try_parse_duration

_INSTANT_HEADER = re.compile(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")
_RANGE_HEADER = re.compile(r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$")
_EXPECT = re.compile(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$")
_EXPECT_RANGE = re.compile(r"^expect\s+range\s+vector\s+from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)$")
_EXPECT_STRING = re.compile(r"^expect\s+string\s+(.+)$")
_NUMBER = re.compile(r"^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)$", re.IGNORECASE)
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
class TestSyntaxError(TsdbError, ValueError):
    """A ``.test`` file is malformed; the message names the file and line."""

# -- durations and numbers -------------------------------------------------------------------------
def parse_duration(text: str) -> int:
    """A Prometheus duration (``0``, ``1m30s``, ``20s500ms``) in milliseconds."""
    ms = try_parse_duration(text)
    if ms is None:
        raise TestSyntaxError(f"invalid duration {text!r}")
    return ms


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
