"""Chunks: the XOR (Gorilla) sample codec (``xor`` over ``xor_kernels``) and the chunk segment files of
a block (``segments``: ``<block>/chunks/000001``, ...).

Formats: docs/format/xor-chunk.md, docs/format/block.md. May import the storage foundation (crc,
encoding, fileutil) and tsdb.errors; never wal/, index/, head/, block/, compact/, tiers/ or db.
"""
