"""Embedding: the UI sends a Content-Security-Policy with frame-ancestors; a same-origin page can embed a solo
panel in an iframe, a page from another origin cannot."""

from __future__ import annotations

import http.server
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By

from tests.browser.conftest import UI, canvas_nonblank, console_errors, screenshot, wait_for

SOLO = "/ui/d-solo/host-overview?panelId=9&from=now-1h&to=now"


def csp(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.headers.get("Content-Security-Policy", ""))


def test_csp_frame_ancestors(ui: UI) -> None:
    for path in ("/ui/", "/ui/d/host-overview", SOLO):
        policy = csp(ui.url + path)
        directives = {d.strip().split()[0]: d.strip().split()[1:] for d in policy.split(";") if d.strip()}
        assert directives.get("frame-ancestors") == ["'self'"], f"{path}: {policy!r}"


def test_solo_panel_in_a_same_origin_iframe(ui: UI) -> None:
    ui.get("/ui/")
    ui.driver.execute_script(
        "document.body.innerHTML = '';"
        "const f = document.createElement('iframe'); f.id = 'embed'; f.width = 600; f.height = 300;"
        "f.src = arguments[0]; document.body.appendChild(f);", SOLO)
    frame = ui.driver.find_element(By.ID, "embed")
    ui.driver.switch_to.frame(frame)
    try:
        wait_for(ui.driver, lambda d: d.execute_script(
            "return document.body && document.body.getAttribute('data-dashboard-state') === 'settled'"
            " && document.querySelector('[data-panel-id=\"9\"]')?.getAttribute('data-state') === 'rendered'"),
            "the embedded panel to render")
        assert canvas_nonblank(ui.driver, "9")
        width = ui.driver.execute_script("return document.documentElement.scrollWidth")
        assert width <= 600, f"the solo panel overflows its 600 px frame ({width} px)"
    finally:
        ui.driver.switch_to.default_content()
    screenshot(ui.driver, "embedded-same-origin")
    assert console_errors(ui.driver) == []


@pytest.fixture
def other_origin(ui: UI) -> Iterator[str]:
    """A page on another origin (127.0.0.1, another port) that embeds the solo panel."""
    page = f'<!doctype html><title>embed</title><iframe id="embed" src="{ui.url}{SOLO}" width="600" height="300">'

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_other_origin_cannot_frame_the_ui(ui: UI, other_origin: str) -> None:
    ui.driver.get(other_origin)
    deadline = time.monotonic() + 10
    refused: list[str] = []
    while not refused and time.monotonic() < deadline:
        refused = [m for m in console_errors(ui.driver) if "frame-ancestors" in m]
        time.sleep(0.2)
    assert refused, "the browser did not refuse the cross-origin frame"
    ui.driver.switch_to.frame(ui.driver.find_element(By.ID, "embed"))
    try:
        assert not ui.driver.find_elements(By.CSS_SELECTOR, "[data-panel-id]")
    finally:
        ui.driver.switch_to.default_content()
