"""Editing a silence in the UI: the Edit button opens the form filled with the silence's matchers, times,
creator and comment; saving a new comment and end time updates the same silence (``amtool silence query``
shows the new values under the same id); changing a matcher replaces the silence with a new one and expires
the old, as Alertmanager does. The edit form fits a 375 px wide phone."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser.conftest import api, console_errors, screenshot, wait_for
from tests.integration.serve import ServeProcess
from tests.needs import require_binary


@pytest.fixture(scope="module")
def am_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """``tsdb serve`` with a notifications section (so the Alertmanager API v2 is served)."""
    root = tmp_path_factory.mktemp("silence-edit")
    config = root / "tsdb.yml"
    config.write_text(json.dumps({"notifications": {"config": {"route": {"receiver": "null"},
                                                               "receivers": [{"name": "null"}]}}}))
    proc = ServeProcess(root / "data", "--config", str(config))
    try:
        yield proc
    finally:
        proc.stop()


def _amtool(server: ServeProcess, *extra: str) -> list[dict[str, Any]]:
    amtool = require_binary("amtool", package="prometheus-alertmanager")
    out = subprocess.run([amtool, "silence", "query", "-o", "json", *extra, f"--alertmanager.url={server.url}"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    return list(json.loads(out))


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _edit_button(driver: Any, sid: str) -> Any:
    return wait_for(driver, lambda d: d.find_element(
        "css selector", f"[data-silence-id='{sid}'] [data-testid=silence-edit]"), "the Edit button")


def _field(driver: Any, testid: str) -> Any:
    return driver.find_element("css selector", f"[data-testid={testid}]")


def _retype(element: Any, text: str) -> None:
    element.clear()
    element.send_keys(text)


# The browser's local time for a Unix time in ms, as the form writes it (YYYY-MM-DD HH:MM:SS).
LOCAL_JS = """
const d = new Date(arguments[0]); const p = (n) => String(n).padStart(2, '0');
return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} `
  + `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
"""


def test_edit_comment_and_end_time_then_matchers(am_server: ServeProcess, driver: Any) -> None:
    server = am_server
    require_binary("amtool", package="prometheus-alertmanager")
    console_errors(driver)
    now = datetime.now(UTC)
    status, created = api(server, "POST", "/api/v2/silences", {
        "matchers": [{"name": "alertname", "value": "Noisy", "isRegex": False, "isEqual": True},
                     {"name": "instance", "value": "web-.*", "isRegex": True, "isEqual": True}],
        "startsAt": now.isoformat(), "endsAt": (now + timedelta(hours=2)).isoformat(),
        "createdBy": "ann", "comment": "deploying web"})
    assert status == 200, created
    sid = created["silenceID"]
    before = next(s for s in _amtool(server) if s["id"] == sid)

    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 375, "height": 800, "deviceScaleFactor": 1, "mobile": True})
    try:
        driver.get(server.url + "/ui/silences")
        _edit_button(driver, sid).click()
        form = wait_for(driver, lambda d: _field(d, "silence-form"), "the edit form")
        assert "Edit silence" in form.text and _field(driver, "silence-edit-id").text == sid
        names = [e.get_attribute("value") for e in form.find_elements("css selector", "[data-testid=matcher-name]")]
        values = [e.get_attribute("value") for e in form.find_elements("css selector", "[data-testid=matcher-value]")]
        assert names == ["alertname", "instance"] and values == ["Noisy", "web-.*"]
        ops = [e.get_attribute("value") for e in form.find_elements("css selector", "select")]
        assert ops == ["=", "=~"]
        assert _field(driver, "silence-by").get_attribute("value") == "ann"
        assert _field(driver, "silence-comment").get_attribute("value") == "deploying web"
        starts_ms = _time(before["startsAt"]).timestamp() * 1000
        ends_ms = _time(before["endsAt"]).timestamp() * 1000
        assert _field(driver, "silence-start").get_attribute("value") == driver.execute_script(LOCAL_JS, starts_ms)
        assert _field(driver, "silence-duration").get_attribute("value") == driver.execute_script(LOCAL_JS, ends_ms)

        new_end = (now + timedelta(hours=5)).replace(second=0, microsecond=0)
        _retype(_field(driver, "silence-comment"), "extended for the migration")
        _retype(_field(driver, "silence-duration"), driver.execute_script(LOCAL_JS, new_end.timestamp() * 1000))
        screenshot(driver, "silence-edit-phone")
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 375
        _field(driver, "silence-create").click()
        wait_for(driver, lambda d: "extended for the migration" in _field(d, "silences-active").text, "the saved edit")
        assert not driver.find_elements("css selector", "[data-testid=silence-notice]")
        screenshot(driver, "silence-edited-phone")
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    silences = _amtool(server)
    assert [s["id"] for s in silences] == [sid]  # updated in place: same id, nothing else active
    edited = silences[0]
    assert edited["comment"] == "extended for the migration" and edited["createdBy"] == "ann"
    assert _time(edited["endsAt"]) == new_end
    assert _time(edited["startsAt"]) == _time(before["startsAt"])
    assert [(m["name"], m["value"], m["isRegex"]) for m in edited["matchers"]] == [
        ("alertname", "Noisy", False), ("instance", "web-.*", True)]

    # a changed matcher: a new silence replaces this one, which expires
    driver.get(server.url + "/ui/silences")
    _edit_button(driver, sid).click()
    form = wait_for(driver, lambda d: _field(d, "silence-form"), "the edit form")
    _retype(form.find_elements("css selector", "[data-testid=matcher-value]")[1], "web-1")
    form.find_elements("css selector", "select")[1].send_keys("=")
    _field(driver, "silence-create").click()
    notice = wait_for(driver, lambda d: _field(d, "silence-notice"), "the replaced-silence notice")
    active = _amtool(server)
    assert len(active) == 1 and active[0]["id"] != sid and active[0]["id"] in notice.text
    assert [(m["name"], m["value"], m["isRegex"]) for m in active[0]["matchers"]] == [
        ("alertname", "Noisy", False), ("instance", "web-1", False)]
    assert active[0]["comment"] == "extended for the migration" and _time(active[0]["endsAt"]) == new_end
    expired = {s["id"]: s for s in _amtool(server, "--expired")}
    assert sid in expired and _time(expired[sid]["endsAt"]) <= datetime.now(UTC)
    wait_for(driver, lambda d: sid in d.find_element("css selector", "[data-testid=silences-expired]")
             .get_attribute("innerHTML"), "the old silence among the expired")
    time.sleep(0.2)
    assert console_errors(driver) == []
