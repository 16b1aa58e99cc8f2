"""Serving: the composition root, gRPC, the Prometheus HTTP API, remote-write."""
