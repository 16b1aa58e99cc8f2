"""Numba tokenizer of Graphite plaintext: one pass over a body into a per-line offset array (no Python object
per line or sample).

:func:`tokenize` fills the caller-owned ``lines`` (one row per line that is not blank, see the ``G_*``
columns) and ``numbuf``, and returns ``(rows, numeric bytes)``. A line is whitespace-separated
``path value [timestamp]``. For a well-formed line the value's text and the timestamp's (``-1`` when absent),
each followed by one space, are copied into ``numbuf`` for a single vectorised float conversion afterwards;
a malformed line keeps its row with a status and copies nothing.
"""

from __future__ import annotations

import numpy as np

from tsdb._numba import njit

OK = 0
ERR_FIELDS = 1
ERR_NUMBER = 2

# columns of ``lines``
G_NO, G_STATUS, G_PATH_S, G_PATH_E, G_FIELDS = range(5)
LINE_COLUMNS = 5

_NL = 10
_MINUS = 45
_PLUS = 43
_DOT = 46
_SPACE = 32


@njit
def _is_space(c: int) -> bool:
    """ASCII whitespace other than the line feed (what ``bytes.split()`` splits on)."""
    return c == _SPACE or c == 9 or c == 13 or c == 11 or c == 12


@njit
def _lower(c: int) -> int:
    return c + 32 if 65 <= c <= 90 else c


@njit
def _is_word(buf: np.ndarray, s: int, e: int, word: bytes) -> bool:
    """``buf[s:e]`` equals ``word`` (lower case ASCII), ignoring case."""
    if e - s != len(word):
        return False
    i = 0
    while i < e - s and _lower(buf[s + i]) == word[i]:
        i += 1
    return i == e - s


@njit
def is_number(buf: np.ndarray, s: int, e: int) -> bool:
    """``[+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)?`` or ``[+-]? (nan | inf | infinity)`` in any case."""
    p = s
    if p < e and (buf[p] == _MINUS or buf[p] == _PLUS):
        p += 1
    if _is_word(buf, p, e, b"nan") or _is_word(buf, p, e, b"inf") or _is_word(buf, p, e, b"infinity"):
        return True
    n_int = 0
    while p < e and 48 <= buf[p] <= 57:
        p += 1
        n_int += 1
    n_frac = 0
    if p < e and buf[p] == _DOT:
        p += 1
        while p < e and 48 <= buf[p] <= 57:
            p += 1
            n_frac += 1
    if n_int == 0 and n_frac == 0:
        return False
    if p < e and (buf[p] == 101 or buf[p] == 69):  # e E
        p += 1
        if p < e and (buf[p] == _MINUS or buf[p] == _PLUS):
            p += 1
        digits = 0
        while p < e and 48 <= buf[p] <= 57:
            p += 1
            digits += 1
        if digits == 0:
            return False
    return p == e


@njit
def _copy(buf: np.ndarray, s: int, e: int, numbuf: np.ndarray, q: int) -> int:
    for i in range(s, e):
        numbuf[q] = buf[i]
        q += 1
    numbuf[q] = _SPACE
    return q + 1


@njit
def tokenize(buf: np.ndarray, lines: np.ndarray, numbuf: np.ndarray) -> tuple[int, int]:
    """Tokenize ``buf``; ``lines`` needs a row per line feed plus one, ``numbuf`` ``len(buf) + 4`` bytes."""
    n = buf.shape[0]
    row = 0
    q = 0
    line_no = 0
    p = 0
    starts = np.empty(3, np.int64)
    ends = np.empty(3, np.int64)
    while p <= n:
        line_no += 1
        le = p
        while le < n and buf[le] != _NL:
            le += 1
        fields = 0
        i = p
        while i < le:
            while i < le and _is_space(buf[i]):
                i += 1
            if i >= le:
                break
            s = i
            while i < le and not _is_space(buf[i]):
                i += 1
            if fields < 3:
                starts[fields] = s
                ends[fields] = i
            fields += 1
        if fields > 0:
            lines[row, G_NO] = line_no
            lines[row, G_FIELDS] = fields
            lines[row, G_PATH_S] = starts[0]
            lines[row, G_PATH_E] = ends[0]
            if fields != 2 and fields != 3:
                lines[row, G_STATUS] = ERR_FIELDS
            elif not is_number(buf, starts[1], ends[1]) or (fields == 3 and not is_number(buf, starts[2], ends[2])):
                lines[row, G_STATUS] = ERR_NUMBER
            else:
                lines[row, G_STATUS] = OK
                q = _copy(buf, starts[1], ends[1], numbuf, q)
                if fields == 3:
                    q = _copy(buf, starts[2], ends[2], numbuf, q)
                else:
                    numbuf[q] = _MINUS
                    numbuf[q + 1] = 49  # "1"
                    numbuf[q + 2] = _SPACE
                    q += 3
            row += 1
        p = le + 1
    return row, q
