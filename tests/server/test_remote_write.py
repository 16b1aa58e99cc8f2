"""Remote-write decoding: the numba decoder against the protobuf library, and hostile bodies."""

from __future__ import annotations

import struct
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reference import remote_write as reference
from tsdb.errors import InvalidArgumentError, InvalidLabelsError
from tsdb.labels import Labels
from tsdb.server import remote_write
from tsdb.server.pb.tsdb.v1 import remote_pb2
from tsdb.server.remote_write import (
    MAX_RETAINED_SCRATCH_BYTES,
    LabelsCache,
    compress_snappy,
    decode_body,
    decode_write_request,
    decompress_snappy,
    encode_write_request,
)
from tsdb.storage.metadata import MetricMetadata

label_text = st.text(min_size=1, max_size=8)
float_bits = st.integers(min_value=0, max_value=2**64 - 1).map(
    lambda b: float(np.array([b], dtype=np.uint64).view(np.float64)[0]))
series_strategy = st.lists(
    st.tuples(
        st.dictionaries(label_text, label_text, min_size=1, max_size=4),
        st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), float_bits), max_size=5),
    ),
    max_size=6,
)


def _request(series: list[tuple[dict[str, str], list[tuple[int, float]]]]) -> bytes:
    request = remote_pb2.WriteRequest()
    for labels, samples in series:
        item = request.timeseries.add()
        for name, value in sorted(labels.items()):
            item.labels.add(name=name, value=value)
        for t, v in samples:
            item.samples.add(timestamp=t, value=v)
    request.metadata.add(type=remote_pb2.MetricMetadata.COUNTER, metric_family_name="x", help="h")
    return request.SerializeToString()


@pytest.mark.kernel
@given(series_strategy)
def test_decoder_matches_protobuf_library(series: list[tuple[dict[str, str], list[tuple[int, float]]]]) -> None:
    payload = _request(series)
    expected = reference.decode(payload)
    decoded = decode_write_request(payload, LabelsCache())
    assert decoded.metadata == 1
    assert decoded.metadata_entries == [MetricMetadata("x", "counter", "h", "")]
    assert len(decoded.labels) == len(expected)
    for i, (pairs, ts, bits) in enumerate(expected):
        assert decoded.labels[i] == Labels(pairs)
        lo, hi = decoded.offsets[i], decoded.offsets[i + 1]
        assert decoded.ts[lo:hi].tolist() == ts
        assert decoded.values[lo:hi].view(np.uint64).tolist() == bits


@pytest.mark.kernel
@given(series_strategy, st.data())
def test_truncated_or_garbled_bodies_fail_cleanly(series: list[tuple[dict[str, str], list[tuple[int, float]]]],
                                                  data: st.DataObject) -> None:
    payload = bytearray(_request(series))
    if not payload:
        return
    cut = data.draw(st.integers(0, len(payload) - 1))
    flip = data.draw(st.integers(0, len(payload) - 1))
    for candidate in (bytes(payload[:cut]), bytes(payload[:flip]) + bytes([payload[flip] ^ 0xFF]) + bytes(
            payload[flip + 1:])):
        try:
            decoded = decode_write_request(candidate)
        except (InvalidArgumentError, InvalidLabelsError):
            continue
        assert decoded.offsets[-1] == len(decoded.ts)


@pytest.mark.kernel
def test_unknown_fields_and_field_order_are_tolerated() -> None:
    # a Label with value before name, an unknown varint field and a fixed32 field inside the series
    label = b"\x12\x01v" + b"\x0a\x01n"
    sample = b"\x10\x05" + b"\x09" + struct.pack("<d", 2.5)
    series = b"\x0a" + bytes([len(label)]) + label + b"\x28\x07" + b"\x35\x00\x00\x00\x00" + b"\x12" + bytes(
        [len(sample)]) + sample + b"\x22\x00"
    payload = b"\x0a" + bytes([len(series)]) + series + b"\x38\x01"
    decoded = decode_write_request(payload, LabelsCache())
    assert decoded.labels == [Labels({"n": "v"})]
    assert decoded.ts.tolist() == [5] and decoded.values.tolist() == [2.5]
    assert decoded.histograms == 1


