"""WAL record types: SERIES, SAMPLES and TOMBSTONES, encoded to and decoded from bytes.

The WAL itself (:mod:`tsdb.storage.wal`) stores opaque byte records; this module gives them meaning.
The first byte of every record is its :class:`RecordType`. The byte layouts are specified in
``docs/format/wal.md``. All integers are little-endian.

Decoding never trusts a length field: every count is checked against the bytes actually present
before anything is allocated, and a malformed record raises :class:`CorruptionError`.
SAMPLES decode is batched numpy (a few vector operations per record, no per-sample Python).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tsdb.errors import CorruptionError, InvalidArgumentError, TsdbError
from tsdb.labels import Labels

__all__ = [
    "Record",
    "RecordType",
    "SamplesRecord",
    "SeriesRecord",
    "TombstonesRecord",
    "decode",
    "decode_samples",
    "decode_series",
    "decode_tombstones",
    "encode_samples",
    "encode_series",
    "encode_tombstones",
]


class RecordType(enum.IntEnum):
    """The first byte of a record (values as in Prometheus's record package for the shared kinds)."""

    SERIES = 1
    SAMPLES = 2
    TOMBSTONES = 3


@dataclass(frozen=True)
class SeriesRecord:
    """Series definitions: ``refs[i]`` (uint64) names ``labels[i]``."""

    refs: np.ndarray
    labels: list[Labels]
    kind: RecordType = RecordType.SERIES


@dataclass(frozen=True)
class SamplesRecord:
    """Samples of many series: parallel arrays ``refs`` (int64), ``ts`` (int64 ms), ``values`` (float64)."""

    refs: np.ndarray
    ts: np.ndarray
    values: np.ndarray
    kind: RecordType = RecordType.SAMPLES


@dataclass(frozen=True)
class TombstonesRecord:
    """Deletions: samples of series ``refs[i]`` (uint64) in ``[mints[i], maxts[i]]`` (inclusive ms) are deleted."""

    refs: np.ndarray
    mints: np.ndarray
    maxts: np.ndarray
    kind: RecordType = RecordType.TOMBSTONES


Record = SeriesRecord | SamplesRecord | TombstonesRecord

_U32 = struct.Struct("<I")
# SAMPLES header: type, version, n, ref_base, ts_base, ref_width, ts_width.
_SAMPLES_HEAD = struct.Struct("<BBIqqBB")
_SAMPLES_VERSION = 1
_WIDTH_DTYPES: dict[int, np.dtype[Any]] = {w: np.dtype(f"<i{w}") for w in (1, 2, 4, 8)}
_TOMBSTONE_DTYPE = np.dtype([("ref", "<u8"), ("mint", "<i8"), ("maxt", "<i8")])


# -- varints (series records only: few per second, Python is fine) ---------------------------------
def _put_uvarint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _get_uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    """Read a uvarint at ``pos``; returns (value, new position). Raises IndexError/ValueError if bad."""
    result = 0
    shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("uvarint longer than 10 bytes")


# -- SERIES ----------------------------------------------------------------------------------------
def encode_series(refs: Sequence[int] | np.ndarray, labels_list: Sequence[Labels]) -> bytes:
    """Encode series definitions: ``refs[i]`` (0 <= ref < 2**64) is the series ``labels_list[i]``."""
    if len(refs) != len(labels_list):
        raise InvalidArgumentError(f"encode_series: {len(refs)} refs but {len(labels_list)} label sets")
    out = bytearray((RecordType.SERIES,))
    out += _U32.pack(len(refs))
    for ref, labels in zip(refs, labels_list, strict=True):
        ref = int(ref)
        if not 0 <= ref < 1 << 64:
            raise InvalidArgumentError(f"encode_series: series ref {ref} out of uint64 range")
        out += ref.to_bytes(8, "little")
        _put_uvarint(out, len(labels))
        for name, value in labels.items():
            for text in (name, value):
                raw = text.encode()
                _put_uvarint(out, len(raw))
                out += raw
    return bytes(out)


def decode_series(record: bytes) -> SeriesRecord:
    """Decode a SERIES record; raises :class:`CorruptionError` if malformed."""
    _check_type(record, RecordType.SERIES)
    try:
        (count,) = _U32.unpack_from(record, 1)
        # each series needs at least 9 bytes (ref + label count): bound the count before allocating
        if count * 9 > len(record) - 5:
            raise CorruptionError(f"series record claims {count} series in {len(record)} bytes")
        refs = np.empty(count, dtype=np.uint64)
        labels_list: list[Labels] = []
        pos = 5
        for i in range(count):
            if pos + 8 > len(record):
                raise IndexError("ref past end")
            refs[i] = int.from_bytes(record[pos:pos + 8], "little")
            pos += 8
            nlabels, pos = _get_uvarint(record, pos)
            if nlabels * 2 > len(record) - pos:
                raise CorruptionError(f"series {i} claims {nlabels} labels in {len(record) - pos} bytes")
            pairs = []
            for _ in range(nlabels):
                texts = []
                for _ in range(2):
                    size, pos = _get_uvarint(record, pos)
                    if pos + size > len(record):
                        raise IndexError("string past end")
                    texts.append(record[pos:pos + size].decode())
                    pos += size
                pairs.append((texts[0], texts[1]))
            labels_list.append(Labels(pairs))
        if pos != len(record):
            raise CorruptionError(f"series record has {len(record) - pos} trailing bytes")
    except CorruptionError:
        raise
    except (IndexError, ValueError, struct.error, UnicodeDecodeError, TsdbError) as err:
        raise CorruptionError(f"malformed series record: {err}") from err
    return SeriesRecord(refs, labels_list)


# -- SAMPLES ---------------------------------------------------------------------------------------
def _width(deltas: np.ndarray) -> int:
    if deltas.shape[0] == 0:
        return 1
    lo, hi = int(deltas.min()), int(deltas.max())
    for width in (1, 2, 4):
        bound = 1 << (8 * width - 1)
        if -bound <= lo and hi < bound:
            return width
    return 8


def encode_samples(refs: np.ndarray, ts: np.ndarray, values: np.ndarray) -> bytes:
    """Encode parallel arrays of samples (int64 refs, int64 ms timestamps, float64 values, bit-exact).

    Refs and timestamps are stored as deltas from the first element (wrapping int64 arithmetic, so
    any int64 round-trips) in the narrowest of 1/2/4/8 bytes that holds all of them; values raw.
    """
    refs = np.ascontiguousarray(refs, dtype=np.int64)
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    values = np.ascontiguousarray(values, dtype=np.float64)
    n = refs.shape[0]
    if refs.ndim != 1 or ts.shape != (n,) or values.shape != (n,):
        raise InvalidArgumentError(
            f"encode_samples: refs, ts and values must be 1-d of equal length, got "
            f"{refs.shape}, {ts.shape}, {values.shape}")
    if n >= 1 << 32:
        raise InvalidArgumentError(f"encode_samples: {n} samples do not fit in one record")
    ref_base = int(refs[0]) if n else 0
    ts_base = int(ts[0]) if n else 0
    with np.errstate(over="ignore"):
        ref_d = refs - np.int64(ref_base)
        ts_d = ts - np.int64(ts_base)
    rw, tw = _width(ref_d), _width(ts_d)
    head = _SAMPLES_HEAD.pack(RecordType.SAMPLES, _SAMPLES_VERSION, n, ref_base, ts_base, rw, tw)
    return b"".join((head, ref_d.astype(_WIDTH_DTYPES[rw]).tobytes(), ts_d.astype(_WIDTH_DTYPES[tw]).tobytes(),
                     values.astype("<f8", copy=False).tobytes()))


def decode_samples(record: bytes) -> SamplesRecord:
    """Decode a SAMPLES record into fresh (caller-owned) int64/int64/float64 arrays."""
    _check_type(record, RecordType.SAMPLES)
    if len(record) < _SAMPLES_HEAD.size:
        raise CorruptionError(f"samples record of {len(record)} bytes is shorter than its header")
    _, version, n, ref_base, ts_base, rw, tw = _SAMPLES_HEAD.unpack_from(record, 0)
    if version != _SAMPLES_VERSION:
        raise CorruptionError(f"samples record has unknown version {version}")
    if rw not in _WIDTH_DTYPES or tw not in _WIDTH_DTYPES:
        raise CorruptionError(f"samples record has invalid delta widths {rw}/{tw}")
    expected = _SAMPLES_HEAD.size + n * (rw + tw + 8)
    if expected != len(record):
        raise CorruptionError(f"samples record of {n} samples should be {expected} bytes, is {len(record)}")
    pos = _SAMPLES_HEAD.size
    ref_d = np.frombuffer(record, dtype=_WIDTH_DTYPES[rw], count=n, offset=pos)
    pos += n * rw
    ts_d = np.frombuffer(record, dtype=_WIDTH_DTYPES[tw], count=n, offset=pos)
    pos += n * tw
    values = np.frombuffer(record, dtype="<f8", count=n, offset=pos).astype(np.float64)
    with np.errstate(over="ignore"):
        refs = ref_d.astype(np.int64)
        refs += np.int64(ref_base)
        ts = ts_d.astype(np.int64)
        ts += np.int64(ts_base)
    return SamplesRecord(refs, ts, values)


# -- TOMBSTONES ------------------------------------------------------------------------------------
def encode_tombstones(refs: Sequence[int] | np.ndarray, mints: Sequence[int] | np.ndarray,
                      maxts: Sequence[int] | np.ndarray) -> bytes:
    """Encode deletions: series ``refs[i]`` loses its samples in ``[mints[i], maxts[i]]`` (inclusive ms)."""
    n = len(refs)
    if len(mints) != n or len(maxts) != n:
        raise InvalidArgumentError(f"encode_tombstones: lengths differ ({n}, {len(mints)}, {len(maxts)})")
    rows = np.empty(n, dtype=_TOMBSTONE_DTYPE)
    try:
        rows["ref"] = np.asarray(refs, dtype=np.uint64) if n else []
        rows["mint"] = np.asarray(mints, dtype=np.int64) if n else []
        rows["maxt"] = np.asarray(maxts, dtype=np.int64) if n else []
    except OverflowError as err:
        raise InvalidArgumentError(f"encode_tombstones: value out of range: {err}") from err
    return bytes((RecordType.TOMBSTONES,)) + _U32.pack(n) + rows.tobytes()


def decode_tombstones(record: bytes) -> TombstonesRecord:
    """Decode a TOMBSTONES record into uint64 refs and int64 mints/maxts."""
    _check_type(record, RecordType.TOMBSTONES)
    if len(record) < 5:
        raise CorruptionError(f"tombstones record of {len(record)} bytes is shorter than its header")
    (n,) = _U32.unpack_from(record, 1)
    if 5 + n * _TOMBSTONE_DTYPE.itemsize != len(record):
        raise CorruptionError(f"tombstones record of {n} entries has wrong size {len(record)}")
    rows = np.frombuffer(record, dtype=_TOMBSTONE_DTYPE, count=n, offset=5)
    return TombstonesRecord(rows["ref"].astype(np.uint64), rows["mint"].astype(np.int64),
                            rows["maxt"].astype(np.int64))


# -- dispatch --------------------------------------------------------------------------------------
def _check_type(record: bytes, kind: RecordType) -> None:
    if not record or record[0] != kind:
        got = record[0] if record else "nothing"
        raise CorruptionError(f"expected a {kind.name} record, got type {got}")


def record_type(record: bytes) -> RecordType:
    """The type of ``record`` (its first byte); :class:`CorruptionError` if empty or unknown."""
    if not record:
        raise CorruptionError("empty record")
    try:
        return RecordType(record[0])
    except ValueError as err:
        raise CorruptionError(f"unknown record type {record[0]}") from err


def decode(record: bytes) -> Record:
    """Decode any record by its type byte; :class:`CorruptionError` on an unknown type or bad layout."""
    kind = record_type(record)
    if kind == RecordType.SERIES:
        return decode_series(record)
    if kind == RecordType.SAMPLES:
        return decode_samples(record)
    return decode_tombstones(record)
