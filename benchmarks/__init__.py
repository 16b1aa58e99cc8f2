"""Benchmarks: ``python -m benchmarks <name> [options]`` (see ``benchmarks/__main__.py``).

Benchmarks print figures (human lines, or JSON lines with ``--json``); they never assert times.
"""
