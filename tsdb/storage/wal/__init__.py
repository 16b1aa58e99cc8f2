"""The write-ahead log: segment files and their pages (``writer``, ``reader``, ``repair``), the record
types logged in them (``records`` over ``records_kernels``) and checkpoints plus replay (``checkpoint``).

Owns ``<data dir>/wal/`` (format: docs/format/wal.md). May import the storage foundation (crc, encoding,
fileutil), tsdb.errors and tsdb.labels; never head/, block/, compact/, tiers/ or db: the head is fed by
replay through callables, not by importing it.
"""
