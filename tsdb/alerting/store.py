"""SQLite persistence of the notification log and silences (``<data dir>/alerting/alerting.sqlite``).

The dispatcher's notification log (what each group's receiver was last told, and when) and the silences
survive a restart, so a restart neither sends a burst of duplicate first notifications nor loses the
repeat schedule. The log has one entry per group, receiver and integration (table ``nflog_integrations``);
entries of the older per-receiver table ``nflog`` load with integration key ``""`` (they stand for every
integration of the receiver until it has its own entry). Writes are small transactions in WAL journal mode;
one connection guarded by a lock.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from tsdb.alerting.dispatcher import NflogEntry
from tsdb.alerting.matchers import parse_matchers
from tsdb.alerting.silences import Silence, recurrence_of
from tsdb.sqlite_store import open_store

SCHEMA = """
CREATE TABLE IF NOT EXISTS nflog (group_key TEXT, receiver TEXT, firing TEXT, resolved TEXT, at REAL,
                                  PRIMARY KEY (group_key, receiver));
CREATE TABLE IF NOT EXISTS nflog_integrations (group_key TEXT, receiver TEXT, integration TEXT, firing TEXT,
                                               resolved TEXT, at REAL,
                                               PRIMARY KEY (group_key, receiver, integration));
CREATE TABLE IF NOT EXISTS silences (id TEXT PRIMARY KEY, matchers TEXT, starts_at REAL, ends_at REAL,
                                     created_by TEXT, comment TEXT, updated_at REAL, recurrence TEXT);
"""


class AlertingStore:
    """Loads and saves the notification log and silences. Thread-safe."""

    def __init__(self, path: Path) -> None:
        self._db = open_store(path, SCHEMA, "alerting store")
        self.path = path
        self._lock = threading.Lock()

    def load_nflog(self) -> dict[tuple[str, str, str], NflogEntry]:
        """(group key, receiver, integration key) -> entry."""
        with self._lock:
            old = self._db.execute("SELECT group_key, receiver, '', firing, resolved, at FROM nflog").fetchall()
            rows = self._db.execute("SELECT group_key, receiver, integration, firing, resolved, at "
                                    "FROM nflog_integrations").fetchall()
        return {(g, r, i): NflogEntry(frozenset(json.loads(f)), frozenset(json.loads(x)), at)
                for g, r, i, f, x, at in [*old, *rows]}

    def save_nflog(self, group_key: str, receiver: str, integration: str, entry: NflogEntry) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO nflog_integrations VALUES (?, ?, ?, ?, ?, ?)",
                             (group_key, receiver, integration, json.dumps(sorted(entry.firing)),
                              json.dumps(sorted(entry.resolved)), entry.at))

    def forget_nflog(self, keys: list[tuple[str, str, str]]) -> None:
        """Remove expired notification log entries (group key, receiver, integration key)."""
        with self._lock:
            self._db.executemany("DELETE FROM nflog_integrations WHERE group_key = ? AND receiver = ? "
                                 "AND integration = ?", keys)
            self._db.executemany("DELETE FROM nflog WHERE group_key = ? AND receiver = ?",
                                 [(g, r) for g, r, i in keys if i == ""])

    def load_silences(self) -> list[Silence]:
        with self._lock:
            rows = self._db.execute("SELECT id, matchers, starts_at, ends_at, created_by, comment, updated_at, "
                                    "recurrence FROM silences").fetchall()
        out = []
        for i, m, s, e, c, k, u, r in rows:
            specs, raw = recurrence_of(json.loads(r or "[]"))
            out.append(Silence(i, parse_matchers(m), s, e, c, k, u, specs, raw))
        return out

    def save_silence(self, silence: Silence) -> None:
        text = "{" + ",".join(str(m) for m in silence.matchers) + "}"
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO silences VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (silence.id, text, silence.starts_at, silence.ends_at, silence.created_by,
                              silence.comment, silence.updated_at, json.dumps(silence.recurrence_raw)))

    def close(self) -> None:
        with self._lock:
            self._db.close()
