"""The block index file (``writer``, ``reader``: symbols, series, label indices, postings, TOC) and
matcher resolution over any postings source (``postings``: used by the block reader and the head).

Format: docs/format/index.md. May import the storage foundation (crc, encoding, fileutil), tsdb.errors
and tsdb.labels; never wal/, chunks/, head/, block/, compact/, tiers/ or db.
"""
