"""numba kernels for Prometheus's XOR chunk encoding (``tsdb/chunkenc/xor.go``), many chunks per call.

Layout of one chunk (see ``docs/format/xor-chunk.md``): a 2-byte big-endian sample count, the first
timestamp as a zigzag varint, the first value as 64 raw bits, the second timestamp delta as a uvarint
and the second value XOR-encoded, then for each further sample a delta-of-delta timestamp in one of five
buckets and an XOR-encoded value. The bit stream is padded with zero bits to a whole byte, plus the
empty trailing byte Prometheus's bit stream leaves in some cases (see the format doc).

Writers keep a 64-bit accumulator and store whole big-endian words; readers load a big-endian 64-bit
window at the current bit position (57 valid bits at least) and shift. The bit writer and reader are
inner functions of the kernels: numba inlines those, whereas a call to another kernel taking an array
costs two atomic reference-count updates, which dominated the per-sample time. Readers never touch a byte
outside ``[start, end)`` of their chunk: the window is zero-filled past the end and a per-sample check
turns reading past the end into an error code.

Values travel as their uint64 bit patterns (``float64[].view(uint64)``), so NaN payloads survive.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tsdb._numba import jit_enabled, njit

# Status codes returned by the decoder (0 = ok); the Python wrapper turns them into CorruptionError.
OK = 0
ERR_SHORT_HEADER = 1
ERR_TRUNCATED = 2
ERR_VARINT_OVERFLOW = 3
ERR_BAD_WIDTH = 4

ERROR_MESSAGES = {
    ERR_SHORT_HEADER: "XOR chunk shorter than its 2-byte sample count",
    ERR_TRUNCATED: "XOR chunk ends before its declared sample count",
    ERR_VARINT_OVERFLOW: "XOR chunk timestamp varint overflows 64 bits",
    ERR_BAD_WIDTH: "XOR chunk value has leading zeros + significant bits > 64",
}

# Upper bound of encoded bytes: per chunk 2 (count) + 10 (varint) + 8 (value) + 10 (uvarint), per further
# sample 68 bits of timestamp + 77 bits of value, plus one byte of padding and one trailing empty byte.
MAX_CHUNK_OVERHEAD = 32
MAX_BYTES_PER_SAMPLE = 19

if jit_enabled():
    from numba.cpython.unsafe import numbers as _unsafe_numbers

    # LLVM's ctlz/cttz intrinsics (typed Any: numba's intrinsic objects confuse mypy).
    _clz_intrinsic: Any = _unsafe_numbers.leading_zeros
    _ctz_intrinsic: Any = _unsafe_numbers.trailing_zeros

    @njit
    def _clz(x: np.uint64) -> int:
        """Leading zero bits of a uint64 (64 for 0)."""
        return np.int64(_clz_intrinsic(x))  # type: ignore[return-value]

    @njit
    def _ctz(x: np.uint64) -> int:
        """Trailing zero bits of a uint64 (64 for 0)."""
        return np.int64(_ctz_intrinsic(x))  # type: ignore[return-value]

else:  # NUMBA_DISABLE_JIT: intrinsics cannot run as Python

    def _clz(x: np.uint64) -> int:
        """Leading zero bits of a uint64 (64 for 0)."""
        return 64 - int(x).bit_length()

    def _ctz(x: np.uint64) -> int:
        """Trailing zero bits of a uint64 (64 for 0)."""
        v = int(x)
        return 64 if v == 0 else (v & -v).bit_length() - 1


_U1 = np.uint64(1)
_U8 = np.uint64(8)
_UFF = np.uint64(0xFF)


# --------------------------------------------------------------------------------------------- writer


@njit
def encode_kernel(ts: np.ndarray, vbits: np.ndarray, offsets: np.ndarray, out: np.ndarray,
                  chunk_offsets: np.ndarray) -> int:
    """Encode chunk i from samples ``offsets[i]:offsets[i+1]`` of ``ts`` (int64) / ``vbits`` (uint64).

    Payloads are written back to back into ``out`` (uint8, at least ``MAX_CHUNK_OVERHEAD`` bytes per chunk
    plus ``MAX_BYTES_PER_SAMPLE`` per sample plus 8); ``chunk_offsets`` (int64[n+1]) receives their byte
    offsets. Each chunk must hold at most 65535 samples (the caller checks). Returns the bytes used.
    """
    # The bit writer is a set of inner functions that numba inlines (no per-call reference counting of
    # ``out``). State travels as (pos, acc, nacc): ``acc`` holds ``nacc`` (< 64) pending bits in its low
    # end; full 64-bit words are stored big-endian at byte ``pos``.

    def put(pos: int, acc: np.uint64, nacc: int, value: np.uint64, nbits: int) -> tuple[int, np.uint64, int]:
        """Append the low ``nbits`` (1..64) of ``value`` (already masked)."""
        free = 64 - nacc
        if nbits < free:
            return pos, (acc << np.uint64(nbits)) | value, nacc + nbits
        rem = nbits - free
        if nacc == 0:
            word = value  # nbits == 64, rem == 0
        elif rem == 0:
            word = (acc << np.uint64(free)) | value
        else:
            word = (acc << np.uint64(free)) | (value >> np.uint64(rem))
        u = np.uint64(pos)
        out[u] = np.uint8(word >> np.uint64(56))
        out[u + _U1] = np.uint8((word >> np.uint64(48)) & _UFF)
        out[u + np.uint64(2)] = np.uint8((word >> np.uint64(40)) & _UFF)
        out[u + np.uint64(3)] = np.uint8((word >> np.uint64(32)) & _UFF)
        out[u + np.uint64(4)] = np.uint8((word >> np.uint64(24)) & _UFF)
        out[u + np.uint64(5)] = np.uint8((word >> np.uint64(16)) & _UFF)
        out[u + np.uint64(6)] = np.uint8((word >> _U8) & _UFF)
        out[u + np.uint64(7)] = np.uint8(word & _UFF)
        if rem == 0:
            return pos + 8, np.uint64(0), 0
        return pos + 8, value & ((_U1 << np.uint64(rem)) - _U1), rem

    def put_uvarint(pos: int, acc: np.uint64, nacc: int, u: np.uint64) -> tuple[int, np.uint64, int]:
        """Append ``u`` as a Go uvarint (7 bits per byte, low groups first, high bit = more)."""
        while u >= np.uint64(0x80):
            pos, acc, nacc = put(pos, acc, nacc, (u & np.uint64(0x7F)) | np.uint64(0x80), 8)
            u = u >> np.uint64(7)
        return put(pos, acc, nacc, u, 8)

    def put_value(pos: int, acc: np.uint64, nacc: int, vdelta: np.uint64, lead_prev: int,
                  trail_prev: int) -> tuple[int, np.uint64, int, int, int, bool]:
        """Append one XOR-encoded value delta; returns (pos, acc, nacc, leading, trailing, aligned) after it.

        ``lead_prev == 0xFF`` means no window yet (second sample of a chunk), forcing the ``11`` form.
        ``aligned`` is true when the last write was a whole number of bytes starting on a byte boundary
        (Prometheus's bit stream then ends with an extra empty byte).
        """
        if vdelta == np.uint64(0):
            pos, acc, nacc = put(pos, acc, nacc, np.uint64(0), 1)
            return pos, acc, nacc, lead_prev, trail_prev, False
        lead = _clz(vdelta)
        trail = _ctz(vdelta)
        if lead >= 32:
            lead = 31
        if lead_prev != 0xFF and lead >= lead_prev and trail >= trail_prev:
            mbits = 64 - lead_prev - trail_prev
            pos, acc, nacc = put(pos, acc, nacc, np.uint64(0b10), 2)
            aligned = (nacc & 7) == 0 and (mbits & 7) == 0
            pos, acc, nacc = put(pos, acc, nacc, vdelta >> np.uint64(trail_prev), mbits)
            return pos, acc, nacc, lead_prev, trail_prev, aligned
        sig = 64 - lead - trail
        head = (np.uint64(0b11) << np.uint64(11)) | (np.uint64(lead) << np.uint64(6)) | np.uint64(sig & 63)
        pos, acc, nacc = put(pos, acc, nacc, head, 13)
        aligned = (nacc & 7) == 0 and (sig & 7) == 0
        pos, acc, nacc = put(pos, acc, nacc, vdelta >> np.uint64(trail), sig)
        return pos, acc, nacc, lead, trail, aligned

    def put_dod(pos: int, acc: np.uint64, nacc: int, dod: np.int64) -> tuple[int, np.uint64, int]:
        """Append a timestamp delta-of-delta in its bucket (0 | 10+14 | 110+17 | 1110+20 | 1111+64 bits)."""
        u = np.uint64(dod)
        if dod == 0:
            return put(pos, acc, nacc, np.uint64(0), 1)
        if -8191 <= dod <= 8192:
            return put(pos, acc, nacc, (np.uint64(0b10) << np.uint64(14)) | (u & np.uint64(0x3FFF)), 16)
        if -65535 <= dod <= 65536:
            return put(pos, acc, nacc, (np.uint64(0b110) << np.uint64(17)) | (u & np.uint64(0x1FFFF)), 20)
        if -524287 <= dod <= 524288:
            return put(pos, acc, nacc, (np.uint64(0b1110) << np.uint64(20)) | (u & np.uint64(0xFFFFF)), 24)
        pos, acc, nacc = put(pos, acc, nacc, np.uint64(0b1111), 4)
        return put(pos, acc, nacc, u, 64)

    pos = 0
    nchunks = offsets.shape[0] - 1
    chunk_offsets[0] = 0
    for c in range(nchunks):
        s = offsets[c]
        e = offsets[c + 1]
        n = e - s
        acc = np.uint64(0)
        nacc = 0
        pos, acc, nacc = put(pos, acc, nacc, np.uint64(n), 16)
        if n > 0:
            t = ts[s]
            zig = (np.uint64(t) << _U1) ^ np.uint64(t >> 63)
            pos, acc, nacc = put_uvarint(pos, acc, nacc, zig)
            v = vbits[s]
            pos, acc, nacc = put(pos, acc, nacc, v, 64)
            lead = 0xFF
            trail = 0
            tdelta = np.int64(0)
            aligned = True  # the 64 raw bits of the first value start on a byte boundary
            if n > 1:
                tdelta = ts[s + 1] - t
                t = ts[s + 1]
                pos, acc, nacc = put_uvarint(pos, acc, nacc, np.uint64(tdelta))
                nv = vbits[s + 1]
                pos, acc, nacc, lead, trail, aligned = put_value(pos, acc, nacc, nv ^ v, lead, trail)
                v = nv
            for i in range(s + 2, e):
                nt = ts[i]
                nd = nt - t
                pos, acc, nacc = put_dod(pos, acc, nacc, nd - tdelta)
                tdelta = nd
                t = nt
                nv = vbits[i]
                pos, acc, nacc, lead, trail, aligned = put_value(pos, acc, nacc, nv ^ v, lead, trail)
                v = nv
        else:
            aligned = False
        # Pad the pending bits with zeros to whole bytes.
        if nacc > 0:
            word = acc << np.uint64(64 - nacc)
            for k in range((nacc + 7) // 8):
                out[pos] = np.uint8((word >> np.uint64(56 - 8 * k)) & _UFF)
                pos += 1
        if aligned:
            # Prometheus's bstream appends a fresh byte after every whole byte it writes on a byte
            # boundary; when the stream ends right there, that empty byte is part of the chunk.
            out[pos] = np.uint8(0)
            pos += 1
        chunk_offsets[c + 1] = pos
    return pos


# --------------------------------------------------------------------------------------------- sizing


@njit
def _value_bits(vdelta: np.uint64, lead_prev: int, trail_prev: int) -> tuple[int, int, int]:
    """Bits the XOR form of ``vdelta`` takes; returns (bits, leading, trailing) after it."""
    if vdelta == np.uint64(0):
        return 1, lead_prev, trail_prev
    lead = _clz(vdelta)
    trail = _ctz(vdelta)
    if lead >= 32:
        lead = 31
    if lead_prev != 0xFF and lead >= lead_prev and trail >= trail_prev:
        return 2 + 64 - lead_prev - trail_prev, lead_prev, trail_prev
    return 13 + 64 - lead - trail, lead, trail


@njit
def _dod_bits(dod: np.int64) -> int:
    """Bits a timestamp delta-of-delta takes."""
    if dod == 0:
        return 1
    if -8191 <= dod <= 8192:
        return 16
    if -65535 <= dod <= 65536:
        return 20
    if -524287 <= dod <= 524288:
        return 24
    return 68


@njit
def _varint_bits(u: np.uint64) -> int:
    """Bits a uvarint of ``u`` takes."""
    nbytes = 1
    while u >= np.uint64(0x80):
        u = u >> np.uint64(7)
        nbytes += 1
    return 8 * nbytes


@njit
def cut_kernel(ts: np.ndarray, vbits: np.ndarray, series_offsets: np.ndarray, target: int, max_samples: int,
               max_bytes: int, out: np.ndarray) -> int:
    """Cut each series ``series_offsets[s]:series_offsets[s+1]`` into chunks; returns the chunk count k.

    Writes the chunks' sample offsets (absolute, into ``ts``) to ``out[0:k+1]``; ``out`` needs room for
    one entry per sample plus one per series plus one. A series' remaining samples are split evenly into
    ``max(round(rest/target), ceil(rest/max_samples))`` chunks; a chunk is also closed after the sample
    that makes its encoding exceed ``max_bytes`` (as Prometheus cuts a head chunk once its bytes pass
    the limit), and the rest of the series is planned again. Empty series get no chunk.
    """
    out[0] = series_offsets[0]
    nchunks = 0
    for sidx in range(series_offsets.shape[0] - 1):
        i = series_offsets[sidx]
        n_end = series_offsets[sidx + 1]
        while i < n_end:
            rest = n_end - i
            k = (rest + target // 2) // target
            k = max(k, (rest + max_samples - 1) // max_samples, 1)
            size = (rest + k - 1) // k
            bits = 16 + _varint_bits((np.uint64(ts[i]) << _U1) ^ np.uint64(ts[i] >> 63)) + 64
            j = i + 1
            lead = 0xFF
            trail = 0
            tdelta = np.int64(0)
            while j < i + size and (bits + 7) // 8 <= max_bytes:
                nd = ts[j] - ts[j - 1]
                if j == i + 1:
                    bits += _varint_bits(np.uint64(nd))
                else:
                    bits += _dod_bits(nd - tdelta)
                tdelta = nd
                vb, lead, trail = _value_bits(vbits[j] ^ vbits[j - 1], lead, trail)
                bits += vb
                j += 1
            nchunks += 1
            out[nchunks] = j
            i = j
    return nchunks


# --------------------------------------------------------------------------------------------- reader


@njit
def _read_uvarint(data: np.ndarray, b: int, end: int) -> tuple[int, np.uint64, int]:
    """Read a Go uvarint at byte ``b``; returns (status, value, byte after it)."""
    x = np.uint64(0)
    shift = 0
    for k in range(10):
        if b >= end:
            return ERR_TRUNCATED, x, b
        byte = data[b]
        b += 1
        if byte < 0x80:
            if k == 9 and byte > 1:
                return ERR_VARINT_OVERFLOW, x, b - 1
            return OK, x | (np.uint64(byte) << np.uint64(shift)), b
        x = x | (np.uint64(byte & 0x7F) << np.uint64(shift))
        shift += 7
    return ERR_VARINT_OVERFLOW, x, b - 1


@njit
def decode_kernel(data: np.ndarray, chunk_offsets: np.ndarray, sample_offsets: np.ndarray, dest: np.ndarray,
                  ts_out: np.ndarray, v_out: np.ndarray) -> tuple[int, int, int]:
    """Decode chunk i = ``data[chunk_offsets[i]:chunk_offsets[i+1]]`` (``sample_offsets[i+1] - sample_offsets[i]``
    samples) into ``[dest[i]:dest[i] + that count]``; ``dest = sample_offsets[:-1]`` packs them in order.

    ``sample_offsets`` comes from the chunks' count headers (``count_kernel``); ``ts_out`` is int64,
    ``v_out`` uint64 (value bits). Returns (status, chunk index, byte offset in ``data``); status 0 = ok.
    Stops at the first bad chunk. Never reads outside a chunk's byte range.
    """
    # The bit reader is a pair of inner functions: numba inlines them, so the hot loop makes no calls
    # (a call taking an array costs two atomic reference-count updates).
    end = 0

    def peek(bitpos: int) -> np.uint64:
        """The 64 bits from ``bitpos`` on, left-aligned (>= 57 real bits); bytes past ``end`` read 0."""
        b = bitpos >> 3
        if b + 8 <= end:
            # Unsigned indices spare numba's negative-index fix-up, so LLVM merges the eight byte
            # loads into one load + byte swap.
            u = np.uint64(b)
            w = ((np.uint64(data[u]) << np.uint64(56)) | (np.uint64(data[u + _U1]) << np.uint64(48))
                 | (np.uint64(data[u + np.uint64(2)]) << np.uint64(40))
                 | (np.uint64(data[u + np.uint64(3)]) << np.uint64(32))
                 | (np.uint64(data[u + np.uint64(4)]) << np.uint64(24))
                 | (np.uint64(data[u + np.uint64(5)]) << np.uint64(16))
                 | (np.uint64(data[u + np.uint64(6)]) << _U8) | np.uint64(data[u + np.uint64(7)]))
        else:
            w = np.uint64(0)
            for k in range(8):
                w = w << _U8
                if b + k < end:
                    w = w | np.uint64(data[b + k])
        return w << np.uint64(bitpos & 7)

    def field(w: np.uint64, shift: int, mask: int) -> int:
        """``(w >> shift) & mask`` as an int64."""
        return np.int64((w >> np.uint64(shift)) & np.uint64(mask))  # type: ignore[return-value]

    def read(bitpos: int, nbits: int) -> np.uint64:
        """The ``nbits`` (1..64) bits at ``bitpos`` as an unsigned integer."""
        if nbits <= 57:
            return peek(bitpos) >> np.uint64(64 - nbits)
        hi = peek(bitpos) >> np.uint64(32)
        lo = peek(bitpos + 32) >> np.uint64(96 - nbits)
        return (hi << np.uint64(nbits - 32)) | lo

    for c in range(chunk_offsets.shape[0] - 1):
        start = chunk_offsets[c]
        end = chunk_offsets[c + 1]
        if end - start < 2:
            return ERR_SHORT_HEADER, c, start
        o = dest[c]
        n = sample_offsets[c + 1] - sample_offsets[c]
        if n == 0:
            continue
        status, zig, b = _read_uvarint(data, start + 2, end)
        if status != OK:
            return status, c, b
        t = np.int64(zig >> _U1) ^ -np.int64(zig & _U1)
        if b + 8 > end:
            return ERR_TRUNCATED, c, end
        v = read(8 * b, 64)
        ts_out[o] = t
        v_out[o] = v
        if n == 1:
            continue
        status, ud, b = _read_uvarint(data, b + 8, end)
        if status != OK:
            return status, c, b
        tdelta = np.int64(ud)
        endbits = 8 * end
        p = 8 * b
        lead = 0
        trail = 0
        for i in range(1, n):
            if i > 1:
                w = peek(p)
                if (w >> np.uint64(63)) == np.uint64(0):
                    p += 1
                elif (w >> np.uint64(62)) == np.uint64(0b10):
                    bits = field(w, 48, 0x3FFF)
                    if bits > 8192:
                        bits -= 16384
                    tdelta += bits
                    p += 16
                elif (w >> np.uint64(61)) == np.uint64(0b110):
                    bits = field(w, 44, 0x1FFFF)
                    if bits > 65536:
                        bits -= 131072
                    tdelta += bits
                    p += 20
                elif (w >> np.uint64(60)) == np.uint64(0b1110):
                    bits = field(w, 40, 0xFFFFF)
                    if bits > 524288:
                        bits -= 1048576
                    tdelta += bits
                    p += 24
                else:
                    tdelta += np.int64(read(p + 4, 64))
                    p += 68
            t += tdelta
            w = peek(p)
            if (w >> np.uint64(63)) != np.uint64(0):
                if (w >> np.uint64(62)) == np.uint64(0b11):
                    lead = field(w, 57, 31)
                    mbits = field(w, 51, 63)
                    if mbits == 0:
                        mbits = 64
                    trail = 64 - lead - mbits
                    if trail < 0:
                        return ERR_BAD_WIDTH, c, p >> 3
                    ctrl = 13
                else:
                    ctrl = 2
                    mbits = 64 - lead - trail
                if ctrl + mbits <= 57:
                    payload = (w << np.uint64(ctrl)) >> np.uint64(64 - mbits)
                else:
                    payload = read(p + ctrl, mbits)
                v = v ^ (payload << np.uint64(trail))
                p += ctrl + mbits
            else:
                p += 1
            if p > endbits:
                return ERR_TRUNCATED, c, end
            ts_out[o + i] = t
            v_out[o + i] = v
    return OK, 0, 0


@njit
def count_kernel(data: np.ndarray, chunk_offsets: np.ndarray, sample_offsets: np.ndarray) -> int:
    """Fill ``sample_offsets`` (int64[n+1]) from the chunks' 2-byte count headers.

    Returns -1 when all chunks have a header, else the index of the first chunk shorter than 2 bytes.
    """
    sample_offsets[0] = 0
    for c in range(chunk_offsets.shape[0] - 1):
        s = chunk_offsets[c]
        if chunk_offsets[c + 1] - s < 2:
            return c
        sample_offsets[c + 1] = sample_offsets[c] + ((np.int64(data[s]) << 8) | np.int64(data[s + 1]))
    return -1
