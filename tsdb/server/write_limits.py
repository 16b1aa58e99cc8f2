"""Bounds on the write requests a server works on at once (requests and bytes in flight).

A request is admitted (:meth:`WriteLimiter.admit`) before its body is read, with the size it declares;
once the body is read it reserves its decoded size too (:meth:`Ticket.reserve`). Past a limit the
request is refused at once, never queued: the front end answers 429 with ``Retry-After`` and the sender
retries later. One request is always admitted when nothing else is in flight, so a request larger than
the byte limit (but within the body limit) cannot be refused forever. Thread-safe.
"""

from __future__ import annotations

import math
import threading

TOO_MANY_REQUESTS = "too_many_requests"
TOO_MANY_BYTES = "too_many_bytes"


class Ticket:
    """An admitted request's share of the limits; :meth:`release` it exactly once when done."""

    def __init__(self, limiter: WriteLimiter, nbytes: int) -> None:
        self._limiter = limiter
        self.nbytes = nbytes
        self._released = False

    def reserve(self, nbytes: int) -> bool:
        """Add ``nbytes`` to this request's share; False (nothing added) when that passes the byte limit."""
        if nbytes <= 0:
            return True
        if not self._limiter._take(nbytes, alone=self.nbytes):
            return False
        self.nbytes += nbytes
        return True

    def release(self) -> None:
        """Give back the request slot and every byte reserved (idempotent)."""
        if not self._released:
            self._released = True
            self._limiter._give(self.nbytes)


class WriteLimiter:
    """At most ``max_requests`` requests and ``max_bytes`` bytes in flight (0 = no limit of that kind)."""

    def __init__(self, max_requests: int, max_bytes: int, retry_after_s: float = 5.0) -> None:
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        """Whole seconds for the ``Retry-After`` header (at least 1)."""
        self.requests = 0
        self.bytes = 0
        self._lock = threading.Lock()

    def admit(self, nbytes: int) -> Ticket | str:
        """A :class:`Ticket` holding one request slot and ``nbytes``, or the reason it is refused
        (:data:`TOO_MANY_REQUESTS`, :data:`TOO_MANY_BYTES`)."""
        nbytes = max(0, nbytes)
        with self._lock:
            if self.max_requests and self.requests >= self.max_requests:
                return TOO_MANY_REQUESTS
            if self.max_bytes and self.bytes and self.bytes + nbytes > self.max_bytes:
                return TOO_MANY_BYTES
            self.requests += 1
            self.bytes += nbytes
        return Ticket(self, nbytes)

    def _take(self, nbytes: int, alone: int) -> bool:
        """Reserve more bytes for a request already holding ``alone`` bytes (its own bytes never refuse it)."""
        with self._lock:
            if self.max_bytes and self.bytes > alone and self.bytes + nbytes > self.max_bytes:
                return False
            self.bytes += nbytes
            return True

    def _give(self, nbytes: int) -> None:
        with self._lock:
            self.requests -= 1
            self.bytes -= nbytes

    def refusal_text(self, reason: str) -> str:
        """A readable line for a refusal's answer body."""
        if reason == TOO_MANY_REQUESTS:
            what = f"more than {self.max_requests} write requests in flight"
        else:
            what = f"more than {self.max_bytes} bytes of write requests in flight"
        return f"server busy: {what}; retry after {self.retry_after_s}s\n"
