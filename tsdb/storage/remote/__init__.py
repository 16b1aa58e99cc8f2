"""A read view over other nodes: remote-read client, fan-out querier, replica deduplication."""
