"""Storage: WAL, head, XOR chunks, Prometheus-format blocks, compaction, retention, tiers."""
