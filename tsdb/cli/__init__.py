"""The ``tsdb`` command line and its interactive tools.

Owns: argument parsing and dispatch of every subcommand (:mod:`tsdb.cli.main`, the ``tsdb`` console
script and ``python -m tsdb.cli``), the PromQL shell (:mod:`tsdb.cli.repl`), where ``tsdb query`` and the
shell get results from (:mod:`tsdb.cli.sources`: an HTTP server or a data directory) and how results are
printed (:mod:`tsdb.cli.output`: table, CSV, JSON, sparklines).

May import: every other part of the package (it is the top layer, beside ``tsdb.server``), preferably
inside the subcommand that needs it so ``tsdb --help`` stays fast. Nothing in ``tsdb`` imports it except
``tsdb.cli`` itself.
"""
