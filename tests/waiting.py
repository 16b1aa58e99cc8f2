"""Waiting in tests for a condition to hold, bounded: one helper for threads, one for asyncio."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T | None], what: str, seconds: float = 30, interval_s: float = 0.1) -> T:
    """The first truthy ``check()``, polled every ``interval_s``; AssertionError naming ``what`` after
    ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(interval_s)


async def wait_until_async(check: Callable[[], T | None], seconds: float = 20, what: str = "condition",
                           interval_s: float = 0.05) -> T:
    """:func:`wait_until` on an event loop: sleeps without blocking it."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        await asyncio.sleep(interval_s)
