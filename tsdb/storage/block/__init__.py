"""Persisted blocks (``<data dir>/<ULID>/``): ``meta`` (meta.json, listing block directories),
``writer`` (writing a block atomically), ``reader`` (:class:`Block`: an open block and deletion),
``querier`` (reading series of a block), ``tombstones`` (the tombstones file).

Format: docs/format/block.md. May import chunks/, index/, the head kernels (the shared sorted-merge
kernel), interfaces and the foundation; never wal/, head state, compact/, tiers/ or db.
"""
