"""tsdb: a time-series database and monitoring system speaking Prometheus's formats and PromQL.

The embedded API: ``db = tsdb.open(path)`` opens (or creates) a data directory; see
:mod:`tsdb.storage.db` for appending and :mod:`tsdb.query` for PromQL over it.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "open"]


def open(path: str, **options: Any) -> Any:
    """Open or create the data directory ``path`` and return its embedded database handle."""
    from tsdb.embedded import open_db

    return open_db(path, **options)
