"""Numba tokenizer of InfluxDB line protocol: one pass over a body into per-line, per-tag and per-field
offset arrays (no Python object per sample).

:func:`tokenize` fills caller-owned arrays (see :func:`tsdb.ingest.influx.parse` for their sizes) and
returns nothing; ``counts`` gets (lines, tags, fields, numeric bytes). A line with an error keeps its row
(status != OK, ``err_pos`` the byte where it was found) but contributes no tags, fields or numeric text.
Numeric field values (floats, ``i``/``u`` integers without their suffix, booleans as ``1``/``0``) are copied,
each followed by one space, into ``numbuf`` for a single vectorised float conversion afterwards.
"""

from __future__ import annotations

import numpy as np

from tsdb._numba import njit

OK = 0
ERR_MEASUREMENT = 1
ERR_TAG = 2
ERR_NO_FIELDS = 3
ERR_FIELD = 4
ERR_FIELD_VALUE = 5
ERR_STRING = 6
ERR_TIMESTAMP = 7

KIND_FLOAT = 0
KIND_INT = 1
KIND_UINT = 2
KIND_BOOL = 3
KIND_STRING = 4

# columns of ``lines``
L_NO, L_STATUS, L_ERR_POS, L_KEY_S, L_KEY_E, L_MEAS_E, L_TAG_FIRST, L_TAG_COUNT, L_FIELD_FIRST, L_FIELD_COUNT, \
    L_TS, L_HAS_TS = range(12)
LINE_COLUMNS = 12
# columns of ``tags``: key start/end, value start/end (raw, still escaped)
TAG_COLUMNS = 4
# columns of ``fields``: key start/end (raw), kind, numeric text start/end in numbuf (-1 for strings)
F_KEY_S, F_KEY_E, F_KIND, F_NUM_S, F_NUM_E = range(5)
FIELD_COLUMNS = 5

_NL = 10
_CR = 13
_SP = 32
_TAB = 9
_COMMA = 44
_EQ = 61
_QUOTE = 34
_BSL = 92
_HASH = 35
_MINUS = 45
_PLUS = 43
_DOT = 46


@njit
def _scan(buf: np.ndarray, p: int, end: int, stop_eq: bool) -> int:
    """First position at or after ``p`` holding an unescaped comma or space (or ``=`` when ``stop_eq``)."""
    while p < end:
        c = buf[p]
        if c == _BSL and p + 1 < end:
            p += 2
            continue
        if c == _COMMA or c == _SP or (stop_eq and c == _EQ):  # noqa: SIM109 (numba: no tuple membership)
            return p
        p += 1
    return end


@njit
def _is_digit(c: int) -> bool:
    return 48 <= c <= 57


@njit
def _digits(buf: np.ndarray, s: int, e: int) -> bool:
    p = s
    while p < e and _is_digit(buf[p]):
        p += 1
    return e > s and p == e


@njit
def _is_float(buf: np.ndarray, s: int, e: int) -> bool:
    """``[+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)?``"""
    p = s
    if p < e and (buf[p] == _MINUS or buf[p] == _PLUS):
        p += 1
    ds = p
    while p < e and _is_digit(buf[p]):
        p += 1
    n_int = p - ds
    n_frac = 0
    if p < e and buf[p] == _DOT:
        p += 1
        fs = p
        while p < e and _is_digit(buf[p]):
            p += 1
        n_frac = p - fs
    if n_int == 0 and n_frac == 0:
        return False
    if p < e and (buf[p] == 101 or buf[p] == 69):  # e E
        p += 1
        if p < e and (buf[p] == _MINUS or buf[p] == _PLUS):
            p += 1
        es = p
        while p < e and _is_digit(buf[p]):
            p += 1
        if p == es:
            return False
    return p == e


@njit
def _bool_value(buf: np.ndarray, s: int, e: int) -> int:
    """1 or 0 for InfluxDB's boolean spellings (t, T, true, True, TRUE, f, F, false, False, FALSE), else -1."""
    n = e - s
    if n == 1:
        c = buf[s]
        if c == 116 or c == 84:
            return 1
        if c == 102 or c == 70:
            return 0
        return -1
    word = 0
    for i in range(s, e):
        word = word * 256 + int(buf[i])
    if n == 4 and (word == 0x74727565 or word == 0x54727565 or word == 0x54525545):
        return 1
    if n == 5 and (word == 0x66616C7365 or word == 0x46616C7365 or word == 0x46414C5345):
        return 0
    return -1


@njit
def _copy(buf: np.ndarray, s: int, e: int, numbuf: np.ndarray, q: int) -> int:
    for i in range(s, e):
        numbuf[q] = buf[i]
        q += 1
    numbuf[q] = _SP
    return q + 1


