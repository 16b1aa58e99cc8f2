"""The PromQL conformance tool: runs Prometheus's ``.test`` scripts against tsdb's engine.

Owns the script format (:mod:`.script`), the runner (:mod:`.runner`, a fresh real store per ``clear``),
the comparison of results, errors and annotations with expectations (:mod:`.compare`) and the CLI
``python -m tsdb.query.promqltest FILES...`` (:mod:`.__main__`).

May import: the rest of ``tsdb.query`` (parser, engine, values), ``tsdb.labels``, ``tsdb.errors``,
``tsdb.config`` and, as the one part of the query layer allowed to, the real storage (``tsdb.storage``)
to load data through the real appender. Nothing in tsdb imports this package.
"""

from tsdb.query.promqltest.compare import almost_equal, compare_result
from tsdb.query.promqltest.runner import CaseResult, Runner, create_store, run_files, summary
from tsdb.query.promqltest.script import (
    EvalCase,
    LoadCommand,
    TestSyntaxError,
    expand_values,
    parse_duration,
    parse_test_file,
    split_series_line,
)

__all__ = [
    "CaseResult", "EvalCase", "LoadCommand", "Runner", "TestSyntaxError", "almost_equal", "compare_result",
    "create_store", "expand_values", "parse_duration", "parse_test_file", "run_files", "split_series_line",
    "summary",
]
