"""Ingest decoders for protocols beyond remote-write (InfluxDB line protocol, Graphite plaintext): bytes in,
columnar batches (one :class:`~tsdb.labels.Labels` per series, int64 ms timestamps, float64 values) out.
The server's front ends append those batches through the storage Appender."""
