"""Pure-Python references of :mod:`tsdb.ingest.statsd_kernels` (tokenize, apply_gauges)."""

from __future__ import annotations

import re

# field indexes, type codes and outcomes, mirrored from the kernel module
(F_START, F_COLON, F_PIPE, F_TYPE, F_RATE0, F_RATE1, F_TAGS0, F_TAGS1, F_CONT0, F_CONT1, F_TS, F_ERR, F_TOK0, F_TOK1,
 F_END) = range(15)
TYPES = {b"c": 1, b"g": 2, b"ms": 3, b"h": 4, b"d": 5, b"s": 6}
E_OK, E_EMPTY, E_IGNORED, E_MALFORMED, E_TYPE, E_VALUE, E_RATE, E_TS, E_COMPONENT = range(9)
NUMBER = re.compile(rb"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def is_number_ref(text: bytes) -> bool:
    return 1 <= len(text) <= 32 and NUMBER.fullmatch(text) is not None


def _line(data: bytes, start: int, end: int, tokens: list[tuple[int, int]]) -> list[int]:
    row = [0] * 15
    row[F_START], row[F_END], row[F_TS] = start, end, -1
    row[F_TOK0] = row[F_TOK1] = len(tokens)
    line = data[start:end]

    def fail(code: int) -> list[int]:
        row[F_ERR] = code
        return row

    if not line:
        return fail(E_EMPTY)
    if line.startswith((b"_e{", b"_sc|")):
        return fail(E_IGNORED)
    colon = line.find(b":")
    if colon <= 0:
        return fail(E_MALFORMED)
    pipe = line.find(b"|", colon + 1)
    if pipe < 0:
        return fail(E_MALFORMED)
    row[F_COLON], row[F_PIPE] = start + colon, start + pipe
    sections = line[pipe + 1:].split(b"|")
    row[F_TYPE] = TYPES.get(sections[0], 0)
    if not row[F_TYPE]:
        return fail(E_TYPE)
    row[F_RATE0] = row[F_RATE1] = row[F_TAGS0] = row[F_TAGS1] = row[F_CONT0] = row[F_CONT1] = end
    pos = start + pipe + 1 + len(sections[0]) + 1  # start of the next section
    for sec in sections[1:]:
        if not sec:
            return fail(E_COMPONENT)
        if sec[:1] == b"@":
            if not is_number_ref(sec[1:]):
                return fail(E_RATE)
            row[F_RATE0], row[F_RATE1] = pos + 1, pos + len(sec)
        elif sec[:1] == b"#":
            row[F_TAGS0], row[F_TAGS1] = pos + 1, pos + len(sec)
        elif sec[:2] == b"c:" and len(sec) > 2:
            row[F_CONT0], row[F_CONT1] = pos + 2, pos + len(sec)
        elif sec[:1] == b"T":
            if not (1 <= len(sec) - 1 <= 12 and sec[1:].isdigit()):
                return fail(E_TS)
            row[F_TS] = int(sec[1:])
        else:
            return fail(E_COMPONENT)
        pos += len(sec) + 1
    values = line[colon + 1:pipe]
    if not values:
        return fail(E_VALUE)
    found: list[tuple[int, int]] = []
    if row[F_TYPE] == TYPES[b"s"]:
        found.append((start + colon + 1, start + pipe))
    else:
        at = start + colon + 1
        for value in values.split(b":"):
            if not is_number_ref(value):
                return fail(E_VALUE)
            found.append((at, at + len(value)))
            at += len(value) + 1
    row[F_TOK0] = len(tokens)
    tokens.extend(found)
    row[F_TOK1] = len(tokens)
    return row


def tokenize_ref(data: bytes) -> tuple[list[list[int]], list[tuple[int, int]]]:
    """``(rows, tokens)`` as :func:`tokenize` returns them, as lists."""
    rows: list[list[int]] = []
    tokens: list[tuple[int, int]] = []
    pieces = data.split(b"\n")
    if len(pieces) > 1 and pieces[-1] == b"":
        pieces.pop()
    start = 0
    for piece in pieces:
        end = start + len(piece)
        rows.append(_line(data, start, end - 1 if piece.endswith(b"\r") else end, tokens))
        start = end + 1
    return rows, tokens


def apply_gauges_ref(current: list[float], ids: list[int], values: list[float], relative: list[bool]) -> list[float]:
    out = list(current)
    for i, v, rel in zip(ids, values, relative, strict=True):
        out[i] = out[i] + v if rel else v
    return out


def series_key_ref(data: bytes, row: list[int]) -> bytes:
    """A line's series key: ``name 0xFF type-code 0xFF tags 0xFF container``."""
    return b"\xff".join([data[row[F_START]:row[F_COLON]], bytes([row[F_TYPE]]), data[row[F_TAGS0]:row[F_TAGS1]],
                         data[row[F_CONT0]:row[F_CONT1]]])


def fnv1a64_ref(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) % (1 << 64)
    return h
