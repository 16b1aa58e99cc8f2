"""The shared opening of the data directory's SQLite stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from tsdb.errors import StorageError
from tsdb.sqlite_store import open_store


def test_open_store_creates_the_file_durable_and_shared(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "s.sqlite"
    db = open_store(path, "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY);", "test store")
    try:
        db.execute("INSERT INTO t VALUES ('a')")
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        db.close()
    again = open_store(path, "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY);", "test store")
    try:
        assert again.execute("SELECT k FROM t").fetchall() == [("a",)]
    finally:
        again.close()


def test_open_store_names_the_store_and_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StorageError, match=r"cannot open the test store .*file[/\\]s\.sqlite"):
        open_store(tmp_path / "file" / "s.sqlite", "", "test store")
    (tmp_path / "bad.sqlite").write_bytes(b"this is not an SQLite database" * 100)
    with pytest.raises(StorageError, match="cannot open the test store"):
        open_store(tmp_path / "bad.sqlite", "CREATE TABLE IF NOT EXISTS t (k);", "test store")
