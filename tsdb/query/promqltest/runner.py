"""Runner for Prometheus's PromQL ``.test`` scripts (the conformance bar of the query engine).

The format is Prometheus's ``promql/promqltest`` script format: ``load`` blocks in series notation,
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

import dataclasses
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tsdb.config import StorageOptions
from tsdb.errors import ParseError, TsdbError
from tsdb.labels import Labels, matches_all
from tsdb.query.engine.engine import Engine
from tsdb.query.parser.nodes import children, selector_matchers
from tsdb.query.parser.parser import parse
from tsdb.query.promqltest.compare import (
    check_annotations,
    check_fail_message,
    compare_result,
    range_point_vector_check,
)
from tsdb.query.promqltest.script import ClearCommand, Command, EvalCase, LoadCommand, TestSyntaxError, parse_test_file
from tsdb.storage.db import DB
from tsdb.storage.interfaces import Appendable, Queryable
from tsdb.storage.memory import MemoryStore

_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_NO_AT_FUNCS = ("days_in_month", "day_of_month", "day_of_week", "day_of_year", "end", "hour", "minute",
                "month", "year", "predict_linear", "range", "start", "step", "time", "timestamp")
_RANGE_FN_RE = re.compile(r"(start|end|range|step)\(\)")
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
            return check_fail_message(case, str(err))
        if case.fail:
            return "expected an error, got a result"
        reason = check_annotations(case, res.warnings, res.infos)
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
