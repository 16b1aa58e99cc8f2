"""Dispatch ``python -m benchmarks <name> [args...]`` to ``benchmarks.<module>.main(argv)``.

Register a benchmark in ``COMMANDS`` (name -> module). A name not registered but matching a module
``benchmarks/<name>.py`` with a ``main(argv)`` runs too.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

COMMANDS: dict[str, str] = {
    "codec": "benchmarks.codec",
    "storage": "benchmarks.storage",
    "storage_append": "benchmarks.storage_append",
    "query": "benchmarks.query",
    "dashboard": "benchmarks.dashboard",
    "alerts_page": "benchmarks.alerts_page",
    "ingest_under_queries": "benchmarks.ingest_under_queries",
    "shutdown": "benchmarks.shutdown",
    "statsd": "benchmarks.statsd",
    "soak": "benchmarks.soak",
    "ha": "benchmarks.ha",
}


def main(argv: list[str]) -> int:
    """Run the benchmark named by ``argv[0]`` with the remaining arguments; return its exit code."""
    if not argv or argv[0] in {"-h", "--help"}:
        print("usage: python -m benchmarks <name> [args...]\nbenchmarks: " + ", ".join(sorted(COMMANDS)))
        return 0 if argv else 2
    name = argv[0]
    module_name = COMMANDS.get(name, f"benchmarks.{name}")
    if importlib.util.find_spec(module_name) is None:
        print(f"unknown benchmark {name!r}; known: {', '.join(sorted(COMMANDS))}", file=sys.stderr)
        return 2
    module = importlib.import_module(module_name)
    result = module.main(argv[1:])
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
