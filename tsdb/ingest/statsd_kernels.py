"""StatsD / DogStatsD kernels: datagram tokeniser, series keys, gauge updates (references in tests/reference/statsd.py).

:func:`tokenize` splits one datagram into lines and each line into byte spans, validating the grammar
(numbers included) so that every value token it returns parses as a float; nothing is decoded to ``str``.
Field layout of one line (row of ``fields``), all byte offsets into the datagram, end exclusive:

``F_START`` line start, ``F_COLON`` the first ``:`` (end of the name), ``F_PIPE`` the first ``|`` after it (end
of the values), ``F_TYPE`` type code (``T_*``), ``F_RATE0/1`` the sample rate text after ``@`` (equal when
absent), ``F_TAGS0/1`` the tag text after ``#``, ``F_CONT0/1`` the container id after ``c:``, ``F_TS`` the ``T``
Unix seconds (-1 when absent), ``F_ERR`` the outcome (``E_*``), ``F_TOK0/1`` the line's value tokens (rows of
``tokens``), ``F_END`` line end.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tsdb._numba import njit

F_START, F_COLON, F_PIPE, F_TYPE, F_RATE0, F_RATE1, F_TAGS0, F_TAGS1 = 0, 1, 2, 3, 4, 5, 6, 7
F_CONT0, F_CONT1, F_TS, F_ERR, F_TOK0, F_TOK1, F_END = 8, 9, 10, 11, 12, 13, 14
N_FIELDS = 15

T_NONE, T_COUNTER, T_GAUGE, T_TIMER, T_HISTOGRAM, T_DISTRIBUTION, T_SET = 0, 1, 2, 3, 4, 5, 6

E_OK, E_EMPTY, E_IGNORED = 0, 1, 2
E_MALFORMED_LINE, E_BAD_TYPE, E_BAD_VALUE, E_BAD_RATE, E_BAD_TIMESTAMP, E_BAD_COMPONENT = 3, 4, 5, 6, 7, 8
ERROR_REASONS = ("", "", "", "malformed_line", "bad_type", "bad_value", "bad_sample_rate", "bad_timestamp",
                 "bad_component")
"""``tsdb_statsd_lines_rejected_total{reason}`` of each ``E_*`` code (the first three are not errors)."""

MAX_NUMBER_BYTES = 32
"""Longest value or sample-rate text accepted (the width :func:`pack_tokens` copies into)."""

_NL, _CR, _COLON, _PIPE, _AT, _HASH = 10, 13, 58, 124, 64, 35


@njit
def is_number(buf: npt.NDArray[np.uint8], start: int, end: int) -> bool:
    """Whether ``buf[start:end]`` is ``[+-]digits[.digits][(e|E)[+-]digits]`` (a leading or trailing ``.`` allowed
    with digits on the other side), at most ``MAX_NUMBER_BYTES`` long."""
    if end - start < 1 or end - start > MAX_NUMBER_BYTES:
        return False
    i = start
    if buf[i] == 43 or buf[i] == 45:
        i += 1
    digits = 0
    while i < end and 48 <= buf[i] <= 57:
        i += 1
        digits += 1
    if i < end and buf[i] == 46:
        i += 1
        while i < end and 48 <= buf[i] <= 57:
            i += 1
            digits += 1
    if digits == 0:
        return False
    if i < end and (buf[i] == 101 or buf[i] == 69):
        i += 1
        if i < end and (buf[i] == 43 or buf[i] == 45):
            i += 1
        exp = 0
        while i < end and 48 <= buf[i] <= 57:
            i += 1
            exp += 1
        if exp == 0:
            return False
    return i == end


@njit
def _type_code(buf: npt.NDArray[np.uint8], start: int, end: int) -> int:
    n = end - start
    if n == 1:
        c = buf[start]
        if c == 99:  # c
            return T_COUNTER
        if c == 103:  # g
            return T_GAUGE
        if c == 104:  # h
            return T_HISTOGRAM
        if c == 100:  # d
            return T_DISTRIBUTION
        if c == 115:  # s
            return T_SET
    elif n == 2 and buf[start] == 109 and buf[start + 1] == 115:  # ms
        return T_TIMER
    return T_NONE


@njit
def _starts_with(buf: npt.NDArray[np.uint8], start: int, end: int, prefix: npt.NDArray[np.uint8]) -> bool:
    if end - start < len(prefix):
        return False
    for k in range(len(prefix)):  # noqa: SIM110 (numba: no generator in all())
        if buf[start + k] != prefix[k]:
            return False
    return True


@njit
def _parse_line(buf: npt.NDArray[np.uint8], start: int, end: int, row: npt.NDArray[np.int64],
                tokens: npt.NDArray[np.int64], n_tok: int) -> int:
    """Fill ``row`` for ``buf[start:end]`` (no newline inside); returns the new token count."""
    row[F_START], row[F_END], row[F_TS] = start, end, -1
    row[F_TOK0], row[F_TOK1] = n_tok, n_tok
    if start == end:
        row[F_ERR] = E_EMPTY
        return n_tok
    event = np.array([95, 101, 123], np.uint8)  # _e{
    check = np.array([95, 115, 99, 124], np.uint8)  # _sc|
    if _starts_with(buf, start, end, event) or _starts_with(buf, start, end, check):
        row[F_ERR] = E_IGNORED
        return n_tok
    colon = -1
    for i in range(start, end):
        if buf[i] == _COLON:
            colon = i
            break
    if colon <= start:
        row[F_ERR] = E_MALFORMED_LINE
        return n_tok
    pipe = -1
    for i in range(colon + 1, end):
        if buf[i] == _PIPE:
            pipe = i
            break
    if pipe < 0:
        row[F_ERR] = E_MALFORMED_LINE
        return n_tok
    row[F_COLON], row[F_PIPE] = colon, pipe
    # the type: up to the next '|'
    type_end = end
    for i in range(pipe + 1, end):
        if buf[i] == _PIPE:
            type_end = i
            break
    kind = _type_code(buf, pipe + 1, type_end)
    row[F_TYPE] = kind
    if kind == T_NONE:
        row[F_ERR] = E_BAD_TYPE
        return n_tok
    # the optional sections
    row[F_RATE0] = row[F_RATE1] = row[F_TAGS0] = row[F_TAGS1] = row[F_CONT0] = row[F_CONT1] = end
    pos = type_end
    while pos < end:
        sec = pos + 1
        sec_end = end
        for i in range(sec, end):
            if buf[i] == _PIPE:
                sec_end = i
                break
        if sec_end == sec:
            row[F_ERR] = E_BAD_COMPONENT
            return n_tok
        c = buf[sec]
        if c == _AT:
            if not is_number(buf, sec + 1, sec_end):
                row[F_ERR] = E_BAD_RATE
                return n_tok
            row[F_RATE0], row[F_RATE1] = sec + 1, sec_end
        elif c == _HASH:
            row[F_TAGS0], row[F_TAGS1] = sec + 1, sec_end
        elif c == 99 and sec_end - sec > 2 and buf[sec + 1] == _COLON:  # c:<container id>
            row[F_CONT0], row[F_CONT1] = sec + 2, sec_end
        elif c == 84:  # T<unix seconds>
            n = sec_end - sec - 1
            if n < 1 or n > 12:
                row[F_ERR] = E_BAD_TIMESTAMP
                return n_tok
            ts = 0
            for i in range(sec + 1, sec_end):
                d = buf[i]
                if d < 48 or d > 57:
                    row[F_ERR] = E_BAD_TIMESTAMP
                    return n_tok
                ts = ts * 10 + (d - 48)
            row[F_TS] = ts
        else:
            row[F_ERR] = E_BAD_COMPONENT
            return n_tok
        pos = sec_end
    # the values: one set member, or ':'-separated numbers
    if pipe == colon + 1:
        row[F_ERR] = E_BAD_VALUE
        return n_tok
    first = n_tok
    if kind == T_SET:
        tokens[n_tok, 0], tokens[n_tok, 1] = colon + 1, pipe
        n_tok += 1
    else:
        tok = colon + 1
        for i in range(colon + 1, pipe + 1):
            if i == pipe or buf[i] == _COLON:
                if not is_number(buf, tok, i):
                    row[F_ERR] = E_BAD_VALUE
                    return first
                tokens[n_tok, 0], tokens[n_tok, 1] = tok, i
                n_tok += 1
                tok = i + 1
    row[F_ERR] = E_OK
    row[F_TOK0], row[F_TOK1] = first, n_tok
    return n_tok


@njit
def tokenize(buf: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``(fields[lines, N_FIELDS], tokens[n, 2])`` of a datagram: one row per ``\\n``-separated line (a ``\\r``
    before the newline is dropped; a trailing newline adds no line); ``tokens`` are the (start, end) of the
    value tokens of valid lines, in order."""
    n_lines = 1
    for b in buf:
        if b == _NL:
            n_lines += 1
    fields = np.zeros((n_lines, N_FIELDS), np.int64)
    tokens = np.zeros((len(buf) // 2 + 1, 2), np.int64)  # a token and its separator take >= 2 bytes
    n_tok = 0
    line = 0
    start = 0
    for i in range(len(buf) + 1):
        if i == len(buf) or buf[i] == _NL:
            if i == len(buf) and start == i and line > 0:
                break
            end = i - 1 if i > start and buf[i - 1] == _CR else i
            n_tok = _parse_line(buf, start, end, fields[line], tokens, n_tok)
            line += 1
            start = i + 1
    return fields[:line], tokens[:n_tok]


@njit
def pack_tokens(buf: npt.NDArray[np.uint8], spans: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
    """The bytes of each ``(start, end)`` span, NUL-padded into rows of ``MAX_NUMBER_BYTES`` (view the result as
    ``S32`` and ``astype(float64)`` to parse them all at once)."""
    out = np.zeros((len(spans), MAX_NUMBER_BYTES), np.uint8)
    for k in range(len(spans)):
        s, e = spans[k, 0], spans[k, 1]
        for i in range(s, min(e, s + MAX_NUMBER_BYTES)):
            out[k, i - s] = buf[i]
    return out


@njit
def apply_gauges(current: npt.NDArray[np.float64], ids: npt.NDArray[np.int64], values: npt.NDArray[np.float64],
                 relative: npt.NDArray[np.bool_]) -> None:
    """Apply gauge updates in arrival order, in place: ``current[ids[k]]`` becomes ``values[k]``, or grows by it
    when ``relative[k]`` (a ``+N``/``-N`` value)."""
    for k in range(len(ids)):
        if relative[k]:
            current[ids[k]] += values[k]
        else:
            current[ids[k]] = values[k]


_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
KEY_SEPARATOR = 0xFF
"""Separates the parts of a line's series key (never valid inside UTF-8 text)."""


@njit
def _key_byte(buf: npt.NDArray[np.uint8], row: npt.NDArray[np.int64], k: int) -> int:
    """Byte ``k`` of the line's series key ``name 0xFF type 0xFF tags 0xFF container``, -1 past its end."""
    parts_start = (row[F_START], -1, row[F_TAGS0], row[F_CONT0])
    parts_end = (row[F_COLON], -1, row[F_TAGS1], row[F_CONT1])
    for p in range(4):
        n = 1 if p == 1 else parts_end[p] - parts_start[p]
        if k < n:
            return int(row[F_TYPE]) if p == 1 else int(buf[parts_start[p] + k])
        k -= n
        if p < 3:
            if k == 0:
                return KEY_SEPARATOR
            k -= 1
    return -1


@njit
def key_length(row: npt.NDArray[np.int64]) -> int:
    """Bytes in the line's series key (see :func:`_key_byte`)."""
    return (row[F_COLON] - row[F_START]) + 1 + (row[F_TAGS1] - row[F_TAGS0]) + (row[F_CONT1] - row[F_CONT0]) + 3


@njit
def line_keys(buf: npt.NDArray[np.uint8], rows: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
    """FNV-1a 64 of each line's series key ``name 0xFF type-code 0xFF tags 0xFF container``."""
    out = np.empty(len(rows), np.uint64)
    for j in range(len(rows)):
        h = _FNV_OFFSET
        row = rows[j]
        for k in range(key_length(row)):
            h = (h ^ np.uint64(_key_byte(buf, row, k))) * _FNV_PRIME
        out[j] = h
    return out


@njit
def match_keys(buf: npt.NDArray[np.uint8], rows: npt.NDArray[np.int64], hashes: npt.NDArray[np.uint64],
               table_hash: npt.NDArray[np.uint64], arena: npt.NDArray[np.uint8], key_start: npt.NDArray[np.int64],
               key_end: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """For each line, the index of the table entry whose key bytes (``arena[key_start:key_end]``) equal the
    line's series key, or -1; ``table_hash`` (the keys' :func:`line_keys` hashes) is sorted."""
    out = np.full(len(rows), -1, np.int64)
    for j in range(len(rows)):
        i = np.searchsorted(table_hash, hashes[j])
        row = rows[j]
        n = key_length(row)
        while i < len(table_hash) and table_hash[i] == hashes[j]:
            if key_end[i] - key_start[i] == n:
                same = True
                for k in range(n):
                    if arena[key_start[i] + k] != _key_byte(buf, row, k):
                        same = False
                        break
                if same:
                    out[j] = i
                    break
            i += 1
    return out
