"""Reference decoding of a remote-write WriteRequest with the official protobuf library."""

from __future__ import annotations

import numpy as np

from tsdb.server.pb.tsdb.v1 import remote_pb2


def decode(payload: bytes) -> list[tuple[list[tuple[str, str]], list[int], list[int]]]:
    """Per series: label pairs in wire order, timestamps, value bits (uint64)."""
    request = remote_pb2.WriteRequest()
    request.ParseFromString(payload)
    out = []
    for series in request.timeseries:
        pairs = [(label.name, label.value) for label in series.labels]
        ts = [s.timestamp for s in series.samples]
        bits = np.array([s.value for s in series.samples], dtype=np.float64).view(np.uint64).tolist()
        out.append((pairs, ts, bits))
    return out
