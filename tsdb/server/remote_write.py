"""Remote-write 1.0 request decoding: snappy block format + protobuf ``WriteRequest`` -> arrays.

:func:`decode_write_request` turns a request body into a :class:`DecodedWrite` of columnar arrays in
two numba passes (no Python loop per sample) and builds one :class:`Labels` per distinct series, cached
across requests by the raw label bytes. Malformed bodies raise :class:`InvalidArgumentError` naming
what is wrong and where; nothing here allocates more than a small multiple of the body size.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import cramjam
import numpy as np
import numpy.typing as npt

from tsdb.errors import InvalidArgumentError, InvalidLabelsError
from tsdb.labels import Labels, LabelsCache
from tsdb.server import remote_write_kernels as kernels
from tsdb.storage.metadata import REMOTE_WRITE_TYPES, MetricMetadata

DEFAULT_MAX_BODY_BYTES = 64 << 20
"""Largest decompressed request accepted (Prometheus sends at most a few MiB)."""

_ERRORS = {
    kernels.ERR_TRUNCATED: "truncated field",
    kernels.ERR_VARINT: "malformed varint",
    kernels.ERR_WIRE_TYPE: "unknown wire type",
    kernels.ERR_LENGTH: "length past the end of the message",
    kernels.ERR_FIELD: "field number 0",
}


@dataclass
class DecodedWrite:
    """A decoded WriteRequest: per series labels, per sample series index, timestamp and value.

    ``offsets`` has one more entry than ``labels``: samples of series ``i`` are ``offsets[i]:offsets[i+1]``
    of ``ts``/``values`` (the order of the request). ``histograms`` counts native histogram samples
    (not stored yet), ``metadata`` the metadata entries and ``metadata_entries`` their contents.
    """

    labels: list[Labels]
    offsets: npt.NDArray[np.int64]
    ts: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    histograms: int = 0
    metadata: int = 0
    metadata_entries: list[MetricMetadata] = field(default_factory=list)

    @property
    def num_samples(self) -> int:
        return len(self.ts)


def decompress_snappy(body: bytes | bytearray, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> bytes:
    """Decompress a snappy block-format body, refusing a declared size above ``max_bytes``."""
    declared, _ = _uvarint_prefix(body)
    if declared > max_bytes:
        raise InvalidArgumentError(f"snappy body declares {declared} bytes, more than the limit {max_bytes}")
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except Exception as err:  # cramjam raises its own DecompressionError
        raise InvalidArgumentError(f"invalid snappy block-format body: {err}") from err


def snappy_decoded_size(body: bytes | bytearray) -> int:
    """The decompressed size a snappy block-format body declares (0 when its header is malformed)."""
    try:
        return _uvarint_prefix(body)[0]
    except InvalidArgumentError:
        return 0


def _uvarint_prefix(body: bytes | bytearray) -> tuple[int, int]:
    value = shift = 0
    for i, b in enumerate(body[:10]):
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i + 1
        shift += 7
    raise InvalidArgumentError("invalid snappy block-format body: bad length header")


MAX_RETAINED_SCRATCH_BYTES = 32 << 20
"""Decode scratch a worker thread keeps between requests. Scratch takes about 52 bytes per payload byte,
so payloads up to about 600 KiB (Prometheus sends far less) reuse it; larger ones get buffers of their own,
freed when their decode ends."""

_SCRATCH_ARRAYS = 13  # 12 int64 arrays + one uint64 array, each ``bound`` long
_SCRATCH_BYTES_PER_ENTRY = _SCRATCH_ARRAYS * 8


class _Scratch(threading.local):
    """Per-thread decode buffers, reused across requests up to :data:`MAX_RETAINED_SCRATCH_BYTES`."""

    def __init__(self) -> None:
        self.size = -1
        self.arrays: list[npt.NDArray[np.int64]] = []
        self.bits = np.empty(0, np.uint64)

    def get(self, size: int, max_retained: int = MAX_RETAINED_SCRATCH_BYTES
            ) -> tuple[list[npt.NDArray[np.int64]], npt.NDArray[np.uint64]]:
        """Buffers of at least ``size`` entries: this thread's kept ones, grown within ``max_retained``
        bytes, or fresh ones (not kept) for a request larger than that."""
        if size > self.size:
            grown = max(size, 1024)
            if grown * _SCRATCH_BYTES_PER_ENTRY > max_retained:
                return [np.empty(size, np.int64) for _ in range(12)], np.empty(size, np.uint64)
            self.size = grown
            self.arrays = [np.empty(grown, np.int64) for _ in range(12)]
            self.bits = np.empty(grown, np.uint64)
        return self.arrays, self.bits

    @property
    def retained_bytes(self) -> int:
        """Bytes of the buffers this thread keeps."""
        return sum(a.nbytes for a in self.arrays) + self.bits.nbytes


_scratch = _Scratch()


def decode_write_request(payload: bytes, cache: LabelsCache | None = None) -> DecodedWrite:
    """Decode an uncompressed protobuf WriteRequest into columnar arrays (one kernel pass)."""
    buf = np.frombuffer(payload, dtype=np.uint8)
    counts = np.zeros(4, dtype=np.int64)
    # every series, label and sample message takes at least 2 bytes: len/2 bounds each count
    bound = len(payload) // 2 + 1
    a, bits = _scratch.get(bound)
    status, where = kernels.decode_write_request(buf, True, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8],
                                                 a[9], a[10], a[11], bits, counts)
    if status != kernels.OK:
        raise InvalidArgumentError(f"invalid WriteRequest protobuf: {_ERRORS[status]} at byte {where}")
    n_series, n_labels, n_samples, n_meta = (int(c) for c in counts)
    # copies of the used parts: the scratch buffers are reused by this thread's next request
    s_label_start, s_label_count, _, s_sample_count, s_hist, s_key_start, s_key_end = (
        x[:n_series].copy() for x in a[:7])
    name_off, name_len, value_off, value_len = (x[:n_labels].copy() for x in a[7:11])
    ts = a[11][:n_samples].copy()
    values = bits[:n_samples].copy().view(np.float64)
    labels = _build_labels(payload, s_label_start, s_label_count, s_key_start, s_key_end,
                           (name_off, name_len, value_off, value_len), cache)
    offsets = np.empty(n_series + 1, np.int64)
    offsets[0] = 0
    np.cumsum(s_sample_count, out=offsets[1:])
    entries = decode_metadata(payload) if n_meta else []
    return DecodedWrite(labels, offsets, ts, values, int(s_hist.sum()), n_meta, entries)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise InvalidArgumentError(f"invalid WriteRequest protobuf: truncated varint at byte {pos}")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes, pos: int, end: int) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, varint value or length-delimited bytes) of one message's fields."""
    while pos < end:
        key, pos = _varint(buf, pos)
        field_no, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield field_no, wire, value
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > end:
                raise InvalidArgumentError(f"invalid WriteRequest protobuf: field {field_no} overruns at byte {pos}")
            yield field_no, wire, buf[pos:pos + size]
            pos += size
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise InvalidArgumentError(f"invalid WriteRequest protobuf: wire type {wire} at byte {pos}")


