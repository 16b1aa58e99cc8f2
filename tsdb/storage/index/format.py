"""Constants of the block index file format v2 (``docs/format/index.md``), shared by writer and reader."""

from __future__ import annotations

__all__ = ["INDEX_FORMAT_V2", "INDEX_MAGIC", "SERIES_ALIGN", "TOC_LEN"]

INDEX_MAGIC = 0xBAAAD700
INDEX_FORMAT_V2 = 2
SERIES_ALIGN = 16
TOC_LEN = 6 * 8 + 4
