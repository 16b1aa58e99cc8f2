"""Thanos's bucket layout and its ``meta.json`` (docs/object-storage.md, "Layout").

A block is stored as ``<ULID>/chunks/000001...``, ``<ULID>/index``, ``<ULID>/tombstones`` (when the block has
one) and ``<ULID>/meta.json``: Prometheus's meta.json plus a ``thanos`` section (``version`` 1, ``labels``
= the node's external labels, ``downsample.resolution`` 0 for raw data, ``source``, and ``files``: every file
of the block sorted by relative path, with its size except for meta.json). meta.json is written last, so a
block without it is an upload in progress (or an aborted one) and is never read. Tier files go under
``tiers/<resolution>/<mint>-<maxt>.parquet``, as in the data directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tsdb.storage.block.meta import CHUNKS_DIRNAME, INDEX_FILENAME, META_FILENAME, BlockMeta

__all__ = ["SOURCE", "TIERS_PREFIX", "block_files", "bucket_meta", "parse_bucket_meta"]

SOURCE = "sidecar"
"""``thanos.source`` of the blocks tsdb uploads: like a Thanos sidecar, it ships the blocks its node wrote."""
THANOS_META_VERSION = 1
TOMBSTONES_FILENAME = "tombstones"
TIERS_PREFIX = "tiers"


def block_files(block_dir: Path) -> list[str]:
    """The files of a block to upload, relative to it, in upload order: chunk segments, index, tombstones
    (when present). meta.json is not among them: it goes last, after all of these."""
    chunks = sorted(p for p in (block_dir / CHUNKS_DIRNAME).iterdir() if p.is_file() and p.name.isdigit())
    files = [f"{CHUNKS_DIRNAME}/{p.name}" for p in chunks] + [INDEX_FILENAME]
    if (block_dir / TOMBSTONES_FILENAME).is_file():
        files.append(TOMBSTONES_FILENAME)
    return files


def bucket_meta(meta: BlockMeta, sizes: dict[str, int], labels: dict[str, str]) -> bytes:
    """meta.json as stored in the bucket: ``meta`` with the ``thanos`` section for files of ``sizes``."""
    obj: dict[str, Any] = meta.to_dict()
    if not meta.sources:  # Prometheus lists a fresh block as its own source; Thanos relies on it
        obj["compaction"]["sources"] = [meta.ulid]
    files = [{"rel_path": rel, "size_bytes": size} for rel, size in sizes.items()]
    files.append({"rel_path": META_FILENAME})
    obj["thanos"] = {
        "version": THANOS_META_VERSION,
        "labels": dict(labels),
        "downsample": {"resolution": 0},
        "source": SOURCE,
        "segment_files": sorted(rel.rpartition("/")[2] for rel in sizes if rel.startswith(CHUNKS_DIRNAME + "/")),
        "files": sorted(files, key=lambda f: str(f["rel_path"])),
    }
    return json.dumps(obj, indent="\t").encode()


def parse_bucket_meta(data: bytes) -> tuple[BlockMeta, dict[str, Any]]:
    """A stored meta.json: the block meta and its ``thanos`` section ({} when absent). ValueError if bad."""
    obj = json.loads(data)
    if not isinstance(obj, dict):
        raise ValueError("meta.json is not a JSON object")
    try:
        meta = BlockMeta.from_dict(obj)
    except (KeyError, TypeError) as err:
        raise ValueError(f"meta.json: {err}") from err
    thanos = obj.get("thanos") or {}
    return meta, thanos if isinstance(thanos, dict) else {}


def sources_of(meta: BlockMeta) -> frozenset[str]:
    """The level-1 blocks whose data ``meta``'s block holds (itself when it lists none)."""
    return frozenset(meta.sources or [meta.ulid])
