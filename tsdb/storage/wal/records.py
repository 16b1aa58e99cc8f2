"""WAL record types: SERIES, SAMPLES and TOMBSTONES, encoded to and decoded from bytes.

The WAL itself (:mod:`tsdb.storage.wal.writer`) stores opaque byte records; this module gives them meaning.
The first byte of every record is its :class:`RecordType`. The payloads are exactly Prometheus's
(``tsdb/record`` package, types 1-3), so promtool and Prometheus replay our WAL and checkpoints; the byte
layouts are specified in ``docs/format/wal.md``. Fixed-width integers are big-endian; signed varints zigzag.

Decoding never trusts a length field: every count is checked against the bytes actually present
before anything is allocated, and a malformed record raises :class:`CorruptionError`.
SAMPLES encode and decode are one numba kernel call per record (no per-sample Python).
"""

from __future__ import annotations

import enum
import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tsdb.errors import CorruptionError, InvalidArgumentError, TsdbError
from tsdb.labels import Labels
from tsdb.storage.encoding import put_uvarint, put_varint, read_uvarint, read_varint, zigzag
from tsdb.storage.wal.records_kernels import (
    SAMPLES_ERROR_NAMES,
    SAMPLES_OK,
    decode_samples_body,
    encode_samples_body,
)

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

_BE64 = struct.Struct(">Q")
# SAMPLES header after the type byte: the first sample's ref and timestamp, both u64 big-endian.
_SAMPLES_BASE = struct.Struct(">Qq")
# The most bytes one sample takes: two 10-byte varints and an 8-byte value.
_MAX_SAMPLE_BYTES = 28


# -- SERIES ----------------------------------------------------------------------------------------
def encode_series(refs: Sequence[int] | np.ndarray, labels_list: Sequence[Labels]) -> bytes:
    """Encode series definitions: ``refs[i]`` (0 <= ref < 2**64) is the series ``labels_list[i]``.

    Layout (Prometheus ``record.Series``): type byte 1, then per series ``ref u64 BE | uvarint label count
    | (uvarint len, bytes) name, value ...`` with the labels in sorted order.
    """
    if len(refs) != len(labels_list):
        raise InvalidArgumentError(f"encode_series: {len(refs)} refs but {len(labels_list)} label sets")
    out = bytearray((RecordType.SERIES,))
    for ref, labels in zip(refs, labels_list, strict=True):
        ref = int(ref)
        if not 0 <= ref < 1 << 64:
            raise InvalidArgumentError(f"encode_series: series ref {ref} out of uint64 range")
        out += _BE64.pack(ref)
        put_uvarint(out, len(labels))
        for name, value in labels.items():
            for text in (name, value):
                raw = text.encode()
                put_uvarint(out, len(raw))
                out += raw
    return bytes(out)


def decode_series(record: bytes) -> SeriesRecord:
    """Decode a SERIES record; raises :class:`CorruptionError` if malformed.

    Hot at replay (one call per series): one-byte varints are read inline, label names are decoded and
    interned once per record, and label sets already sorted (as Prometheus and we write them) are wrapped
    without re-sorting; anything else goes through the checking :class:`Labels` constructor.
    """
    _check_type(record, RecordType.SERIES)
    refs: list[int] = []
    labels_list: list[Labels] = []
    names: dict[bytes, str] = {}
    n = len(record)
    pos = 1
    try:
        while pos < n:
            if pos + 8 > n:
                raise IndexError(f"series ref at offset {pos} runs past the end")
            ref = int.from_bytes(record[pos:pos + 8], "big")
            pos += 8
            nlabels = record[pos]
            if nlabels < 0x80:
                pos += 1
            else:
                nlabels, pos = read_uvarint(record, pos, n)
            # each label takes at least 2 bytes: bound the count before building anything
            if nlabels * 2 > n - pos:
                raise CorruptionError(f"series record: series {ref} claims {nlabels} labels in {n - pos} bytes",
                                      offset=pos)
            flat: list[str] = []
            ordered = True
            previous = ""
            for _ in range(nlabels):
                size = record[pos]
                if size < 0x80:
                    pos += 1
                else:
                    size, pos = read_uvarint(record, pos, n)
                end = pos + size
                if end > n:
                    raise IndexError(f"label name at offset {pos} runs past the end")
                raw = record[pos:end]
                name = names.get(raw)
                if name is None:
                    name = names[raw] = sys.intern(raw.decode())
                pos = end
                size = record[pos]
                if size < 0x80:
                    pos += 1
                else:
                    size, pos = read_uvarint(record, pos, n)
                end = pos + size
                if end > n:
                    raise IndexError(f"label value at offset {pos} runs past the end")
                value = record[pos:end].decode()
                pos = end
                if name <= previous or not value:
                    ordered = False
                previous = name
                flat.append(name)
                flat.append(value)
            refs.append(ref)
            labels_list.append(Labels.from_sorted_flat(flat) if ordered
                               else Labels(zip(flat[::2], flat[1::2], strict=True)))
    except CorruptionError:
        raise
    except (IndexError, ValueError, UnicodeDecodeError, TsdbError) as err:
        raise CorruptionError(f"malformed series record: {err}", offset=pos) from err
    return SeriesRecord(np.array(refs, dtype=np.uint64), labels_list)


