"""The alerts page with 10,000 firing alerts (one rule over 10,000 series): the count shows them all, the DOM
holds only the rows in view, scrolling to the bottom shows the last alert, a label filter narrows to the one
alert, and the page fits a 375 px wide phone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks.alerts_page import write_data
from tests.browser.conftest import console_errors, screenshot, wait_for
from tests.integration.serve import ServeProcess

ALERTS = 10_000
WAIT_S = 60.0


@pytest.fixture(scope="module")
def many_alerts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """``tsdb serve`` whose rule ``ProbeDown`` fires for every one of the 10,000 ``probe_up`` series."""
    root = tmp_path_factory.mktemp("alerts-scale")
    config = write_data(root, ALERTS, interval="2s")
    proc = ServeProcess(root / "data", "--config", str(config))
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            status, body = proc.get("/api/v1/alerts")
            if status == 200 and len(body["data"]["alerts"]) == ALERTS:
                break
            assert time.monotonic() < deadline, "the rule did not produce 10,000 alerts"
            time.sleep(0.5)
        yield proc
    finally:
        proc.stop()


def _rows(driver: Any) -> list[str]:
    """The text of every alert row in the DOM."""
    return list(driver.execute_script(
        "return [...document.querySelectorAll('[data-testid=alert-item]')].map(e => e.textContent)"))


def test_ten_thousand_alerts_virtualised(many_alerts: ServeProcess, driver: Any) -> None:
    server = many_alerts
    console_errors(driver)
    started = time.monotonic()
    status, body = server.get("/api/v1/rules", type="alert")
    assert status == 200 and time.monotonic() - started < 5
    alerts = body["data"]["groups"][0]["rules"][0]["alerts"]
    last = alerts[-1]["labels"]["instance"]

    driver.get(server.url + "/ui/alerts")
    wait_for(driver, lambda d: d.find_element("css selector", "[data-testid=count-firing]").text == "10000",
             "the firing count", timeout_s=WAIT_S)
    assert driver.find_element("css selector", "[data-testid=alerts-count]").text == "10000 alerts"
    badge = driver.find_element("css selector", "[data-rule=ProbeDown] .badge")
    assert badge.text == "10000"
    rows = _rows(driver)
    assert 0 < len(rows) < 200, len(rows)
    assert driver.execute_script("return document.querySelectorAll('.vl-row').length") < 200
    assert "does not answer" in rows[0] and 'severity="page"' in rows[0] and "active since" in rows[0]
    assert "value 0 ·" in rows[0]  # the API's "0e+00", as people read it
    screenshot(driver, "alerts-scale")

    # scroll to the bottom: the last alert is drawn, the DOM still small
    driver.execute_script("const list = document.querySelector('[data-testid=alerts-list]');"
                          "list.scrollTop = list.scrollHeight;")
    wait_for(driver, lambda d: any(f'instance="{last}"' in r for r in _rows(d)), "the last alert after scrolling",
             timeout_s=WAIT_S)
    assert len(_rows(driver)) < 200
    screenshot(driver, "alerts-scale-bottom")

    # a label filter narrows to the one alert (and the count says so)
    box = driver.find_element("css selector", "[data-testid=alerts-filter]")
    box.send_keys('instance="host-04242:9100"')
    wait_for(driver, lambda d: len(_rows(d)) == 1, "one alert left by the filter", timeout_s=WAIT_S)
    assert 'instance="host-04242:9100"' in _rows(driver)[0] and 'zone="z0"' in _rows(driver)[0]
    assert driver.find_element("css selector", "[data-testid=alerts-count]").text == "1 of 10000 alerts"
    assert driver.find_element("css selector", "[data-rule=ProbeDown] .badge").text == "1 / 10000"
    box.clear()
    box.send_keys("z3 host-0")  # every word must match: a seventh of the alerts
    wait_for(driver, lambda d: d.find_element("css selector", "[data-testid=alerts-count]").text
             == f"{len([a for a in alerts if a['labels']['zone'] == 'z3'])} of 10000 alerts", "the zone filter",
             timeout_s=WAIT_S)
    assert console_errors(driver) == []


def test_ten_thousand_alerts_on_a_phone(many_alerts: ServeProcess, driver: Any) -> None:
    server = many_alerts
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 375, "height": 800, "deviceScaleFactor": 1, "mobile": True})
    try:
        driver.get(server.url + "/ui/alerts")
        wait_for(driver, lambda d: d.find_element("css selector", "[data-testid=count-firing]").text == "10000",
                 "the firing count", timeout_s=WAIT_S)
        wait_for(driver, lambda d: _rows(d), "the first rows")
        assert len(_rows(driver)) < 100
        screenshot(driver, "alerts-scale-phone")
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 375
        link = driver.find_element("css selector", "[data-testid=silence-this]")
        assert link.is_displayed() and link.rect["x"] + link.rect["width"] <= 375
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


# Counts DOM changes inside alert rows from now on (a stream update that changes no alert should cause none).
WATCH_ROWS_JS = """
window.__rowMutations = 0;
const list = document.querySelector('[data-testid=alerts-list]');
new MutationObserver((records) => {
  for (const r of records) {
    const element = r.target.nodeType === 1 ? r.target : r.target.parentElement;
    if (element && element.closest('[data-testid=alert-item]')) window.__rowMutations++;
  }
}).observe(list, {subtree: true, childList: true, attributes: true, characterData: true});
"""


def test_stream_updates_leave_unchanged_rows_alone(many_alerts: ServeProcess, driver: Any) -> None:
    server = many_alerts
    console_errors(driver)
    driver.get(server.url + "/ui/alerts")
    wait_for(driver, lambda d: d.find_element("css selector", "[data-testid=count-firing]").text == "10000",
             "the firing count", timeout_s=WAIT_S)
    page = driver.find_element("css selector", "[data-testid=alerts-page]")
    before = int(page.get_attribute("data-updates"))
    driver.execute_script(WATCH_ROWS_JS)
    # every evaluation (2 s) changes the rule's lastEvaluation, so the stream sends a new snapshot
    wait_for(driver, lambda d: int(page.get_attribute("data-updates")) >= before + 2, "two more stream updates",
             timeout_s=WAIT_S)
    assert driver.execute_script("return window.__rowMutations") == 0
    assert len(_rows(driver)) < 200
    # a new filter starts at the top of the list
    driver.execute_script("const list = document.querySelector('[data-testid=alerts-list]');"
                          "list.scrollTop = list.scrollHeight;")
    wait_for(driver, lambda d: d.execute_script(
        "return document.querySelector('[data-testid=alerts-list]').scrollTop") > 0, "the scroll")
    driver.find_element("css selector", "[data-testid=alerts-filter]").send_keys("z5")
    wait_for(driver, lambda d: d.execute_script(
        "return document.querySelector('[data-testid=alerts-list]').scrollTop") == 0, "the list back at the top")
    assert all('zone="z5"' in r for r in _rows(driver))
    assert console_errors(driver) == []
