"""The data directory lock: a second opener (another process) gets a clear error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tsdb.errors import DataDirLockedError, StorageError
from tsdb.storage.dirlock import DirLock


def test_second_process_is_refused_and_lock_released(tmp_path: Path) -> None:
    lock = DirLock(tmp_path)
    code = ("import sys\nfrom tsdb.storage.dirlock import DirLock\n"
            "try:\n    DirLock(sys.argv[1])\nexcept Exception as e:\n    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("DataDirLockedError")
    assert "already in use" in out.stdout and "pid" in out.stdout
    lock.release()
    lock.release()
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout == ""


def test_same_process_second_lock_also_refused(tmp_path: Path) -> None:
    lock = DirLock(tmp_path)
    with pytest.raises(DataDirLockedError):
        DirLock(tmp_path)
    lock.release()


def test_unwritable_directory(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot create lock file"):
        DirLock(tmp_path / "missing" / "dir")
