"""``python -m benchmarks anomaly``: the anomaly functions measured on a labelled data set.

See :mod:`benchmarks.anomaly.evaluate` for the method and options.
"""

from __future__ import annotations

from benchmarks.anomaly.evaluate import main

__all__ = ["main"]
