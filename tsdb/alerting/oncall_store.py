"""SQLite persistence of on-call overrides created at runtime (``<data dir>/alerting/oncall.sqlite``).

Overrides from the config file are not stored here (they are read-only); the ones created over the HTTP
API or the web UI are, so they survive a restart. An override of a schedule that a reload removed stays
stored and applies again when the schedule comes back. One connection guarded by a lock, WAL journal.
"""

from __future__ import annotations

import threading
from pathlib import Path

from tsdb.alerting.oncall import Override
from tsdb.sqlite_store import open_store

SCHEMA = """
CREATE TABLE IF NOT EXISTS overrides (id TEXT PRIMARY KEY, schedule TEXT, user TEXT, start REAL, end REAL,
                                      created_by TEXT, comment TEXT, created_at REAL);
"""


class OverrideStore:
    """Loads, adds and deletes runtime overrides. Thread-safe."""

    def __init__(self, path: Path) -> None:
        self._db = open_store(path, SCHEMA, "on-call override store")
        self.path = path
        self._lock = threading.Lock()

    def load(self) -> dict[str, list[Override]]:
        """Every stored override by schedule name, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT id, schedule, user, start, end, created_by, comment, created_at "
                                    "FROM overrides ORDER BY created_at, id").fetchall()
        out: dict[str, list[Override]] = {}
        for i, schedule, user, start, end, by, comment, at in rows:
            out.setdefault(schedule, []).append(Override(user, start, end, i, True, by, comment, at))
        return out

    def add(self, schedule: str, override: Override) -> None:
        with self._lock:
            self._db.execute("INSERT INTO overrides VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (override.id, schedule, override.user, override.start, override.end,
                              override.created_by, override.comment, override.created_at))

    def delete(self, schedule: str, override_id: str) -> bool:
        """Remove an override; False when ``schedule`` has none with that id."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM overrides WHERE schedule = ? AND id = ?", (schedule, override_id))
        return cursor.rowcount > 0

    def close(self) -> None:
        with self._lock:
            self._db.close()
