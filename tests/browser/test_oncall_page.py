"""The on-call page in a real browser: the timeline shows the layer rotation and a config override; an
override created with the form shows on the timeline and in ``GET /api/v1/oncall``, survives a server
restart and can be deleted; the page fits a 375 px wide phone (the timeline scrolls inside its box)."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import api, console_errors, screenshot, wait_for
from tests.integration.serve import ServeProcess
from tsdb.timefmt import format_rfc3339

DAY = 86_400


@pytest.fixture(scope="module")
def oncall_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, str]]:
    """``tsdb serve`` with a daily ann/bob rotation and a config override for cid tomorrow 12:00-14:00 UTC."""
    root = tmp_path_factory.mktemp("oncall-ui")
    tomorrow = (time.time() // DAY + 1) * DAY
    override_start = format_rfc3339(tomorrow + 12 * 3600, "s")
    oncall = {"users": {"ann": {"email": "ann@example.com"}, "bob": {"email": "bob@example.com"},
                        "cid": {"email": "cid@example.com"}},
              "schedules": {"primary": {
                  "layers": [{"users": ["ann", "bob"], "shift": "1d", "start": "2026-01-05", "handoff": "09:00"}],
                  "overrides": [{"user": "cid", "start": override_start,
                                 "end": format_rfc3339(tomorrow + 14 * 3600, "s")}]}}}
    config = root / "tsdb.yml"
    config.write_text(json.dumps({"notifications": {"oncall": oncall}}))
    proc = ServeProcess(root / "data", "--config", str(config))
    try:
        yield proc, override_start
    finally:
        proc.stop()


def _row_segments(driver: Any, row: str) -> list[dict[str, str]]:
    script = """return [...document.querySelectorAll(
        `[data-schedule=primary] [data-testid=oc-row-${arguments[0]}] .oc-seg`)].map((e) => ({
        user: e.dataset.user, source: e.dataset.source, id: e.dataset.overrideId, title: e.title,
        width: e.getBoundingClientRect().width}))"""
    result: list[dict[str, str]] = driver.execute_script(script, row)
    return result


def _open(driver: Any, server: ServeProcess) -> None:
    driver.get(server.url + "/ui/oncall")
    wait_for(driver, lambda d: len(_row_segments(d, "final")) > 0, "the on-call timeline")


def test_timeline_shows_rotation_and_config_override(oncall_server: tuple[ServeProcess, str], driver: Any) -> None:
    server, _ = oncall_server
    console_errors(driver)
    driver.set_window_size(1600, 1000)
    _open(driver, server)
    layer = _row_segments(driver, "layer-0")
    users = [s["user"] for s in layer]
    assert len(layer) >= 7 and set(users) == {"ann", "bob"}  # daily shifts over 7 days
    assert all(a != b for a, b in itertools.pairwise(users))  # they alternate
    assert all(s["source"] == "layer 0" for s in layer)
    (override,) = _row_segments(driver, "overrides")
    assert override["user"] == "cid" and override["id"] == "config-0" and "cid:" in override["title"]
    final = _row_segments(driver, "final")
    assert any(s["user"] == "cid" and s["source"] == "override" for s in final)
    item = driver.find_element("css selector", "[data-schedule=primary] [data-override-id=config-0].oc-override")
    assert "config (read-only)" in item.text
    assert item.find_elements("css selector", "[data-testid=oc-override-delete]") == []
    # 1d / 14d and previous / next change the window
    driver.find_element("css selector", "[data-testid=oc-span-1d]").click()
    wait_for(driver, lambda d: len(_row_segments(d, "layer-0")) <= 2, "a one-day window")
    driver.find_element("css selector", "[data-testid=oc-span-14d]").click()
    wait_for(driver, lambda d: len(_row_segments(d, "layer-0")) >= 14, "a 14-day window")
    before = driver.find_element("css selector", "[data-testid=oc-range]").text
    driver.find_element("css selector", "[data-testid=oc-next]").click()
    wait_for(driver, lambda d: d.find_element("css selector", "[data-testid=oc-range]").text != before, "next window")
    wait_for(driver, lambda d: _row_segments(d, "overrides") == [], "the config override out of the window")
    driver.find_element("css selector", "[data-testid=oc-prev]").click()
    wait_for(driver, lambda d: len(_row_segments(d, "overrides")) == 1, "the window back")
    driver.find_element("css selector", "[data-testid=oc-span-7d]").click()
    screenshot(driver, "oncall-1600")
    assert console_errors(driver) == []


def _set_input(driver: Any, testid: str, value: str) -> None:
    element = driver.find_element("css selector", f"[data-testid={testid}]")
    driver.execute_script("const e = arguments[0]; e.value = arguments[1];"
                          "e.dispatchEvent(new Event('input', {bubbles: true}));"
                          "e.dispatchEvent(new Event('change', {bubbles: true}));", element, value)


def test_create_override_in_ui_survives_restart_and_delete(oncall_server: tuple[ServeProcess, str],
                                                           driver: Any) -> None:
    server, _ = oncall_server
    console_errors(driver)
    driver.set_window_size(1600, 1000)
    _open(driver, server)
    driver.find_element("css selector", "[data-schedule=primary] [data-testid=oc-add-override]").click()
    form = wait_for(driver, lambda d: d.find_element("css selector", "[data-testid=oc-override-form]"), "the form")
    start = form.find_element("css selector", "[data-testid=oc-form-start]").get_attribute("value")
    end = form.find_element("css selector", "[data-testid=oc-form-end]").get_attribute("value")
    assert start and end and start < end  # default: now for one hour
    _set_input(driver, "oc-form-end", start)  # end == start: refused before anything is sent
    form.find_element("css selector", "[data-testid=oc-form-submit]").click()
    error = wait_for(driver, lambda d: d.find_element("css selector", "[data-testid=oc-form-error]"), "the error")
    assert "end must be after the start" in error.text
    _set_input(driver, "oc-form-end", end)
    _set_input(driver, "oc-form-user", "cid")
    _set_input(driver, "oc-form-comment", "covering for ann")
    screenshot(driver, "oncall-form-1600")
    form.find_element("css selector", "[data-testid=oc-form-submit]").click()
    delete = wait_for(driver, lambda d: d.find_elements("css selector", "[data-testid=oc-override-delete]"),
                      "the new override in the list")
    assert len(delete) == 1
    created = driver.find_element("css selector", ".oc-override:has([data-testid=oc-override-delete])")
    override_id = created.get_attribute("data-override-id")
    assert "covering for ann" in created.text
    wait_for(driver, lambda d: any(s["id"] == override_id for s in _row_segments(d, "final")),
             "the override on the final row")
    now = driver.find_element("css selector", "[data-schedule=primary] [data-testid=oncall-now]")
    wait_for(driver, lambda d: "On call now: cid" in now.text, "cid on call now")
    _, body = api(server, "GET", "/api/v1/oncall")
    primary = body["data"][0]
    assert primary["user"] == "cid" and primary["source"] == "override"
    assert override_id in [o["id"] for o in primary["overrides"]]

    server.stop()
    server.restart()
    _, body = api(server, "GET", "/api/v1/oncall")
    assert body["data"][0]["user"] == "cid"
    _open(driver, server)
    wait_for(driver, lambda d: any(s["id"] == override_id for s in _row_segments(d, "overrides")),
             "the override after the restart")

    driver.find_element("css selector", f".oc-override[data-override-id='{override_id}'] "
                                        "[data-testid=oc-override-delete]").click()
    wait_for(driver, lambda d: not d.find_elements("css selector", f"[data-override-id='{override_id}']"),
             "the override gone")
    _, body = api(server, "GET", "/api/v1/oncall")
    assert body["data"][0]["user"] in ("ann", "bob")
    assert override_id not in [o["id"] for o in body["data"][0]["overrides"]]
    assert console_errors(driver) == []


def test_phone_width_has_no_body_overflow(oncall_server: tuple[ServeProcess, str], driver: Any) -> None:
    server, _ = oncall_server
    console_errors(driver)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 375, "height": 800, "deviceScaleFactor": 1, "mobile": True})
    try:
        _open(driver, server)
        driver.find_element("css selector", "[data-schedule=primary] [data-testid=oc-add-override]").click()
        wait_for(driver, lambda d: d.find_element("css selector", "[data-testid=oc-override-form]"), "the form")
        screenshot(driver, "oncall-375")
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 375
        assert driver.execute_script("return document.body.scrollWidth") <= 375
        # the timeline scrolls inside its own box, and the form fits
        box = driver.find_element("css selector", "[data-schedule=primary] [data-testid=oc-timeline]")
        assert driver.execute_script("return arguments[0].scrollWidth > arguments[0].clientWidth", box)
        right = driver.execute_script(
            "return Math.max(...[...document.querySelectorAll('.oc-form input, .oc-form select, .oc-form button')]"
            ".map((e) => e.getBoundingClientRect().right))")
        assert right <= 375
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert console_errors(driver) == []
