"""File durability helpers: the one directory fsync and the one atomic file write of the code base.

A file created, renamed or removed is durable only once its directory is fsynced (POSIX); a file
replaced with ``os.replace`` is never seen half-written. Everything that persists state (WAL segments,
checkpoints, chunk segments, index, block meta and tombstones, tier files, rule state) goes through here.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["atomic_write", "fsync_dir"]


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """fsync a directory (or any path opened read-only), making the entries created in it durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)



def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, tmp_name: str | None = None,
                 sync_dir: bool = False) -> int:
    """Write ``data`` to ``path`` atomically: a temporary sibling (``<name>.tmp`` unless ``tmp_name``),
    fsynced, then renamed over ``path``; with ``sync_dir`` the directory is fsynced too. Returns the
    bytes written."""
    path = Path(path)
    tmp = path.with_name(tmp_name if tmp_name is not None else path.name + ".tmp")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with open(tmp, "wb") as f:
        f.write(raw)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    if sync_dir:
        fsync_dir(path.parent)
    return len(raw)