@pytest.mark.parametrize(
    ("payload", "message"),
    [(b"\x0a\x05\x0a", "length past the end"), (b"\x0a", "malformed varint"), (b"\x0b", "unknown wire type"),
     (b"\x00\x00", "field number 0"), (b"\x0a\x03\x0a\x80\x80", "malformed varint"),
     (b"\x0a\x04\x12\x02\x09\x01", "truncated field"),
     (b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "malformed varint")],
)
def test_malformed_messages_name_the_problem(payload: bytes, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        decode_write_request(payload)


def test_invalid_utf8_and_empty_names_are_rejected() -> None:
    bad = b"\x0a\x03\x0a\x01\xff"
    series = b"\x0a" + bytes([len(bad)]) + bad
    with pytest.raises(InvalidLabelsError, match="not valid UTF-8"):
        decode_write_request(b"\x0a" + bytes([len(series)]) + series)
    empty = b"\x12\x01v"
    series = b"\x0a" + bytes([len(empty)]) + empty
    with pytest.raises(InvalidLabelsError, match="empty name"):
        decode_write_request(b"\x0a" + bytes([len(series)]) + series)


def test_snappy_round_trip_cache_and_limits() -> None:
    labels = Labels({"__name__": "up", "job": "a"})
    payload = encode_write_request([(labels, np.array([1, 2]), np.array([1.0, 0.0]))])
    body = compress_snappy(payload)
    cache = LabelsCache(capacity=1)
    first = decode_body(body, cache)
    second = decode_body(body, cache)
    assert first.labels[0] is second.labels[0] and len(cache) == 1
    assert second.num_samples == 2
    decode_body(compress_snappy(encode_write_request([(Labels({"a": "b"}), np.array([1]), np.array([1.0]))])),
                cache)
    assert len(cache) == 1
    with pytest.raises(InvalidArgumentError, match="more than the limit"):
        decompress_snappy(body, max_bytes=4)
    with pytest.raises(InvalidArgumentError, match="invalid snappy"):
        decompress_snappy(b"\x05garbage")
    with pytest.raises(InvalidArgumentError, match="bad length header"):
        decompress_snappy(b"\xff" * 12)


def test_decode_scratch_kept_bounded_after_a_huge_request() -> None:
    """A request larger than the retained budget decodes with buffers of its own; the thread keeps at most
    MAX_RETAINED_SCRATCH_BYTES, and small requests keep reusing the same buffers (no allocation)."""
    def request(n_series: int) -> bytes:
        return encode_write_request([(Labels({"__name__": "m", "i": str(i)}), np.array([i], dtype=np.int64),
                                      np.array([1.0])) for i in range(n_series)])

    def decode_in_thread(payloads: list[bytes]) -> list[tuple[int, int]]:
        seen: list[tuple[int, int]] = []

        def work() -> None:
            for payload in payloads:
                assert decode_write_request(payload).num_samples > 0
                seen.append((remote_write._scratch.retained_bytes, id(remote_write._scratch.bits)))

        thread = threading.Thread(target=work)
        thread.start()
        thread.join(timeout=120)
        return seen

    small, huge = request(10), request(40_000)  # the huge one needs > 64 MiB of scratch
    assert len(huge) // 2 * 13 * 8 > 2 * MAX_RETAINED_SCRATCH_BYTES
    seen = decode_in_thread([small, huge, small, small])
    assert len(seen) == 4
    assert all(retained <= MAX_RETAINED_SCRATCH_BYTES for retained, _ in seen)
    assert seen[0] == seen[1] == seen[2] == seen[3]  # the huge request left the kept buffers as they were
    decoded = decode_write_request(huge)
    assert decoded.num_samples == 40_000 and decoded.labels[-1] == Labels({"__name__": "m", "i": "39999"})