@njit
def _line(buf: np.ndarray, ls: int, le: int, row: np.ndarray, tags: np.ndarray, fields: np.ndarray,
          numbuf: np.ndarray, counts: np.ndarray) -> None:
    """Tokenize one non-blank line ``buf[ls:le]`` into ``row`` and the shared arrays (see module doc)."""
    n_tags, n_fields, nq = counts[1], counts[2], counts[3]
    row[L_TAG_FIRST] = n_tags
    row[L_FIELD_FIRST] = n_fields
    row[L_KEY_S] = ls
    p = _scan(buf, ls, le, False)
    row[L_MEAS_E] = p
    if p == ls:
        row[L_STATUS], row[L_ERR_POS] = ERR_MEASUREMENT, ls
        return
    while p < le and buf[p] == _COMMA:
        ks = p + 1
        p = _scan(buf, ks, le, True)
        if p == ks or p >= le or buf[p] != _EQ:
            row[L_STATUS], row[L_ERR_POS] = ERR_TAG, ks
            return
        vs = p + 1
        p = _scan(buf, vs, le, False)
        if p == vs:
            row[L_STATUS], row[L_ERR_POS] = ERR_TAG, ks
            return
        tags[n_tags, 0], tags[n_tags, 1], tags[n_tags, 2], tags[n_tags, 3] = ks, vs - 1, vs, p
        n_tags += 1
    row[L_KEY_E] = p
    while p < le and buf[p] == _SP:
        p += 1
    if p >= le:
        row[L_STATUS], row[L_ERR_POS] = ERR_NO_FIELDS, p
        return
    while True:
        ks = p
        p = _scan(buf, ks, le, True)
        if p == ks or p >= le or buf[p] != _EQ:
            row[L_STATUS], row[L_ERR_POS] = ERR_FIELD, ks
            return
        fields[n_fields, F_KEY_S], fields[n_fields, F_KEY_E] = ks, p
        vs = p + 1
        p = vs
        if p < le and buf[p] == _QUOTE:
            p += 1
            while p < le and buf[p] != _QUOTE:
                p += 2 if buf[p] == _BSL else 1
            if p >= le:
                row[L_STATUS], row[L_ERR_POS] = ERR_STRING, vs
                return
            p += 1
            fields[n_fields, F_KIND], fields[n_fields, F_NUM_S], fields[n_fields, F_NUM_E] = KIND_STRING, -1, -1
        else:
            while p < le and buf[p] != _COMMA and buf[p] != _SP:
                p += 1
            last = buf[p - 1] if p > vs else 0
            if last == 105 and (_digits(buf, vs, p - 1) or (buf[vs] == _MINUS and _digits(buf, vs + 1, p - 1))):
                kind, te = KIND_INT, p - 1
            elif last == 117 and _digits(buf, vs, p - 1):
                kind, te = KIND_UINT, p - 1
            elif _is_float(buf, vs, p):
                kind, te = KIND_FLOAT, p
            else:
                b = _bool_value(buf, vs, p) if p > vs else -1
                if b < 0:
                    row[L_STATUS], row[L_ERR_POS] = ERR_FIELD_VALUE, vs
                    return
                kind, te = KIND_BOOL, p
            fields[n_fields, F_KIND], fields[n_fields, F_NUM_S] = kind, nq
            if kind == KIND_BOOL:
                numbuf[nq] = 49 if _bool_value(buf, vs, p) == 1 else 48
                numbuf[nq + 1] = _SP
                nq += 2
            else:
                nq = _copy(buf, vs, te, numbuf, nq)
            fields[n_fields, F_NUM_E] = nq - 1
        n_fields += 1
        if p < le and buf[p] == _COMMA:
            p += 1
            continue
        break
    if p < le and buf[p] != _SP:
        row[L_STATUS], row[L_ERR_POS] = ERR_FIELD_VALUE, p
        return
    while p < le and buf[p] == _SP:
        p += 1
    if p < le:
        ts_s = p
        neg = buf[p] == _MINUS
        if neg:
            p += 1
        ds = p
        value = 0
        while p < le and _is_digit(buf[p]):
            d = int(buf[p]) - 48
            if value > (9223372036854775807 - d) // 10:  # past int64
                row[L_STATUS], row[L_ERR_POS] = ERR_TIMESTAMP, ts_s
                return
            value = value * 10 + d
            p += 1
        if p == ds:
            row[L_STATUS], row[L_ERR_POS] = ERR_TIMESTAMP, ts_s
            return
        while p < le and buf[p] == _SP:
            p += 1
        if p < le:
            row[L_STATUS], row[L_ERR_POS] = ERR_TIMESTAMP, ts_s
            return
        row[L_TS], row[L_HAS_TS] = -value if neg else value, 1
    row[L_TAG_COUNT] = n_tags - row[L_TAG_FIRST]
    row[L_FIELD_COUNT] = n_fields - row[L_FIELD_FIRST]
    counts[1], counts[2], counts[3] = n_tags, n_fields, nq


@njit
def tokenize(buf: np.ndarray, lines: np.ndarray, tags: np.ndarray, fields: np.ndarray, numbuf: np.ndarray,
             counts: np.ndarray) -> None:
    """Split ``buf`` at ``\\n`` and tokenize every line that is neither blank nor a ``#`` comment."""
    n = len(buf)
    line_no = 0
    start = 0
    counts[:] = 0
    while start <= n:
        end = start
        while end < n and buf[end] != _NL:
            end += 1
        line_no += 1
        le = end
        if le > start and buf[le - 1] == _CR:
            le -= 1
        ls = start
        while ls < le and (buf[ls] == _SP or buf[ls] == _TAB):
            ls += 1
        if ls < le and buf[ls] != _HASH:
            row = lines[counts[0]]
            row[:] = 0
            row[L_NO] = line_no
            _line(buf, ls, le, row, tags, fields, numbuf, counts)
            counts[0] += 1
        start = end + 1
