"""Bytes per sample of a data directory."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tsdb.bench.disk import measure, tree_bytes
from tsdb.errors import InvalidArgumentError


def test_measure_counts_files_and_exclusions(tmp_path: Path) -> None:
    (tmp_path / "wal").mkdir()
    (tmp_path / "wal" / "000001").write_bytes(b"x" * 100)
    (tmp_path / "snapshots").mkdir()
    (tmp_path / "snapshots" / "a").write_bytes(b"y" * 50)
    (tmp_path / "lock").write_bytes(b"z" * 10)
    (tmp_path / "link").symlink_to(tmp_path / "lock")
    result = measure(tmp_path, 20, exclude=("snapshots", "absent"))
    assert result.bytes == 110 and result.bytes_per_sample == 5.5
    assert result.parts["snapshots"] == 50 and result.excluded == ["snapshots"]
    assert tree_bytes(tmp_path / "snapshots" / "a") == 50 and tree_bytes(tmp_path / "nothing") == 0
    assert math.isnan(measure(tmp_path, 0).bytes_per_sample)


def test_measure_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        measure(tmp_path / "missing", 1)
    with pytest.raises(InvalidArgumentError, match=">= 0"):
        measure(tmp_path, -1)
