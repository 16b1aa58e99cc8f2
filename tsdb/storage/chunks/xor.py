"""Prometheus XOR chunks (encoding 1): batch encode/decode, one-chunk helpers and :class:`XORChunk`.

Bit-exact with Prometheus's ``tsdb/chunkenc/xor.go``; the format is in ``docs/format/xor-chunk.md``.
Timestamps are int64 milliseconds, values float64 compared by bit pattern (NaN payloads, the stale
marker, -0.0 round-trip exactly). The batch functions work on many chunks in one numba call.
Returned arrays are new and owned by the caller.
"""

from __future__ import annotations

import numpy as np

from tsdb.errors import CorruptionError, InvalidArgumentError
from tsdb.storage.chunks import xor_kernels as _k

__all__ = [
    "MAX_SAMPLES_PER_CHUNK",
    "XORChunk",
    "chunk_offsets",
    "chunk_offsets_many",
    "decode_chunk",
    "decode_chunks",
    "encode_chunk",
    "encode_chunks",
]

MAX_SAMPLES_PER_CHUNK = 0xFFFF  # the 16-bit count header

_EMPTY_I64 = np.zeros(0, dtype=np.int64)


def _as_i64(a: object, name: str) -> np.ndarray:
    arr = np.ascontiguousarray(a, dtype=np.int64)
    if arr.ndim != 1:
        raise InvalidArgumentError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _value_bits(values: object) -> np.ndarray:
    arr = np.ascontiguousarray(values)
    if arr.dtype == np.uint64:
        return arr.reshape(-1)
    return np.ascontiguousarray(arr, dtype=np.float64).reshape(-1).view(np.uint64)


def _as_bytes(data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data.reshape(-1)).view(np.uint8)
    return np.frombuffer(data, dtype=np.uint8)


