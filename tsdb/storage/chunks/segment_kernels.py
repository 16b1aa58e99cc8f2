"""numba kernels that find and copy many chunks of one segment file in a single pass.

A chunk record is ``len <uvarint> | encoding <1> | data <len> | CRC32C(encoding + data) <4>`` (big-endian
CRC). :func:`locate_chunks` finds every record's encoding byte and data length; :func:`gather_chunks`
copies the payloads into one buffer and verifies each CRC against the memory map, without an
intermediate copy. Both report the first bad record by index instead of raising (kernels cannot build
the error message); the caller turns that into a ``CorruptionError``.

Reference: ``tests/reference/segments.py``.
"""

from __future__ import annotations

import numpy as np

from tsdb._numba import njit
from tsdb.storage.crc_kernels import crc32c_update

LOCATE_OK = 0
LOCATE_OUTSIDE = 1       # the offset is in the header or past the end of the segment
LOCATE_BAD_LENGTH = 2    # the length uvarint is truncated or longer than 5 bytes
LOCATE_PAST_END = 3      # the record runs past the end of the segment
MAX_LEN_FIELD = 5


@njit
def locate_chunks(segment: np.ndarray, offsets: np.ndarray, header_size: int, positions: np.ndarray,
                  lengths: np.ndarray) -> tuple[int, int]:
    """Fill ``positions[i]`` (index of the encoding byte) and ``lengths[i]`` (data bytes) of the record at
    ``offsets[i]``; return ``(-1, LOCATE_OK)`` or ``(index of the first bad record, LOCATE_* code)``."""
    size = segment.shape[0]
    for i in range(offsets.shape[0]):
        off = offsets[i]
        if off < header_size or off >= size:
            return i, LOCATE_OUTSIDE
        value = 0
        shift = 0
        pos = off
        done = False
        while pos < size and pos < off + MAX_LEN_FIELD:
            byte = int(segment[pos])
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                done = True
                break
            shift += 7
        if not done:
            return i, LOCATE_BAD_LENGTH
        if pos + 1 + value + 4 > size:
            return i, LOCATE_PAST_END
        positions[i] = pos
        lengths[i] = value
    return -1, LOCATE_OK


@njit
def gather_chunks(segment: np.ndarray, positions: np.ndarray, lengths: np.ndarray, tables: np.ndarray,
                  data: np.ndarray, data_offsets: np.ndarray, encodings: np.ndarray) -> int:
    """Copy each record's data to ``data[data_offsets[i]:data_offsets[i] + lengths[i]]`` and its encoding
    byte to ``encodings[i]``, verifying CRCs; return -1, or the index of the first record whose CRC differs."""
    for i in range(positions.shape[0]):
        pos = positions[i]
        n = lengths[i]
        end = pos + 1 + n
        crc = crc32c_update(tables, segment[pos:end], np.uint32(0))
        stored = ((np.uint32(segment[end]) << np.uint32(24)) | (np.uint32(segment[end + 1]) << np.uint32(16))
                  | (np.uint32(segment[end + 2]) << np.uint32(8)) | np.uint32(segment[end + 3]))
        if crc != stored:
            return i
        encodings[i] = segment[pos]
        start = data_offsets[i]
        data[start:start + n] = segment[pos + 1:end]
    return -1
