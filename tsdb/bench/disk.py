"""Disk benchmark: bytes on disk per ingested sample of a data directory."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from tsdb.errors import InvalidArgumentError


@dataclass
class DiskResult:
    """Size of a data directory (apparent file sizes, symlinks not followed) against a sample count.

    ``parts`` breaks the size down by top-level entry (e.g. ``wal``, a block ULID, ``snapshots``);
    ``excluded`` names entries left out of ``bytes`` (e.g. Prometheus snapshots, counted separately).
    """

    path: str
    bytes: int
    samples: int
    parts: dict[str, int] = field(default_factory=dict)
    excluded: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def bytes_per_sample(self) -> float:
        return self.bytes / self.samples if self.samples > 0 else float("nan")


def tree_bytes(path: Path) -> int:
    """Total size of the regular files under ``path`` (0 if it does not exist)."""
    if path.is_symlink():
        return 0
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:  # a file removed by compaction while we walk
                continue
            if not os.path.islink(os.path.join(root, name)):
                total += st.st_size
    return total


def measure(data_dir: str | Path, samples: int, exclude: tuple[str, ...] = (), note: str = "") -> DiskResult:
    """Bytes of ``data_dir`` (minus top-level entries named in ``exclude``) per sample of ``samples``."""
    path = Path(data_dir)
    if not path.is_dir():
        raise InvalidArgumentError(f"data directory {path} does not exist or is not a directory")
    if samples < 0:
        raise InvalidArgumentError(f"sample count must be >= 0, got {samples}")
    parts = {entry.name: tree_bytes(entry) for entry in sorted(path.iterdir())}
    total = sum(size for name, size in parts.items() if name not in exclude)
    return DiskResult(str(path), total, samples, parts, [e for e in exclude if e in parts], note)
