"""Prometheus remote-read 1.0 (``POST /api/v1/read``): request decoding and both response types.

A request is a snappy block-format protobuf ``ReadRequest``: queries (inclusive ``[start, end]`` in ms,
label matchers ``EQ``/``NEQ``/``RE``/``NRE``, hints) and the response types the client accepts, the first
one we support wins (none listed: ``SAMPLES``), as Prometheus's ``NegotiateResponseType``.

- ``SAMPLES``: one snappy-compressed ``ReadResponse``, a ``QueryResult`` per query (series sorted by labels,
  samples ascending).
- ``STREAMED_XOR_CHUNKS``: frames of ``uvarint(len) | big-endian CRC32C(message) | ChunkedReadResponse``,
  one series per frame (a series past :data:`MAX_BYTES_IN_FRAME` continues in further frames), series
  sorted by labels, XOR chunks in time order, never overlapping and holding only samples in the query's
  range. Chunks are encoded from the merged samples (head, blocks and late samples merged and
  de-duplicated first), cut as the head cuts them (about 120 samples, at most 240 or 1 KiB).

External labels are handled as Prometheus does: an equality matcher that names an external label with its
value matches series lacking that label, and every returned series gets the external labels it does not
have. Raw samples only (never downsampled tiers). Everything here blocks: run it on a query thread.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import cramjam
import numpy as np

from tsdb.errors import InvalidArgumentError, InvalidMatcherError, QueryLimitError
from tsdb.labels import Labels, Matcher, MatchType
from tsdb.server.pb.tsdb.v1 import remote_pb2 as pb
from tsdb.server.remote_write import decompress_snappy
from tsdb.storage.chunks.xor import chunk_offsets_many, encode_chunks
from tsdb.storage.interfaces import FlatSeries, Queryable, SelectHints, check_deadline, clip_flat, deadline_scope
from tsdb.storage.remote.frames import frame

DECODE_READ_LIMIT = 32 << 20
"""Largest compressed request body read, as Prometheus's ``decodeReadLimit``."""
MAX_BYTES_IN_FRAME = 1 << 20
"""Chunk bytes per streamed frame before a series continues in the next one (Prometheus's
``--storage.remote.read-max-bytes-in-frame`` default)."""
SAMPLES_CONTENT_TYPE = "application/x-protobuf"
STREAMED_CONTENT_TYPE = "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse"

_MATCH_TYPES = {pb.LabelMatcher.EQ: MatchType.EQUAL, pb.LabelMatcher.NEQ: MatchType.NOT_EQUAL,
                pb.LabelMatcher.RE: MatchType.REGEX, pb.LabelMatcher.NRE: MatchType.NOT_REGEX}
_SUPPORTED = (pb.ReadRequest.SAMPLES, pb.ReadRequest.STREAMED_XOR_CHUNKS)


@dataclass(frozen=True)
class ReadLimits:
    """Per query: most samples (Prometheus's ``remote-read-sample-limit``) and series (0 = no limit)."""

    max_samples: int = 50_000_000
    max_series: int = 0


def decode_read_request(body: bytes | bytearray, max_bytes: int) -> pb.ReadRequest:
    """The ``ReadRequest`` in a snappy block-format body; :class:`InvalidArgumentError` naming what is wrong
    (bad snappy, a decompressed size past ``max_bytes``, bad protobuf)."""
    payload = decompress_snappy(body, max_bytes)
    request = pb.ReadRequest()
    try:
        request.ParseFromString(payload)
    except Exception as err:  # protobuf's DecodeError
        raise InvalidArgumentError(f"invalid protobuf ReadRequest: {err}") from err
    return request


def negotiate_response_type(accepted: Sequence[int]) -> int:
    """The first accepted response type we support (``SAMPLES`` when none is listed)."""
    for kind in accepted or (pb.ReadRequest.SAMPLES,):
        if kind in _SUPPORTED:
            return int(kind)
    names = ", ".join(pb.ReadRequest.ResponseType.Name(k) if k in _SUPPORTED else str(k) for k in accepted)
    raise InvalidArgumentError(f"server does not support any of the requested response types: [{names}]; "
                               "supported: SAMPLES, STREAMED_XOR_CHUNKS")


def query_matchers(query: pb.Query, index: int, external_labels: Mapping[str, str]) -> list[Matcher]:
    """The query's matchers, an equality matcher on an external label's own value turned into ``name=""``
    (the stored series lack that label); :class:`InvalidArgumentError` names a bad one."""
    out: list[Matcher] = []
    for m in query.matchers:
        kind = _MATCH_TYPES.get(m.type)
        if kind is None:
            raise InvalidArgumentError(f"query {index}: matcher on label {m.name!r} has unknown type {m.type}")
        try:
            matcher = Matcher(kind, m.name, m.value)
        except InvalidMatcherError as err:
            raise InvalidArgumentError(f"query {index}: bad matcher {m.name}{kind.value}{m.value!r}: {err}"
                                       ) from err
        if kind is MatchType.EQUAL and m.name in external_labels and external_labels[m.name] == m.value:
            matcher = Matcher(MatchType.EQUAL, m.name, "")
        out.append(matcher)
    return out


