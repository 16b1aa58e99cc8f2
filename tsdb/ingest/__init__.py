"""Ingest decoders for protocols beyond remote-write (InfluxDB line protocol, Graphite plaintext, OTLP,
StatsD and DogStatsD): request bodies or datagrams in, columnar batches (one :class:`~tsdb.labels.Labels` per
series, int64 ms timestamps, float64 values) and metadata out. The server's front ends (tsdb/server) read
the bodies, apply the write limits and store the result through the shared write path."""
