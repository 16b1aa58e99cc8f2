"""Pre-encoded remote-write traffic: the workload cut into requests per sender, per epoch, before timing.

A :class:`Plan` holds, for each of K senders, a list of epochs, each a list of :class:`Request`.
Series are sharded across senders (series ``i`` goes to sender ``i % K``), so every series is sent by one
sender in time order; all senders finish an epoch (a window of scrape slots) before any starts the next,
so no target sees one series run far ahead of another (Prometheus rejects samples older than its head's
newest minus one hour).

Two shapes:

* ``queue``: like a Prometheus remote-write queue: up to ``samples_per_request`` samples per request,
  at most one sample per series per request, scrape slot by scrape slot.
* ``backfill``: many samples per series: every series' samples of the epoch in one time series entry,
  as many series per request as fit in ``samples_per_request``.

The protobuf encoding is done here with numpy (fixed-width rows of sample bytes) plus one ``join`` per
request, about ten times faster than building protobuf objects per sample; it produces the same
``WriteRequest`` (except that zero values and timestamps are written explicitly, which decoders accept).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from tsdb.bench.workload import Workload, generate
from tsdb.errors import InvalidArgumentError
from tsdb.labels import Labels
from tsdb.server.remote_write import compress_snappy

SHAPES = ("queue", "backfill")


def generate_workload(num_series: int, duration_ms: int, seed: int = 0, end_ms: int | None = None) -> Workload:
    """A :class:`tsdb.bench.workload.Workload` (node-exporter-like, 15 s interval, ending near ``end_ms``)."""
    return generate(num_series, duration_ms, seed=seed, end_ms=end_ms)


@dataclass(frozen=True)
class Request:
    """One remote-write request: ``payload`` is the protobuf (empty if not kept), ``body`` its snappy block
    compression."""

    payload: bytes
    body: bytes
    samples: int


@dataclass
class Plan:
    """Pre-encoded requests: ``senders[k][epoch]`` is the request list of sender k in that epoch."""

    shape: str
    senders: list[list[list[Request]]]
    num_series: int
    num_samples: int
    mint: int
    maxt: int
    encode_seconds: float = 0.0
    extra_labels: dict[str, str] = field(default_factory=dict)
    has_payloads: bool = True

    @property
    def num_requests(self) -> int:
        return sum(len(epoch) for sender in self.senders for epoch in sender)

    @property
    def wire_bytes(self) -> int:
        return sum(len(r.body) for sender in self.senders for epoch in sender for r in epoch)


def uvarint(n: int) -> bytes:
    """Protobuf base-128 varint of a non-negative int (negative int64 as its 64-bit two's complement)."""
    n &= (1 << 64) - 1
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = 1 << 14
_SMALL_VARINTS = [uvarint(i) for i in range(_SMALL)]


def encode_samples(ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> tuple[bytes, list[int]]:
    """Protobuf ``Sample`` messages (value field 1, timestamp field 2) of every sample, concatenated.

    Returns the bytes and the start offset of each message (plus the end), computed with numpy only.
    """
    n = int(ts.shape[0])
    rows = np.zeros((n, 20), dtype=np.uint8)
    rows[:, 0] = 0x09  # field 1, 64-bit
    rows[:, 1:9] = np.ascontiguousarray(values, dtype="<f8").view(np.uint8).reshape(n, 8)
    rows[:, 9] = 0x10  # field 2, varint
    u = np.ascontiguousarray(ts, dtype=np.int64).view(np.uint64)
    lens = np.ones(n, dtype=np.int64)
    for k in range(10):
        rest = u >> np.uint64(7 * (k + 1))
        more = rest != 0
        byte = (u >> np.uint64(7 * k)) & np.uint64(0x7F)
        rows[:, 10 + k] = (byte | (more.astype(np.uint64) << np.uint64(7))).astype(np.uint8)
        lens += more if k < 9 else 0
    widths = 10 + lens
    keep = np.arange(20)[None, :] < widths[:, None]
    data = rows[keep].tobytes()
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(widths, out=starts[1:])
    return data, starts.tolist()


def label_fields(labels: Labels) -> bytes:
    """The encoded ``labels`` fields (field 1 of ``TimeSeries``) of one series, in name order."""
    parts = []
    for name, value in sorted(labels.items()):
        nb, vb = name.encode(), value.encode()
        label = b"\x0a" + uvarint(len(nb)) + nb + b"\x12" + uvarint(len(vb)) + vb
        parts.append(b"\x0a" + uvarint(len(label)) + label)
    return b"".join(parts)


def encode_entries(series_fields: Sequence[bytes], entries: Sequence[tuple[int, int, int]],
                   ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> bytes:
    """An uncompressed ``WriteRequest`` of ``entries``: (series, first global sample index, count) each.

    ``series_fields[series]`` are the series' encoded label fields; samples come from ``ts``/``values``.
    """
    firsts = np.fromiter((e[1] for e in entries), dtype=np.int64, count=len(entries))
    counts = np.fromiter((e[2] for e in entries), dtype=np.int64, count=len(entries))
    begins = np.cumsum(counts) - counts  # position of each entry's first sample in the request
    index = np.repeat(firsts - begins, counts) + np.arange(int(counts.sum()), dtype=np.int64)
    data, starts = encode_samples(ts[index], values[index])
    small = _SMALL_VARINTS
    out = []
    pos = 0
    for series, _, count in entries:
        fields = series_fields[series]
        if count == 1:  # the queue shape's hot path: one sample per time series entry
            sample = data[starts[pos]:starts[pos + 1]]
            size = len(fields) + 2 + len(sample)
            out.append(b"".join((b"\x0a", small[size] if size < _SMALL else uvarint(size), fields, b"\x12",
                                 small[len(sample)], sample)))
            pos += 1
            continue
        body = [fields]
        for j in range(pos, pos + count):
            sample = data[starts[j]:starts[j + 1]]
            body.append(b"\x12" + small[len(sample)] + sample)
        pos += count
        ts_msg = b"".join(body)
        out.append(b"\x0a" + uvarint(len(ts_msg)) + ts_msg)
    return b"".join(out)


def plan_requests(workload: Any, senders: int = 4, shape: str = "queue", samples_per_request: int = 2000,
                  epoch_slots: int = 40, extra_labels: dict[str, str] | None = None,
                  progress: Callable[[int], None] | None = None, keep_payloads: bool = True) -> Plan:
    """Cut ``workload`` into pre-encoded requests for ``senders`` concurrent senders.

    Every series must have the same number of samples (the generator guarantees it). ``extra_labels`` are
    added to every series (to send the same workload again as distinct series). ``progress`` is called
    with the number of samples encoded so far after each request. ``keep_payloads=False`` keeps only the
    compressed bodies (HTTP needs nothing else; gRPC sends the uncompressed payloads), halving the memory.
    """
    import time

    if shape not in SHAPES:
        raise InvalidArgumentError(f"unknown request shape {shape!r}; expected one of {', '.join(SHAPES)}")
    if senders < 1 or samples_per_request < 1 or epoch_slots < 1:
        raise InvalidArgumentError(f"need senders, samples_per_request and epoch_slots >= 1; got {senders}, "
                                   f"{samples_per_request}, {epoch_slots}")
    started = time.perf_counter()
    offsets = np.asarray(workload.offsets, dtype=np.int64)
    counts = np.diff(offsets)
    S = int(counts.shape[0])
    n = int(counts[0]) if S else 0
    if S and not np.all(counts == n):
        raise InvalidArgumentError("workload series have different sample counts; cannot cut time slots")
    extra = dict(extra_labels or {})
    fields = [label_fields(lb.with_labels(extra) if extra else lb) for lb in workload.labels]
    ts, values = workload.ts, workload.values
    out: list[list[list[Request]]] = []
    done = 0
    for k in range(senders):
        shard = np.arange(k, S, senders, dtype=np.int64)
        epochs: list[list[Request]] = []
        for a in range(0, max(n, 1), epoch_slots):
            b = min(n, a + epoch_slots)
            reqs: list[Request] = []
            for entries in _cut(shard, offsets, a, b, shape, samples_per_request):
                payload = encode_entries(fields, entries, ts, values)
                count = sum(e[2] for e in entries)
                reqs.append(Request(payload if keep_payloads else b"", compress_snappy(payload), count))
                done += count
                if progress is not None:
                    progress(done)
            epochs.append(reqs)
        out.append(epochs)
    return Plan(shape=shape, senders=out, num_series=S, num_samples=int(ts.shape[0]),
                mint=int(ts.min()) if ts.shape[0] else 0, maxt=int(ts.max()) if ts.shape[0] else 0,
                encode_seconds=time.perf_counter() - started, extra_labels=extra, has_payloads=keep_payloads)


def _cut(shard: npt.NDArray[np.int64], offsets: npt.NDArray[np.int64], a: int, b: int, shape: str,
         samples_per_request: int) -> list[list[tuple[int, int, int]]]:
    """Entries (series, first sample, count) of each request of one sender's epoch (slots a..b-1)."""
    m = int(shard.shape[0])
    if m == 0 or b <= a:
        return []
    starts = offsets[shard].tolist()
    series = shard.tolist()
    requests: list[list[tuple[int, int, int]]] = []
    if shape == "queue":
        per = min(samples_per_request, m)  # at most one sample per series per request
        flat = [(series[i], starts[i] + slot, 1) for slot in range(a, b) for i in range(m)]
        requests = [flat[i:i + per] for i in range(0, len(flat), per)]
    else:
        width = b - a
        per = max(1, samples_per_request // width)
        entries = [(series[i], starts[i] + a, width) for i in range(m)]
        requests = [entries[i:i + per] for i in range(0, m, per)]
    return requests