def select(queryable: Queryable, query: pb.Query, matchers: Sequence[Matcher], limits: ReadLimits) -> FlatSeries:
    """Raw samples of the series matching ``matchers`` in the query's inclusive range, sorted by labels,
    series without samples left out; :class:`QueryLimitError` past ``limits``."""
    mint, maxt = int(query.start_timestamp_ms), int(query.end_timestamp_ms)
    hints = SelectHints(mint=mint, maxt=maxt, step_ms=int(query.hints.step_ms), func=query.hints.func,
                        range_ms=int(query.hints.range_ms), max_source_resolution="raw")
    querier = queryable.querier(mint, maxt)
    try:
        select_flat = getattr(querier, "select_flat", None)
        flat = select_flat(matchers, hints) if select_flat else FlatSeries.from_series(querier.select(matchers, hints))
    finally:
        querier.close()
    flat = clip_flat(flat, mint, maxt)
    if limits.max_series and len(flat.labels) > limits.max_series:
        raise QueryLimitError(f"exceeded series limit: {len(flat.labels):,} series selected, more than the limit "
                              f"of {limits.max_series:,} (query.max_series)")
    if limits.max_samples and len(flat.ts) > limits.max_samples:
        raise QueryLimitError(f"exceeded sample limit ({limits.max_samples})")
    if len(flat.labels) > 1 and any(flat.labels[i] > flat.labels[i + 1] for i in range(len(flat.labels) - 1)):
        order = sorted(range(len(flat.labels)), key=flat.labels.__getitem__)
        flat = _reorder(flat, order)
    return flat


