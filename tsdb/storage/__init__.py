"""Storage: WAL, head, XOR chunks, Prometheus-format blocks, compaction, retention, tiers.

Layer 1 of the package: may import tsdb.errors, tsdb.labels, tsdb.config, tsdb._numba (layer 0), never
tsdb.query or anything above. Inside, the stages import one way (enforced by tests/test_house_rules.py):

- foundation (top-level modules): ``crc``/``crc_kernels``, ``encoding`` (varints), ``fileutil`` (fsync,
  atomic writes), ``ulid``, ``dirlock``, ``interfaces`` (the Queryable/Appendable contracts), ``memory``
  (the in-memory model store), ``metadata`` (metric type, help and unit as received), ``limits``
  (series and label limits), ``interrupt`` (the stop flag long maintenance work checks at safe points);
- on-disk formats: ``wal/`` (segments, records, checkpoints), ``chunks/`` (XOR codec, chunk segment
  files), ``index/`` (block index, postings); these import only the foundation;
- ``head/`` (the in-memory head), then ``block/`` (persisted blocks), then ``merge`` (merging querier),
  ``compact/`` (planning and writing blocks), ``tiers/`` (downsampled Parquet tiers) and ``snapshot``
  (hard-linked copies of blocks and tiers, the head written as a block), ``remote/`` (a read view over
  other nodes by remote read, with replica deduplication; it may also import the generated protobuf
  messages of ``tsdb.server.pb``);
- ``db`` ties everything together and is imported by nothing in storage.

The package ``__init__`` files hold docstrings only: import the module you need.
"""
