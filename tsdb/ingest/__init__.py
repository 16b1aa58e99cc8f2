"""Ingest decoders for other protocols (OTLP, ...): request bodies -> labelled samples for an Appender.

Each module turns one protocol's requests into columnar samples and metadata; the server front ends
(tsdb/server) read the bodies, apply the write limits and store the result through the shared write path.
"""
