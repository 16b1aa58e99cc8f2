"""Admission and threads of PromQL queries from the front ends (HTTP and gRPC).

:class:`QueryScheduler` runs queries on their own thread pool (``tsdb-query``), so heavy queries never
take the threads that store writes, scrapes and other work use; on Linux those threads also run at a lower
CPU priority (``niceness``), so on a busy machine the kernel gives the cores to ingestion first (queries
still use every idle core), and a :class:`WritePriority` pauses them while writes are in flight. At most
``max_concurrency`` queries run;
up to ``max_queue`` more wait for a slot (waiting holds no thread), each at most its timeout. A query past
the queue, or still waiting when its timeout ends, is refused with :class:`QueryRejectedError` (HTTP 503,
gRPC RESOURCE_EXHAUSTED). Time spent waiting counts against the query's timeout.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tsdb.errors import TsdbError
from tsdb.storage.interfaces import pacing_scope


def lower_thread_priority(niceness: int) -> None:
    """Raise the calling thread's niceness by ``niceness`` (Linux, where each thread has its own; elsewhere
    nothing). Lowering one's own priority needs no privilege; a failure leaves the priority as it was."""
    if niceness <= 0 or sys.platform != "linux":
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + niceness))
    except OSError:
        pass


class WritePriority:
    """Pauses query threads while writes are in flight, so that ingestion keeps its pace under heavy queries.

    Queries and writes share the interpreter lock and the cores (on small machines often hyperthreads of
    one core); lower thread priority alone does not stop a query thread from holding the lock a writer
    waits for, nor from slowing the core it shares. Called at a query's checkpoints (between batches of
    series, chunks and steps, see :func:`~tsdb.storage.interfaces.check_deadline`): while
    ``writes_in_flight()`` is positive, a thread that ran :attr:`slice_s` or more since its last pause
    sleeps long enough that the queries running together use at most ``share`` of one core's time (with
    two queries running, each runs half of that; a pause is at most :attr:`max_pause_s`). ``share`` 1
    never pauses. Pauses count towards the query's timeout. Thread-safe.
    """

    slice_s = 0.005
    max_pause_s = 1.0

    def __init__(self, writes_in_flight: Callable[[], int], share: float,
                 on_pause: Callable[[float], None] | None = None) -> None:
        self.writes_in_flight = writes_in_flight
        self.share = share
        self.on_pause = on_pause
        """Called with the seconds of each pause (for ``/metrics``)."""
        self._local = threading.local()
        self._running = 0
        self._lock = threading.Lock()

    def begin(self) -> None:
        """A query starts on the calling thread: time its run from now."""
        self._local.since = time.monotonic()
        with self._lock:
            self._running += 1

    def end(self) -> None:
        """The query that :meth:`begin` announced on the calling thread is done."""
        with self._lock:
            self._running -= 1

    def __call__(self) -> None:
        if self.share >= 1:
            return
        now = time.monotonic()
        since = getattr(self._local, "since", now)
        if self.writes_in_flight() <= 0:
            self._local.since = now
            return
        ran = now - since
        if ran < self.slice_s:
            return
        pause = min(ran * (max(1, self._running) / self.share - 1), self.max_pause_s)
        time.sleep(pause)
        if self.on_pause is not None:
            self.on_pause(pause)
        self._local.since = time.monotonic()


class QueryRejectedError(TsdbError):
    """A query was refused before it ran: the wait queue was full, or no slot freed within its timeout.

    ``reason`` is ``queue_full`` or ``queue_timeout``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class QueryScheduler:
    """Bounds the queries running and waiting; runs them on a private thread pool.

    Use from one event loop (the server's). ``on_reject(protocol, reason)`` is called per refused query.
    """

    def __init__(self, max_concurrency: int, max_queue: int, timeout_s: float,
                 on_reject: Callable[[str, str], None] | None = None, niceness: int = 0,
                 pacer: WritePriority | None = None) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = max_concurrency
        self.max_queue = max_queue
        self.timeout_s = timeout_s
        self.on_reject = on_reject
        self.executor = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="tsdb-query",
                                           initializer=lower_thread_priority, initargs=(niceness,))
        self.pacer = pacer
        self.running = 0
        """Queries holding a slot (their thread may still be finishing after the client left)."""
        self.rejected = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def waiting(self) -> int:
        """Queries waiting for a slot."""
        return len(self._waiters)

    async def run(self, protocol: str, func: Callable[..., Any], *args: Any, timeout_s: float | None = None) -> Any:
        """``func(*args, remaining_timeout_s)`` on a query thread once a slot is free; its result.

        ``timeout_s`` (the request's, capped at the configured timeout) bounds the wait and the query
        together: the query gets what the wait left. Raises :class:`QueryRejectedError` when refused.
        """
        limit = self.timeout_s if timeout_s is None else min(timeout_s, self.timeout_s)
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        if self.running < self.max_concurrency and not self._waiters:
            self.running += 1
        else:
            if len(self._waiters) >= self.max_queue:
                self._reject(protocol, "queue_full", f"too many queries: {self.running} running and "
                             f"{len(self._waiters)} waiting, the most allowed (query.max_concurrency="
                             f"{self.max_concurrency}, query.max_queue={self.max_queue}); retry later")
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, limit)  # a finishing query hands its slot over
            except TimeoutError:
                self._reject(protocol, "queue_timeout", f"no query slot became free within the query timeout "
                             f"of {limit:g}s ({self.running} running, query.max_concurrency="
                             f"{self.max_concurrency}); retry later")
            except BaseException:  # cancelled (client gone): give back a slot handed over meanwhile
                if waiter.done() and not waiter.cancelled():
                    self._release()
                raise
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        remaining = max(limit - (time.monotonic() - started), 0.001)
        try:
            future = loop.run_in_executor(self.executor, functools.partial(self._paced, func, *args, remaining))
        except BaseException:
            self._release()
            raise
        # the slot is held until the thread is done, even when the request is cancelled (client gone)
        future.add_done_callback(lambda _: self._release())
        return await asyncio.shield(future)

    def _release(self) -> None:
        """Hand the slot to the first live waiter, else free it (runs on the event loop)."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.running -= 1

    def _paced(self, func: Callable[..., Any], *args: Any) -> Any:
        """``func(*args)`` on a query thread, paused for writes by :attr:`pacer` (when set)."""
        if self.pacer is None:
            return func(*args)
        self.pacer.begin()
        try:
            with pacing_scope(self.pacer):
                return func(*args)
        finally:
            self.pacer.end()

    def _reject(self, protocol: str, reason: str, message: str) -> None:
        self.rejected += 1
        if self.on_reject is not None:
            self.on_reject(protocol, reason)
        raise QueryRejectedError(reason, message)

    def close(self) -> None:
        """Wait for the running queries (each ends by its timeout) and stop the threads."""
        self.executor.shutdown(wait=True)
