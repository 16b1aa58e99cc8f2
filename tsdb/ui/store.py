"""Dashboards saved through the API, with their version history, in one SQLite file
(``<data-dir>/ui/dashboards.sqlite``, WAL mode). One connection guarded by a lock: callers may use it from
any thread. Every write is committed before the call returns.

Saving uses optimistic concurrency: a save names the version it was based on (``dashboard.version``); when
the stored version moved on, or the uid is taken and the save names no version, it raises
:class:`DashboardConflictError` unless ``overwrite``. Timestamps are RFC 3339 UTC strings."""

from __future__ import annotations

import copy
import difflib
import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tsdb.errors import DashboardConflictError, DashboardNotFoundError
from tsdb.sqlite_store import open_store
from tsdb.ui.model import normalise

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dashboards (
    uid TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    tags TEXT NOT NULL,
    version INTEGER NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    uid TEXT NOT NULL,
    version INTEGER NOT NULL,
    created TEXT NOT NULL,
    message TEXT NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (uid, version)
);
"""


def now_rfc3339() -> str:
    """The current time as RFC 3339 UTC with milliseconds."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def pretty(dashboard: dict[str, Any]) -> str:
    """The canonical text of a dashboard for diffs: sorted keys, two-space indent."""
    return json.dumps(dashboard, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _changes(old: Any, new: Any, path: str, out: list[dict[str, Any]]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in new:
                out.append({"path": sub, "op": "remove", "old": old[key], "new": None})
            elif key not in old:
                out.append({"path": sub, "op": "add", "old": None, "new": new[key]})
            else:
                _changes(old[key], new[key], sub, out)
    elif isinstance(old, list) and isinstance(new, list):
        for i in range(max(len(old), len(new))):
            sub = f"{path}[{i}]"
            if i >= len(new):
                out.append({"path": sub, "op": "remove", "old": old[i], "new": None})
            elif i >= len(old):
                out.append({"path": sub, "op": "add", "old": None, "new": new[i]})
            else:
                _changes(old[i], new[i], sub, out)
    elif old != new or type(old) is not type(new):
        out.append({"path": path, "op": "replace", "old": old, "new": new})


def diff(old: dict[str, Any], new: dict[str, Any], old_name: str, new_name: str) -> dict[str, Any]:
    """``{diff, changes}``: a unified diff of the pretty JSON texts and the structural changes
    (``{path, op: add|remove|replace, old, new}``, paths like ``panels[2].title``)."""
    text = "".join(difflib.unified_diff(pretty(old).splitlines(keepends=True), pretty(new).splitlines(keepends=True),
                                        old_name, new_name))
    changes: list[dict[str, Any]] = []
    _changes(old, new, "", changes)
    return {"diff": text, "changes": changes}


class DashboardStore:
    """The SQLite store; :meth:`close` when done."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = open_store(self.path, _SCHEMA, "dashboard store")
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _row(self, uid: str) -> tuple[str, str, int, str, str] | None:
        row = self._db.execute("SELECT title, tags, version, created, updated FROM dashboards WHERE uid = ?",
                               (uid,)).fetchone()
        return None if row is None else (row[0], row[1], int(row[2]), row[3], row[4])

    def exists(self, uid: str) -> bool:
        with self._lock:
            return self._row(uid) is not None

    def save(self, dashboard: dict[str, Any], message: str = "", overwrite: bool = False) -> dict[str, Any]:
        """Create a dashboard or save a new version of it; returns the stored model (with ``version``).
        Raises DashboardError (bad model) or DashboardConflictError (see the module docstring)."""
        model = normalise(dashboard)
        uid = model["uid"]
        based_on = model.pop("version", None)
        with self._lock:
            row = self._row(uid)
            stamp = now_rfc3339()
            if row is None:
                version, created = 1, stamp
            else:
                stored = row[2]
                if not overwrite and based_on is None:
                    raise DashboardConflictError(f"uid {uid!r}: a dashboard with this uid already exists "
                                                 f"(version {stored}); save with its version or overwrite")
                if not overwrite and based_on != stored:
                    raise DashboardConflictError(f"dashboard.version: {based_on} is not the stored version "
                                                 f"{stored} of {uid!r} (someone else saved it meanwhile)")
                version, created = stored + 1, row[3]
            model["version"] = version
            text = json.dumps(model, ensure_ascii=False)
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("INSERT OR REPLACE INTO dashboards VALUES (?, ?, ?, ?, ?, ?)",
                                 (uid, model["title"], json.dumps(model["tags"]), version, created, stamp))
                self._db.execute("INSERT OR REPLACE INTO versions VALUES (?, ?, ?, ?, ?)",
                                 (uid, version, stamp, message, text))
        return model

    def delete(self, uid: str) -> None:
        """Remove a dashboard and its whole history."""
        with self._lock:
            if self._row(uid) is None:
                raise DashboardNotFoundError(f"no dashboard with uid {uid!r}")
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("DELETE FROM dashboards WHERE uid = ?", (uid,))
                self._db.execute("DELETE FROM versions WHERE uid = ?", (uid,))

    def search(self, query: str = "", tags: Sequence[str] = ()) -> list[dict[str, Any]]:
        """``[{uid, title, tags, version, created, updated}]`` whose title contains ``query``
        (case-insensitive) and that carry every tag in ``tags``, sorted by title."""
        with self._lock:
            rows = self._db.execute("SELECT uid, title, tags, version, created, updated FROM dashboards").fetchall()
        out = []
        needle = query.casefold()
        for uid, title, tag_text, version, created, updated in rows:
            item_tags = json.loads(tag_text)
            if needle in title.casefold() and all(t in item_tags for t in tags):
                out.append({"uid": uid, "title": title, "tags": item_tags, "version": int(version),
                            "created": created, "updated": updated})
        return sorted(out, key=lambda item: (item["title"].casefold(), item["uid"]))

    def get(self, uid: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(model, ``{version, created, updated}``) of the current version."""
        with self._lock:
            row = self._row(uid)
            if row is None:
                raise DashboardNotFoundError(f"no dashboard with uid {uid!r}")
            text = self._db.execute("SELECT json FROM versions WHERE uid = ? AND version = ?",
                                    (uid, row[2])).fetchone()[0]
        return json.loads(text), {"version": row[2], "created": row[3], "updated": row[4]}

    def versions(self, uid: str) -> list[dict[str, Any]]:
        """``[{version, created, message}]``, newest first."""
        with self._lock:
            if self._row(uid) is None:
                raise DashboardNotFoundError(f"no dashboard with uid {uid!r}")
            rows = self._db.execute("SELECT version, created, message FROM versions WHERE uid = ? "
                                    "ORDER BY version DESC", (uid,)).fetchall()
        return [{"version": int(v), "created": c, "message": m} for v, c, m in rows]

    def version(self, uid: str, version: int) -> dict[str, Any]:
        """``{dashboard, version, created, message}`` of one version."""
        with self._lock:
            row = self._db.execute("SELECT created, message, json FROM versions WHERE uid = ? AND version = ?",
                                   (uid, version)).fetchone()
        if row is None:
            raise DashboardNotFoundError(f"dashboard {uid!r} has no version {version}")
        return {"dashboard": json.loads(row[2]), "version": version, "created": row[0], "message": row[1]}

    def diff(self, uid: str, old: int, new: int) -> dict[str, Any]:
        """``{from, to, diff, changes}`` between two versions (see :func:`diff`)."""
        a, b = self.version(uid, old)["dashboard"], self.version(uid, new)["dashboard"]
        return {"from": old, "to": new, **diff(a, b, f"{uid} version {old}", f"{uid} version {new}")}

    def restore(self, uid: str, version: int, message: str = "") -> dict[str, Any]:
        """Save version ``version`` again as the newest version; returns the stored model."""
        model = copy.deepcopy(self.version(uid, version)["dashboard"])
        model.pop("version", None)
        return self.save(model, message or f"restored version {version}", overwrite=True)