def _reorder(flat: FlatSeries, order: list[int]) -> FlatSeries:
    starts, ends = flat.offsets[:-1], flat.offsets[1:]
    take = np.concatenate([np.arange(starts[i], ends[i]) for i in order]) if order else np.zeros(0, np.int64)
    counts = np.array([ends[i] - starts[i] for i in order], dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    return FlatSeries([flat.labels[i] for i in order], flat.ts[take], flat.values[take], offsets)


def merge_labels(labels: Labels, external: Mapping[str, str]) -> list[pb.Label]:
    """``labels`` plus the external labels it lacks, sorted by name (the series' own value wins)."""
    if not external:
        return [pb.Label(name=n, value=v) for n, v in labels.items()]
    merged = dict(external)
    merged.update(labels.items())
    return [pb.Label(name=n, value=merged[n]) for n in sorted(merged)]


def _deadline(timeout_s: float | None) -> float:
    return time.monotonic() + timeout_s if timeout_s is not None else float("inf")


def samples_response(queryable: Queryable, request: pb.ReadRequest, external_labels: Mapping[str, str],
                     limits: ReadLimits, timeout_s: float | None = None) -> bytes:
    """The snappy-compressed ``ReadResponse`` answering every query of ``request``.

    The samples are encoded by :func:`encode_samples` (vectorised), the labels by the protobuf classes.
    """
    results: list[bytes] = []
    with deadline_scope(_deadline(timeout_s)):
        for index, query in enumerate(request.queries):
            flat = select(queryable, query, query_matchers(query, index, external_labels), limits)
            samples = encode_samples(flat.ts, flat.values)
            per_sample = _SAMPLE_OVERHEAD + _varint_sizes(flat.ts)
            byte_bounds = np.concatenate(([0], np.cumsum(per_sample))).astype(np.int64)[flat.offsets].tolist()
            parts: list[bytes] = []
            for i, labels in enumerate(flat.labels):
                if i % 1000 == 0:
                    check_deadline("remote read")
                series = pb.TimeSeries(labels=merge_labels(labels, external_labels)).SerializeToString()
                series += samples[byte_bounds[i]:byte_bounds[i + 1]]
                parts.append(_field_header(1, len(series)) + series)
            result = b"".join(parts)
            results.append(_field_header(1, len(result)) + result)
    return bytes(cramjam.snappy.compress_raw(b"".join(results)))


_SAMPLE_OVERHEAD = 12
"""Bytes of a ``TimeSeries.samples`` entry besides its timestamp varint: field tag and length of the
``Sample``, the ``value`` tag and 8 bytes, the ``timestamp`` tag."""


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field_header(field_number: int, length: int) -> bytes:
    """Tag and length of a length-delimited protobuf field."""
    return _uvarint(field_number << 3 | 2) + _uvarint(length)


def _varint_sizes(ts: np.ndarray) -> np.ndarray:
    """Bytes of each int64 as a protobuf varint (negative numbers take 10, as two's complement)."""
    u = np.ascontiguousarray(ts, dtype=np.int64).view(np.uint64)
    sizes = np.ones(u.shape[0], dtype=np.int64)
    for k in range(1, 10):
        sizes += u >= np.uint64(1 << (7 * k))
    return sizes


def encode_samples(ts: np.ndarray, values: np.ndarray) -> bytes:
    """Every sample as a ``TimeSeries.samples`` entry (field 2: a ``Sample`` with ``value`` and
    ``timestamp`` both written), back to back, in one vectorised pass."""
    u = np.ascontiguousarray(ts, dtype=np.int64).view(np.uint64)
    sizes = _varint_sizes(ts)
    starts = np.concatenate(([0], np.cumsum(_SAMPLE_OVERHEAD + sizes)[:-1])).astype(np.int64) if len(u) else \
        np.zeros(0, np.int64)
    out = np.zeros(int(np.sum(_SAMPLE_OVERHEAD + sizes)), dtype=np.uint8)
    out[starts] = 0x12  # field 2, length-delimited
    out[starts + 1] = (10 + sizes).astype(np.uint8)  # the Sample's length: 9 + 1 + varint
    out[starts + 2] = 0x09  # field 1, fixed64
    value_bytes = np.ascontiguousarray(values, dtype="<f8").view(np.uint8).reshape(-1, 8)
    out[(starts + 3)[:, None] + np.arange(8)] = value_bytes
    out[starts + 11] = 0x10  # field 2, varint
    for k in range(10):
        has = sizes > k
        if not has.any():
            break
        group = ((u[has] >> np.uint64(7 * k)) & np.uint64(0x7F)).astype(np.uint8)
        group |= np.where(sizes[has] > k + 1, 0x80, 0).astype(np.uint8)
        out[starts[has] + 12 + k] = group
    return out.tobytes()


def chunked_frames(queryable: Queryable, request: pb.ReadRequest, external_labels: Mapping[str, str],
                   limits: ReadLimits, timeout_s: float | None = None,
                   max_bytes_in_frame: int = MAX_BYTES_IN_FRAME) -> list[bytes]:
    """Every frame of the ``STREAMED_XOR_CHUNKS`` answer, query by query. All are built before the first
    is sent, so a bad matcher, a limit or a timeout still answers with an error status."""
    frames: list[bytes] = []
    with deadline_scope(_deadline(timeout_s)):
        for index, query in enumerate(request.queries):
            flat = select(queryable, query, query_matchers(query, index, external_labels), limits)
            frames.extend(_series_frames(flat, index, external_labels, max_bytes_in_frame))
    return frames


def _series_frames(flat: FlatSeries, index: int, external_labels: Mapping[str, str],
                   max_bytes_in_frame: int) -> Iterator[bytes]:
    """Frames of one query's series: as Prometheus's ``StreamChunkedReadResponses``, chunks are added to a
    series' frame until their encoded size reaches the frame budget less the labels' size."""
    if not flat.labels:
        return
    sample_offsets = chunk_offsets_many(flat.ts, flat.values, flat.offsets)
    payload, byte_offsets = encode_chunks(flat.ts, flat.values, sample_offsets)
    data = payload.tobytes()
    starts = sample_offsets[:-1].tolist()
    ends = sample_offsets[1:].tolist()
    ts = flat.ts
    # chunks of series i are those whose first sample lies in its sample range
    first_chunk = np.searchsorted(sample_offsets[:-1], flat.offsets).tolist()
    byte_list = byte_offsets.tolist()
    for i, labels in enumerate(flat.labels):
        if i % 1000 == 0:
            check_deadline("remote read")
        pb_labels = merge_labels(labels, external_labels)
        budget = max_bytes_in_frame - sum(lb.ByteSize() for lb in pb_labels)
        left = budget
        chunks: list[pb.Chunk] = []
        lo, hi = first_chunk[i], first_chunk[i + 1]
        for c in range(lo, hi):
            chunk = pb.Chunk(min_time_ms=int(ts[starts[c]]), max_time_ms=int(ts[ends[c] - 1]), type=pb.Chunk.XOR,
                             data=data[byte_list[c]:byte_list[c + 1]])
            chunks.append(chunk)
            left -= chunk.ByteSize()
            if left > 0 and c + 1 < hi:
                continue
            message = pb.ChunkedReadResponse(query_index=index)
            message.chunked_series.add(labels=pb_labels, chunks=chunks)
            yield frame(message.SerializeToString())
            chunks, left = [], budget
