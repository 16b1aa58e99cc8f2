"""Opening the small SQLite stores kept in the data directory (dashboards, silences, escalations, on-call)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tsdb.errors import StorageError


def open_store(path: Path, schema: str, what: str) -> sqlite3.Connection:
    """A connection to the SQLite file ``path`` (created with its directory when missing) in WAL mode with
    ``synchronous=FULL`` (a write is on disk before it is answered), usable from any thread, in autocommit
    mode, with ``schema`` applied. StorageError naming ``what`` and the file when it cannot be opened."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(schema)
    except (OSError, sqlite3.Error) as err:
        raise StorageError(f"cannot open the {what} {path}: {err}") from err
    return db
