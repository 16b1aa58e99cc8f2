"""What every notification channel implements (:class:`Integration`) and how an attempt fails
(:class:`DeliveryError`). The channel modules and the receiver set (:mod:`.base`) both import this module,
and it imports none of them."""

from __future__ import annotations

from typing import Protocol

import aiohttp

from tsdb.alerting.model import Notification


class DeliveryError(Exception):
    """A failed attempt; ``retry`` says whether trying again can help (5xx, 429, network)."""

    def __init__(self, message: str, status: int | None = None, retry: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.retry = retry


class Integration(Protocol):
    """One configured channel of a receiver."""

    kind: str
    send_resolved: bool

    async def send(self, notification: Notification, session: aiohttp.ClientSession) -> int: ...
