"""Block directories and their ``meta.json`` (``docs/format/block.md``).

A block directory ``<parent>/<ULID>/`` holds ``meta.json``, ``index`` (v2), ``chunks/000001...`` and
``tombstones``. ``meta.json``'s ``maxTime`` is exclusive (Prometheus's convention); everywhere else in
tsdb ``maxt`` is inclusive, so ``BlockMeta.maxt == max_time - 1``. :func:`list_blocks` lists the block
directories of a parent, ignoring (and optionally removing) leftovers of interrupted writes.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tsdb.errors import CorruptionError, StorageError
from tsdb.storage.fileutil import atomic_write
from tsdb.storage.ulid import is_ulid

__all__ = ["BlockDesc", "BlockMeta", "BlockStats", "list_blocks", "read_meta", "write_meta"]


META_FILENAME = "meta.json"

INDEX_FILENAME = "index"

CHUNKS_DIRNAME = "chunks"

META_VERSION = 1



# -- meta.json ---------------------------------------------------------------------------------------
@dataclass
class BlockStats:
    """Counts of a block (``meta.json`` ``stats``)."""

    num_samples: int = 0
    num_series: int = 0
    num_chunks: int = 0
    num_tombstones: int = 0



@dataclass(frozen=True)
class BlockDesc:
    """A parent block of a compacted block: ULID and time range (``max_time`` exclusive)."""

    ulid: str
    min_time: int
    max_time: int



@dataclass
class BlockMeta:
    """``meta.json``: ULID, ``[min_time, max_time)`` in ms (exclusive end!), stats, compaction info."""

    ulid: str
    min_time: int
    max_time: int
    stats: BlockStats = field(default_factory=BlockStats)
    level: int = 1
    sources: list[str] = field(default_factory=list)
    parents: list[BlockDesc] = field(default_factory=list)
    deletable: bool = False
    failed: bool = False
    hints: list[str] = field(default_factory=list)
    version: int = META_VERSION

    @property
    def mint(self) -> int:
        """First millisecond covered (inclusive)."""
        return self.min_time

    @property
    def maxt(self) -> int:
        """Last millisecond covered (inclusive): ``max_time - 1``."""
        return self.max_time - 1

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, field names and omissions as Prometheus writes them."""
        stats = {k: v for k, v in (("numSamples", self.stats.num_samples), ("numSeries", self.stats.num_series),
                                   ("numChunks", self.stats.num_chunks),
                                   ("numTombstones", self.stats.num_tombstones)) if v}
        compaction: dict[str, Any] = {"level": self.level}
        if self.sources:
            compaction["sources"] = list(self.sources)
        if self.deletable:
            compaction["deletable"] = True
        if self.parents:
            compaction["parents"] = [{"ulid": p.ulid, "minTime": p.min_time, "maxTime": p.max_time}
                                     for p in self.parents]
        if self.failed:
            compaction["failed"] = True
        if self.hints:
            compaction["hints"] = list(self.hints)
        return {"ulid": self.ulid, "minTime": self.min_time, "maxTime": self.max_time, "stats": stats,
                "compaction": compaction, "version": self.version}

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> BlockMeta:
        stats = obj.get("stats") or {}
        comp = obj.get("compaction") or {}
        return cls(
            ulid=str(obj["ulid"]), min_time=int(obj["minTime"]), max_time=int(obj["maxTime"]),
            stats=BlockStats(int(stats.get("numSamples", 0)), int(stats.get("numSeries", 0)),
                             int(stats.get("numChunks", 0)), int(stats.get("numTombstones", 0))),
            level=int(comp.get("level", 1)), sources=[str(s) for s in comp.get("sources") or []],
            parents=[BlockDesc(str(p["ulid"]), int(p["minTime"]), int(p["maxTime"]))
                     for p in comp.get("parents") or []],
            deletable=bool(comp.get("deletable", False)), failed=bool(comp.get("failed", False)),
            hints=[str(h) for h in comp.get("hints") or []], version=int(obj.get("version", META_VERSION)),
        )



def write_meta(block_dir: str | os.PathLike[str], meta: BlockMeta) -> None:
    """Write ``meta.json`` atomically (tmp file, fsync, rename), tab-indented as Prometheus does."""
    atomic_write(Path(block_dir) / META_FILENAME, json.dumps(meta.to_dict(), indent="\t"))



def read_meta(block_dir: str | os.PathLike[str]) -> BlockMeta:
    """Read ``meta.json``; a malformed file raises :class:`CorruptionError` naming it."""
    path = Path(block_dir) / META_FILENAME
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
        meta = BlockMeta.from_dict(obj)
    except FileNotFoundError as err:
        raise StorageError(f"block {block_dir} has no {META_FILENAME}") from err
    except (ValueError, KeyError, TypeError) as err:
        raise CorruptionError(f"malformed {META_FILENAME}: {err}", str(path)) from err
    if meta.version != META_VERSION:
        raise CorruptionError(f"unsupported {META_FILENAME} version {meta.version}", str(path))
    return meta



def _is_leftover(name: str) -> bool:
    """``<ULID>.tmp`` (ours) or Prometheus's ``<ULID>.tmp-for-creation`` / ``.tmp-for-deletion``."""
    stem, dot, suffix = name.partition(".")
    return bool(dot) and is_ulid(stem) and (suffix == "tmp" or suffix.startswith("tmp-for-"))



def list_blocks(parent_dir: str | os.PathLike[str], remove_tmp: bool = False) -> list[Path]:
    """Block directories under ``parent_dir`` (ULID names with a ``meta.json``), in ULID order.

    ``<ULID>.tmp`` directories (an interrupted write or compaction; also Prometheus's
    ``.tmp-for-creation``/``.tmp-for-deletion``) are never listed; with ``remove_tmp`` they are deleted.
    """
    parent = Path(parent_dir)
    if not parent.is_dir():
        return []
    blocks = []
    for entry in parent.iterdir():
        if not entry.is_dir():
            continue
        if _is_leftover(entry.name):
            if remove_tmp:
                shutil.rmtree(entry, ignore_errors=True)
            continue
        if is_ulid(entry.name) and (entry / META_FILENAME).is_file():
            blocks.append(entry)
    return sorted(blocks, key=lambda p: p.name)
