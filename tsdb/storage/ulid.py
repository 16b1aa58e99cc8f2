"""ULIDs: the names of block directories, as Prometheus uses them.

A ULID is 128 bits: a 48-bit Unix time in milliseconds followed by 80 random bits, written as 26
characters of Crockford's base32 (``0-9A-Z`` without ``I L O U``). Their text order is their time order.
:func:`new_ulid` is monotonic within one process: two ULIDs made in the same millisecond (or with a
clock that went back) differ by incrementing the random part, so they still sort in creation order.
Thread-safe.
"""

from __future__ import annotations

import os
import threading
import time

from tsdb.errors import InvalidArgumentError

__all__ = ["ULID_ALPHABET", "is_ulid", "new_ulid", "ulid_time_ms"]

ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE = {c: i for i, c in enumerate(ULID_ALPHABET)}
_MAX_RANDOM = (1 << 80) - 1

_lock = threading.Lock()
_last_ms = -1
_last_random = 0


def _encode(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(ULID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_ulid(ms: int | None = None) -> str:
    """A new ULID for time ``ms`` (default: now), monotonic within this process."""
    global _last_ms, _last_random
    now = int(time.time() * 1000) if ms is None else int(ms)
    if not 0 <= now < (1 << 48):
        raise InvalidArgumentError(f"ULID time {now} ms is outside the 48-bit range")
    with _lock:
        clock_back = ms is None and now < _last_ms
        if (now == _last_ms or clock_back) and _last_random < _MAX_RANDOM:
            now, rand = _last_ms, _last_random + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big")
        _last_ms, _last_random = now, rand
    return _encode((now << 80) | rand)


def is_ulid(text: str) -> bool:
    """True if ``text`` is a 26-character Crockford base32 ULID (upper case, first char 0-7)."""
    return len(text) == 26 and text[0] in "01234567" and all(c in _DECODE for c in text)


def ulid_time_ms(text: str) -> int:
    """The millisecond timestamp of a ULID."""
    if not is_ulid(text):
        raise InvalidArgumentError(f"not a ULID: {text!r}")
    value = 0
    for c in text:
        value = (value << 5) | _DECODE[c]
    return value >> 80