def decode_metadata(payload: bytes) -> list[MetricMetadata]:
    """The ``metadata`` (field 3) entries of a WriteRequest: MetricMetadata{type=1, metric_family_name=2,
    help=4, unit=5}. Called only for requests that carry metadata (senders send it in requests of its own)."""
    out: list[MetricMetadata] = []
    for field_no, wire, value in _fields(payload, 0, len(payload)):
        if field_no != 3 or wire != 2:
            continue
        assert isinstance(value, bytes)
        kind, name, help_text, unit = 0, "", "", ""
        for sub_no, sub_wire, sub in _fields(value, 0, len(value)):
            if sub_no == 1 and sub_wire == 0:
                kind = int(sub)
            elif sub_wire == 2 and isinstance(sub, bytes):
                text = sub.decode("utf-8", errors="replace")
                if sub_no == 2:
                    name = text
                elif sub_no == 4:
                    help_text = text
                elif sub_no == 5:
                    unit = text
        if name:
            out.append(MetricMetadata(name, REMOTE_WRITE_TYPES.get(kind, "unknown"), help_text, unit))
    return out


def _build_labels(payload: bytes, label_start: npt.NDArray[np.int64], label_count: npt.NDArray[np.int64],
                  key_start: npt.NDArray[np.int64], key_end: npt.NDArray[np.int64],
                  spans: tuple[npt.NDArray[np.int64], ...], cache: LabelsCache | None) -> list[Labels]:
    """One Labels per series. The cache key is the exact wire bytes of the series' label fields, which
    determine the label set uniquely; series whose label fields are not contiguous are not cached."""
    n = len(label_start)
    if cache is not None:
        # C-level passes: slice every key, look every key up; only misses reach the Python loop below
        keys = list(map(payload.__getitem__, map(slice, key_start.tolist(), key_end.tolist())))
        found = cache.get_many(keys)
        misses = [i for i, labels in enumerate(found) if labels is None]
    else:
        keys, found, misses = [b""] * n, [None] * n, list(range(n))
    if not misses:
        return found  # type: ignore[return-value]
    n_off, n_len, v_off, v_len = (a.tolist() for a in spans)
    starts, counts = label_start.tolist(), label_count.tolist()
    for i in misses:
        first = starts[i]
        try:
            pairs = [(payload[n_off[j]:n_off[j] + n_len[j]].decode(),
                      payload[v_off[j]:v_off[j] + v_len[j]].decode()) for j in range(first, first + counts[i])]
        except UnicodeDecodeError as err:
            raise InvalidLabelsError(f"label of series #{i} is not valid UTF-8: {err}") from err
        if any(name == "" for name, _ in pairs):
            raise InvalidLabelsError(f"series #{i} has a label with an empty name")
        labels = Labels(pairs)
        if cache is not None and keys[i]:
            cache.put(keys[i], labels)
        found[i] = labels
    return found  # type: ignore[return-value]


def decode_body(body: bytes | bytearray, cache: LabelsCache | None = None,
                max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> DecodedWrite:
    """Snappy-decompress and decode a remote-write request body."""
    return decode_write_request(decompress_snappy(body, max_bytes), cache)


def encode_write_request(series: list[tuple[Labels, npt.NDArray[np.int64], npt.NDArray[np.float64]]]) -> bytes:
    """Encode samples as an uncompressed protobuf WriteRequest (for clients, tests and benchmarks)."""
    from tsdb.server.pb.tsdb.v1 import remote_pb2

    request = remote_pb2.WriteRequest()
    for labels, ts, values in series:
        item = request.timeseries.add()
        for name, value in labels.items():
            item.labels.add(name=name, value=value)
        for t, v in zip(ts.tolist(), values.tolist(), strict=True):
            item.samples.add(value=v, timestamp=t)
    return request.SerializeToString()


def compress_snappy(payload: bytes) -> bytes:
    """Snappy block-format compression (what remote-write senders do)."""
    return bytes(cramjam.snappy.compress_raw(payload))