def encode_chunks(ts: np.ndarray, values: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Encode chunk i from samples ``offsets[i]:offsets[i+1]``; return (payloads uint8[], byte offsets int64[n+1]).

    ``ts`` int64 ms, ``values`` float64 (or their uint64 bit patterns). Offsets must be non-decreasing,
    within the arrays, and give at most 65535 samples per chunk. An empty range encodes as an empty chunk
    (just the 2-byte count). Timestamps need not increase (deltas wrap as in Prometheus).
    """
    ts_arr = _as_i64(ts, "ts")
    vbits = _value_bits(values)
    offs = _as_i64(offsets, "offsets")
    if ts_arr.shape[0] != vbits.shape[0]:
        raise InvalidArgumentError(f"ts has {ts_arr.shape[0]} samples but values has {vbits.shape[0]}")
    if offs.shape[0] == 0:
        raise InvalidArgumentError("offsets must hold at least one entry (n chunks need n+1)")
    sizes = np.diff(offs)
    if offs[0] < 0 or offs[-1] > ts_arr.shape[0] or (sizes.size and sizes.min() < 0):
        raise InvalidArgumentError(f"offsets must be non-decreasing within [0, {ts_arr.shape[0]}]")
    if sizes.size and sizes.max() > MAX_SAMPLES_PER_CHUNK:
        bad = int(np.argmax(sizes))
        raise InvalidArgumentError(f"chunk {bad} has {int(sizes[bad])} samples; an XOR chunk holds at most 65535")
    nchunks = offs.shape[0] - 1
    total = int(offs[-1] - offs[0]) if nchunks else 0
    out = np.empty(nchunks * _k.MAX_CHUNK_OVERHEAD + total * _k.MAX_BYTES_PER_SAMPLE + 8, dtype=np.uint8)
    chunk_offs = np.empty(nchunks + 1, dtype=np.int64)
    used = _k.encode_kernel(ts_arr, vbits, offs, out, chunk_offs)
    return out[:used].copy(), chunk_offs


def decode_chunks(data: np.ndarray | bytes, chunk_offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode chunk i = ``data[chunk_offsets[i]:chunk_offsets[i+1]]``; return (ts, values, sample offsets).

    ``ts`` int64[], ``values`` float64[] of all chunks concatenated; sample offsets int64[n+1].
    Raises :class:`CorruptionError` (``offset`` = byte offset in ``data``, message naming the chunk) for a
    truncated or malformed chunk. Bytes after a chunk's last sample are ignored, as Prometheus does.
    """
    buf = _as_bytes(data)
    offs = _as_i64(chunk_offsets, "chunk_offsets")
    sample_offs = chunk_sample_offsets(buf, offs)
    n = int(sample_offs[-1])
    ts_out = np.empty(n, dtype=np.int64)
    v_out = np.empty(n, dtype=np.float64)
    decode_chunks_into(buf, offs, sample_offs, sample_offs[:-1], ts_out, v_out)
    return ts_out, v_out, sample_offs


def chunk_sample_offsets(data: np.ndarray, chunk_offsets: np.ndarray) -> np.ndarray:
    """Cumulative sample counts (int64[n+1]) of chunks ``data[chunk_offsets[i]:chunk_offsets[i+1]]`` from
    their count headers; InvalidArgumentError for bad offsets, CorruptionError for a chunk without header."""
    if chunk_offsets.shape[0] == 0:
        raise InvalidArgumentError("chunk_offsets must hold at least one entry (n chunks need n+1)")
    if chunk_offsets[0] < 0 or chunk_offsets[-1] > data.shape[0] or np.any(np.diff(chunk_offsets) < 0):
        raise InvalidArgumentError(f"chunk_offsets must be non-decreasing within [0, {data.shape[0]}]")
    sample_offs = np.zeros(chunk_offsets.shape[0], dtype=np.int64)
    short = _k.count_kernel(data, chunk_offsets, sample_offs)
    if short >= 0:
        raise CorruptionError(f"chunk {short}: {_k.ERROR_MESSAGES[_k.ERR_SHORT_HEADER]}",
                              offset=int(chunk_offsets[short]))
    return sample_offs


def decode_chunks_into(data: np.ndarray, chunk_offsets: np.ndarray, sample_offsets: np.ndarray, dest: np.ndarray,
                       ts_out: np.ndarray, values_out: np.ndarray) -> None:
    """Decode chunk i (``sample_offsets[i+1] - sample_offsets[i]`` samples, see :func:`chunk_sample_offsets`)
    into ``ts_out``/``values_out`` (int64, float64) at ``dest[i]``; CorruptionError as :func:`decode_chunks`."""
    status, chunk, offset = _k.decode_kernel(data, chunk_offsets, sample_offsets, dest, ts_out,
                                             values_out.view(np.uint64))
    if status != _k.OK:
        declared = int(sample_offsets[chunk + 1] - sample_offsets[chunk])
        raise CorruptionError(
            f"chunk {chunk} (bytes {int(chunk_offsets[chunk])}..{int(chunk_offsets[chunk + 1])}, {declared} samples "
            f"declared): {_k.ERROR_MESSAGES[int(status)]}",
            offset=int(offset),
        )


def encode_chunk(ts: np.ndarray, values: np.ndarray) -> bytes:
    """Encode one chunk (at most 65535 samples) and return its payload bytes."""
    ts_arr = _as_i64(ts, "ts")
    data, _ = encode_chunks(ts_arr, values, np.array([0, ts_arr.shape[0]], dtype=np.int64))
    return data.tobytes()


def decode_chunk(data: bytes | bytearray | memoryview | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decode one chunk payload into (ts int64[], values float64[]); ``CorruptionError`` offsets are in ``data``."""
    buf = _as_bytes(data)
    ts, values, _ = decode_chunks(buf, np.array([0, buf.shape[0]], dtype=np.int64))
    return ts, values


def chunk_offsets(ts: np.ndarray, values: np.ndarray | None = None, target: int = 120, max_samples: int = 240,
                  max_bytes: int = 1024) -> np.ndarray:
    """Sample offsets (int64[k+1]) cutting one series into chunks the way a Prometheus head roughly does.

    The samples are split evenly into chunks of about ``target`` samples (never more than ``max_samples``);
    with ``values`` given, a chunk is also closed after the sample that takes its encoding past
    ``max_bytes`` bytes (Prometheus's 1 KiB XOR chunk limit). Prometheus itself cuts by time (evenly over
    the head's chunk range); this count-based policy is for building blocks from whole arrays.
    """
    ts_arr = _as_i64(ts, "ts")
    return chunk_offsets_many(ts_arr, values, np.array([0, ts_arr.shape[0]], dtype=np.int64), target=target,
                              max_samples=max_samples, max_bytes=max_bytes)


def chunk_offsets_many(ts: np.ndarray, values: np.ndarray | None, series_offsets: np.ndarray, target: int = 120,
                       max_samples: int = 240, max_bytes: int = 1024) -> np.ndarray:
    """:func:`chunk_offsets` for many series in one kernel call.

    Series s owns samples ``series_offsets[s]:series_offsets[s+1]``; the result holds absolute sample
    offsets of all chunks in order (chunks never span series; empty series get none), ready for
    :func:`encode_chunks`.
    """
    ts_arr = _as_i64(ts, "ts")
    offs = _as_i64(series_offsets, "series_offsets")
    if target < 1 or max_samples < target or max_samples > MAX_SAMPLES_PER_CHUNK or max_bytes < 1:
        raise InvalidArgumentError(
            f"need 1 <= target <= max_samples <= 65535 and max_bytes >= 1, got {target}, {max_samples}, {max_bytes}"
        )
    if offs.shape[0] == 0 or offs[0] < 0 or offs[-1] > ts_arr.shape[0] or np.any(np.diff(offs) < 0):
        raise InvalidArgumentError(f"series_offsets must be non-empty and non-decreasing within [0, {ts_arr.shape[0]}]")
    if values is None:
        vbits = np.zeros(ts_arr.shape[0], dtype=np.uint64)
        max_bytes = 1 << 40
    else:
        vbits = _value_bits(values)
        if vbits.shape[0] != ts_arr.shape[0]:
            raise InvalidArgumentError(f"ts has {ts_arr.shape[0]} samples but values has {vbits.shape[0]}")
    out = np.zeros(ts_arr.shape[0] + offs.shape[0] + 1, dtype=np.int64)
    k = _k.cut_kernel(ts_arr, vbits, offs, target, max_samples, max_bytes, out)
    return out[: k + 1].copy()


class XORChunk:
    """One XOR-encoded chunk (Prometheus encoding 1), immutable, built from its payload bytes.

    ``num_samples`` reads the count header and ``min_time`` the first varint (no decode); ``max_time``
    decodes. ``decode()`` returns new arrays owned by the caller.
    Satisfies the ``Chunk`` protocol of ``storage/interfaces.py``.
    """

    ENCODING = 1
    __slots__ = ("_data",)

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._data = bytes(data)
        if len(self._data) < 2:
            raise CorruptionError(f"XOR chunk of {len(self._data)} bytes has no 2-byte sample count", offset=0)

    @classmethod
    def from_samples(cls, ts: np.ndarray, values: np.ndarray) -> XORChunk:
        """Encode ``ts`` (int64 ms) and ``values`` (float64) into a new chunk."""
        return cls(encode_chunk(ts, values))

    @property
    def encoding(self) -> int:
        """The chunk encoding number (1 = XOR)."""
        return self.ENCODING

    def data(self) -> bytes:
        """The payload bytes (count header + bit stream), as stored in a chunk segment file."""
        return self._data

    @property
    def num_samples(self) -> int:
        """Samples in the chunk, from the 2-byte header (no decode)."""
        return (self._data[0] << 8) | self._data[1]

    def decode(self) -> tuple[np.ndarray, np.ndarray]:
        """All samples as (ts int64[], values float64[]); raises ``CorruptionError`` if malformed."""
        return decode_chunk(self._data)

    @property
    def min_time(self) -> int:
        """Timestamp of the first sample, read from its varint (no decode)."""
        if self.num_samples == 0:
            raise InvalidArgumentError("an empty XOR chunk has no min_time")
        zig = shift = 0
        for pos in range(2, min(len(self._data), 12)):
            byte = self._data[pos]
            zig |= (byte & 0x7F) << shift
            if byte < 0x80:
                return (zig >> 1) ^ -(zig & 1)
            shift += 7
        raise CorruptionError("XOR chunk's first timestamp varint is truncated or too long", offset=2)

    @property
    def max_time(self) -> int:
        """Timestamp of the last sample (decodes the chunk)."""
        ts = self.decode()[0]
        if ts.shape[0] == 0:
            raise InvalidArgumentError("an empty XOR chunk has no max_time")
        return int(ts[-1])

    def __len__(self) -> int:
        return self.num_samples

    def __eq__(self, other: object) -> bool:
        return isinstance(other, XORChunk) and other._data == self._data

    def __hash__(self) -> int:
        return hash(self._data)

    def __repr__(self) -> str:
        return f"XORChunk({self.num_samples} samples, {len(self._data)} bytes)"
