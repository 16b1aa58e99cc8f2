"""The interactive PromQL shell (``tsdb repl``).

A prompt_toolkit session with history, completion (functions, keywords, metric and label names from
the source), multi-line input (a query continues while brackets are open or the line ends with ``\\``)
and dot-commands. :class:`Shell` holds the state and turns one complete input into output text, so it
is tested without a terminal; :func:`run` wires it to the terminal.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, InMemoryHistory

from tsdb.cli.output import render
from tsdb.cli.sources import QuerySource
from tsdb.errors import TsdbError
from tsdb.timefmt import DURATION_UNITS_MS

AGGREGATIONS = ("sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk",
                "topk", "quantile", "limitk", "limit_ratio")
KEYWORDS = ("by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or",
            "unless", "atan2")
HELP = """\
Type a PromQL expression and press Enter (it continues on the next line while brackets are open).
  .at TIME             evaluate instant queries at TIME (now, -1h, RFC 3339, or Unix seconds)
  .range START END STEP  evaluate as range queries, e.g. .range -1h now 1m
  .instant             back to instant queries at the current time
  .output table|json|csv
  .labels [NAME]       list label names, or the values of label NAME
  .help                this text
  .quit                leave (Ctrl-D works too)"""

_RELATIVE = re.compile(r"^-(\d+)(ms|s|m|h|d|w|y)$")


def function_names() -> list[str]:
    """PromQL function names from the parser's table (empty if unavailable)."""
    try:
        from tsdb.query.functions.table import FUNCTIONS
    except ImportError:  # pragma: no cover - the table ships with the package
        return []
    return sorted(FUNCTIONS)


def parse_when(text: str, now_ms: int) -> int:
    """``now``, ``-15m``, RFC 3339 or Unix seconds -> ms."""
    from tsdb.server.params import parse_time

    if text == "now":
        return now_ms
    match = _RELATIVE.match(text)
    if match:
        return now_ms - int(match.group(1)) * DURATION_UNITS_MS[match.group(2)]
    return parse_time(text, "time")


def is_complete(text: str) -> bool:
    """True when brackets are balanced outside strings and the text does not end with a backslash."""
    if text.rstrip().endswith("\\"):
        return False
    depth = 0
    quote = ""
    escaped = False
    for ch in text:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
    return depth <= 0 and not quote


@dataclass
class Shell:
    """REPL state: evaluation mode and output format."""

    source: QuerySource
    output: str = "table"
    at: str | None = None
    range_args: tuple[str, str, str] | None = None
    clock: object = field(default=time.time)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)  # type: ignore[operator]

    def handle(self, text: str) -> str:
        """Run one complete input (query or dot-command); returns what to print."""
        text = text.strip().replace("\\\n", "\n")
        if not text:
            return ""
        if text.startswith("."):
            return self._command(text)
        try:
            now = self.now_ms()
            if self.range_args:
                start, end, step = self.range_args
                from tsdb.server.params import parse_duration

                result = self.source.range(text, parse_when(start, now), parse_when(end, now),
                                           parse_duration(step, "step"))
            else:
                result = self.source.instant(text, parse_when(self.at, now) if self.at else now)
        except TsdbError as err:
            return f"error: {err}"
        return render(result, self.output)

    def _command(self, text: str) -> str:
        parts = text.split()
        name, args = parts[0], parts[1:]
        if name == ".help":
            return HELP
        if name == ".at" and len(args) == 1:
            self.at, self.range_args = args[0], None
            return f"instant queries at {args[0]}"
        if name == ".range" and len(args) == 3:
            try:
                parse_when(args[0], 0)
                parse_when(args[1], 0)
            except TsdbError as err:
                return f"error: {err}"
            self.range_args = (args[0], args[1], args[2])
            return f"range queries from {args[0]} to {args[1]} every {args[2]}"
        if name == ".instant" and not args:
            self.at, self.range_args = None, None
            return "instant queries at the current time"
        if name == ".output" and len(args) == 1 and args[0] in ("table", "json", "csv"):
            self.output = args[0]
            return f"output: {args[0]}"
        if name == ".labels":
            try:
                values = self.source.label_values(args[0]) if args else self.source.label_names()
            except TsdbError as err:
                return f"error: {err}"
            return "\n".join(values) if values else "(none)"
        if name in (".quit", ".exit"):
            raise EOFError
        return f"error: unknown or malformed command {text!r}; try .help"


class PromqlCompleter(Completer):
    """Completes functions and keywords, metric names, and label names inside ``{...}`` or ``by (...)``."""

    def __init__(self, source: QuerySource) -> None:
        self.source = source
        self._metrics: list[str] | None = None
        self._labels: list[str] | None = None

    def _cached(self) -> tuple[list[str], list[str]]:
        if self._metrics is None or self._labels is None:
            try:
                self._metrics = self.source.label_values("__name__")
                self._labels = self.source.label_names()
            except TsdbError:
                self._metrics, self._labels = [], []
        return self._metrics, self._labels

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        before = document.text_before_cursor
        word = re.search(r"[A-Za-z_:][A-Za-z0-9_:]*$", before)
        prefix = word.group(0) if word else ""
        if not prefix:
            return
        metrics, labels = self._cached()
        in_braces = before.rfind("{") > before.rfind("}")
        in_grouping = re.search(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*$", before)
        if in_braces or in_grouping:
            candidates: Iterable[str] = labels
        else:
            candidates = [*function_names(), *AGGREGATIONS, *KEYWORDS, *metrics]
        for candidate in sorted(set(candidates)):
            if candidate.startswith(prefix) and candidate != prefix:
                yield Completion(candidate, start_position=-len(prefix))


def run(source: QuerySource, history_path: str | None = None) -> int:
    """The interactive loop on the terminal; returns the exit code."""
    path = history_path or os.path.join(Path.home(), ".tsdb_history")
    try:
        history: FileHistory | InMemoryHistory = FileHistory(path)
    except OSError:
        history = InMemoryHistory()
    shell = Shell(source)
    session: PromptSession[str] = PromptSession(history=history, completer=PromqlCompleter(source))
    print("tsdb PromQL shell. .help for commands, Ctrl-D to leave.")
    while True:
        try:
            text = session.prompt("promql> ")
            while not is_complete(text):
                text += "\n" + session.prompt("   ...> ")
            output = shell.handle(text)
        except KeyboardInterrupt:
            continue
        except EOFError:
            return 0
        if output:
            print(output)