# -- SAMPLES ---------------------------------------------------------------------------------------
def encode_samples(refs: np.ndarray, ts: np.ndarray, values: np.ndarray) -> bytes:
    """Encode parallel arrays of samples (int64 refs, int64 ms timestamps, float64 values, bit-exact).

    Layout (Prometheus ``record.Samples``): type byte 2; if there are samples, the first one's ref and
    timestamp as u64 BE, then per sample ``zigzag varint (ref - first ref) | zigzag varint (ts - first ts)
    | value bits u64 BE`` (deltas in wrapping int64 arithmetic, so any int64 round-trips).
    One kernel call writes all samples.
    """
    refs = np.ascontiguousarray(refs, dtype=np.int64)
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    values = np.ascontiguousarray(values, dtype=np.float64)
    n = refs.shape[0]
    if refs.ndim != 1 or ts.shape != (n,) or values.shape != (n,):
        raise InvalidArgumentError(
            f"encode_samples: refs, ts and values must be 1-d of equal length, got "
            f"{refs.shape}, {ts.shape}, {values.shape}")
    if n == 0:
        return bytes((RecordType.SAMPLES,))
    head_size = 1 + _SAMPLES_BASE.size
    out = np.empty(head_size + n * _MAX_SAMPLE_BYTES, dtype=np.uint8)
    out[0] = RecordType.SAMPLES
    out[1:head_size] = np.frombuffer(_SAMPLES_BASE.pack(int(refs[0]) & 0xFFFF_FFFF_FFFF_FFFF, int(ts[0])), np.uint8)
    end = encode_samples_body(zigzag(refs - refs[0]), zigzag(ts - ts[0]), values.view(np.uint64), out,
                              head_size)
    return out[:end].tobytes()


def decode_samples(record: bytes) -> SamplesRecord:
    """Decode a SAMPLES record into fresh (caller-owned) int64/int64/float64 arrays (one kernel call)."""
    _check_type(record, RecordType.SAMPLES)
    if len(record) == 1:
        empty = np.empty(0, dtype=np.int64)
        return SamplesRecord(empty, empty.copy(), np.empty(0, dtype=np.float64))
    head_size = 1 + _SAMPLES_BASE.size
    if len(record) < head_size:
        raise CorruptionError(f"samples record of {len(record)} bytes is shorter than its header", offset=0)
    ref_base, ts_base = _SAMPLES_BASE.unpack_from(record, 1)
    drefs, dts, bits, err, err_pos = decode_samples_body(np.frombuffer(record, dtype=np.uint8), head_size)
    if err != SAMPLES_OK:
        raise CorruptionError(f"malformed samples record: {SAMPLES_ERROR_NAMES[err]} in sample {drefs.shape[0]}",
                              offset=int(err_pos))
    refs = drefs  # fresh arrays from the kernel: add the bases in place (wrapping, as Go's int64)
    refs += np.int64(ref_base - (1 << 64) if ref_base >= 1 << 63 else ref_base)
    dts += np.int64(ts_base)
    return SamplesRecord(refs, dts, bits.view(np.float64))


# -- TOMBSTONES ------------------------------------------------------------------------------------
def encode_tombstones(refs: Sequence[int] | np.ndarray, mints: Sequence[int] | np.ndarray,
                      maxts: Sequence[int] | np.ndarray) -> bytes:
    """Encode deletions: series ``refs[i]`` loses its samples in ``[mints[i], maxts[i]]`` (inclusive ms).

    Layout (Prometheus ``record.Tombstones``): type byte 3, then per interval
    ``ref u64 BE | zigzag varint mint | zigzag varint maxt``.
    """
    n = len(refs)
    if len(mints) != n or len(maxts) != n:
        raise InvalidArgumentError(f"encode_tombstones: lengths differ ({n}, {len(mints)}, {len(maxts)})")
    out = bytearray((RecordType.TOMBSTONES,))
    for ref, mint, maxt in zip(refs, mints, maxts, strict=True):
        ref, mint, maxt = int(ref), int(mint), int(maxt)
        if not 0 <= ref < 1 << 64 or not -(1 << 63) <= mint < 1 << 63 or not -(1 << 63) <= maxt < 1 << 63:
            raise InvalidArgumentError(f"encode_tombstones: value out of range in ({ref}, {mint}, {maxt})")
        out += _BE64.pack(ref)
        put_varint(out, mint)
        put_varint(out, maxt)
    return bytes(out)


def decode_tombstones(record: bytes) -> TombstonesRecord:
    """Decode a TOMBSTONES record into uint64 refs and int64 mints/maxts."""
    _check_type(record, RecordType.TOMBSTONES)
    refs: list[int] = []
    mints: list[int] = []
    maxts: list[int] = []
    pos = 1
    try:
        while pos < len(record):
            if pos + 8 > len(record):
                raise IndexError(f"series ref at offset {pos} runs past the end")
            (ref,) = _BE64.unpack_from(record, pos)
            mint, pos = read_varint(record, pos + 8, len(record))
            maxt, pos = read_varint(record, pos, len(record))
            refs.append(ref)
            mints.append(mint)
            maxts.append(maxt)
    except (IndexError, ValueError) as err:
        raise CorruptionError(f"malformed tombstones record: {err}", offset=pos) from err
    return TombstonesRecord(np.array(refs, dtype=np.uint64), np.array(mints, dtype=np.int64),
                            np.array(maxts, dtype=np.int64))


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
