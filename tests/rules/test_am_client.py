"""The Alertmanager notifier against real HTTP receivers on 127.0.0.1 speaking the API v2 push endpoint: one
Alertmanager that never answers delays only itself; batches, drop-oldest, basic auth from the URL, redaction."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from aiohttp import web

from tests.aiohttp_thread import AiohttpThread
from tsdb.alerting.model import Alert
from tsdb.rules.am_client import AlertmanagerNotifier

T = TypeVar("T")
HANG_LIMIT_S = 30.0
"""The longest a hung receiver holds a request (so closing the test server never waits on it for long)."""


class Receiver:
    """``POST /api/v2/alerts`` on 127.0.0.1 recording each batch's alert names and Authorization header; with
    ``hang``, a request is held until :meth:`release` (at most HANG_LIMIT_S), as a hung Alertmanager would."""

    def __init__(self, hang: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.arrived = threading.Event()  # a request reached the handler (also when it then hangs)
        self.auth: list[str | None] = []
        self._released = threading.Event()
        if not hang:
            self._released.set()

        async def push(request: web.Request) -> web.Response:
            body = await request.json()
            self.arrived.set()
            deadline = time.monotonic() + HANG_LIMIT_S
            while not self._released.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            self.auth.append(request.headers.get("Authorization"))
            self.batches.append([a["labels"]["alertname"] for a in body])
            return web.json_response({})

        app = web.Application()
        app.router.add_post("/api/v2/alerts", push)
        self.thread = AiohttpThread(app)
        self.url = self.thread.url

    def release(self) -> None:
        self._released.set()

    def names(self) -> list[str]:
        return [name for batch in list(self.batches) for name in batch]

    def close(self) -> None:
        self.release()
        self.thread.close()


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(hang: bool = False) -> Receiver:
        made.append(Receiver(hang))
        return made[-1]

    try:
        yield make
    finally:
        for r in made:
            r.close()


def _alerts(*names: str) -> list[Alert]:
    now = time.time()
    return [Alert({"alertname": n}, starts_at=now, ends_at=now + 60) for n in names]


def _wait(check: Callable[[], T], what: str, seconds: float) -> T:
    deadline = time.monotonic() + seconds
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(0.01)
    return result


def test_a_hung_alertmanager_delays_only_itself(receivers: Callable[..., Receiver]) -> None:
    hung, healthy = receivers(hang=True), receivers()
    notifier = AlertmanagerNotifier([hung.url, healthy.url])  # the default 10 s post timeout
    try:
        start = time.monotonic()
        notifier.send(_alerts("A"))
        _wait(lambda: healthy.names() == ["A"], "first batch at the healthy Alertmanager", 2)
        assert hung.arrived.wait(2)
        # the hung post is still open: later batches reach the healthy Alertmanager at once
        notifier.send(_alerts("B"))
        notifier.send(_alerts("C"))
        _wait(lambda: healthy.names() == ["A", "B", "C"], "later batches at the healthy Alertmanager", 2)
        assert time.monotonic() - start < 3 and hung.batches == []
        stats = notifier.stats()
        assert stats.sent == {hung.url: 0, healthy.url: 3} and stats.errors == {hung.url: 0, healthy.url: 0}
        assert stats.queue_length == 2 and stats.dropped == 0  # B and C wait behind the hung post
        # once it answers, the hung Alertmanager gets what was queued for it, in order
        hung.release()
        _wait(lambda: hung.names() == ["A", "B", "C"], "queued batches at the released Alertmanager", 5)
        _wait(lambda: notifier.stats().sent[hung.url] == 3, "counted", 2)
    finally:
        notifier.close(timeout_s=5)


def test_a_post_that_times_out_counts_as_an_error(receivers: Callable[..., Receiver]) -> None:
    hung, healthy = receivers(hang=True), receivers()
    notifier = AlertmanagerNotifier([hung.url, healthy.url], timeout_s=0.5)
    try:
        notifier.send(_alerts("A", "B"))
        _wait(lambda: notifier.stats().errors[hung.url] == 2, "timeout counted per alert", 5)
        stats = notifier.stats()
        assert stats.sent == {hung.url: 2, healthy.url: 2} and stats.errors[healthy.url] == 0
    finally:
        notifier.close(timeout_s=5)


def test_batches_of_at_most_256(receivers: Callable[..., Receiver]) -> None:
    healthy = receivers()
    notifier = AlertmanagerNotifier([healthy.url])
    try:
        notifier.send(_alerts(*(f"A{i}" for i in range(600))))
        _wait(lambda: len(healthy.names()) == 600, "all alerts", 5)
        assert [len(b) for b in healthy.batches] == [256, 256, 88]
        assert healthy.names() == [f"A{i}" for i in range(600)]
    finally:
        notifier.close(timeout_s=5)


def test_a_full_queue_drops_the_oldest(receivers: Callable[..., Receiver]) -> None:
    hung = receivers(hang=True)
    notifier = AlertmanagerNotifier([hung.url], capacity=3)
    try:
        notifier.send(_alerts("A0"))
        assert hung.arrived.wait(2)  # A0 is in flight, the queue is empty
        notifier.send(_alerts("A1", "A2"))
        notifier.send(_alerts("A3", "A4", "A5"))
        stats = notifier.stats()
        assert stats.dropped == 2 and stats.queue_length == 3 and stats.capacity == 3
        hung.release()
        _wait(lambda: hung.names() == ["A0", "A3", "A4", "A5"], "the newest alerts", 5)
    finally:
        notifier.close(timeout_s=5)


def test_set_urls_keeps_a_kept_alertmanager_and_stops_a_removed_one(receivers: Callable[..., Receiver]) -> None:
    first, second = receivers(), receivers()
    notifier = AlertmanagerNotifier([first.url, first.url])  # a duplicate is one Alertmanager
    try:
        notifier.send(_alerts("A"))
        _wait(lambda: first.names() == ["A"], "A", 2)
        notifier.set_urls([first.url, second.url])
        notifier.send(_alerts("B"))
        _wait(lambda: first.names() == ["A", "B"] and second.names() == ["B"], "B at both", 2)
        assert notifier.stats().sent == {first.url: 2, second.url: 1}  # counters survive
        notifier.set_urls([second.url])
        notifier.send(_alerts("C"))
        _wait(lambda: second.names() == ["B", "C"], "C", 2)
        assert first.names() == ["A", "B"] and list(notifier.stats().sent) == [second.url]
    finally:
        notifier.close(timeout_s=5)
    notifier.send(_alerts("D"))  # after close: ignored
    time.sleep(0.2)
    assert second.names() == ["B", "C"]


def test_close_posts_what_is_queued_and_is_bounded(receivers: Callable[..., Receiver]) -> None:
    healthy, hung = receivers(), receivers(hang=True)
    notifier = AlertmanagerNotifier([healthy.url, hung.url])
    notifier.send(_alerts(*(f"A{i}" for i in range(300))))
    start = time.monotonic()
    notifier.close(timeout_s=1)
    assert time.monotonic() - start < 2  # the hung one does not hold close past its bound
    assert len(healthy.names()) == 300


def test_credentials_in_the_url_are_sent_as_basic_auth_and_never_logged(
        receivers: Callable[..., Receiver], caplog: pytest.LogCaptureFixture) -> None:
    healthy = receivers()
    with_auth = healthy.url.replace("http://", "http://alice:s3cret@")
    refused = "http://bob:hunter2@127.0.0.1:9"  # the discard port: connection refused
    notifier = AlertmanagerNotifier([with_auth, refused])
    try:
        with caplog.at_level(logging.WARNING, logger="tsdb.rules.am"):
            notifier.send(_alerts("A"))
            _wait(lambda: healthy.names() == ["A"], "A", 2)
            _wait(lambda: notifier.stats().errors[refused] == 1, "refused post counted", 5)
        assert healthy.auth == ["Basic YWxpY2U6czNjcmV0"]  # alice:s3cret
        failures = [r for r in caplog.records if r.getMessage() == "alertmanager post failed"]
        assert failures and all("hunter2" not in str(r.__dict__) for r in failures)
        assert {getattr(r, "url", None) for r in failures} == {"http://127.0.0.1:9"}
    finally:
        notifier.close(timeout_s=5)
