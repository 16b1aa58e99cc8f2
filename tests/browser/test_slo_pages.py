"""The SLO pages in a real browser over a real ``tsdb serve`` with SLO specs and request counters
(tests/slo/budget_data.py: 1 % errors in the last of 24 hours): the list shows the hand-computed numbers
least budget first, filters by search and label; the detail page shows the tiles, the budget and burn-rate
charts and the alerts; both fit a 375 px phone. Screenshots: slos, slo-detail (1600 px) and
slos-phone, slo-detail-phone, slo-detail-phone-charts, slo-detail-phone-table (375 px)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import canvas_nonblank, console_errors, screenshot, wait_for, wait_settled
from tests.integration.serve import ServeProcess
from tests.slo.budget_data import SPEC, write_requests


@pytest.fixture(scope="module")
def slo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """``tsdb serve`` with the three SLOs, evaluating their rules every second; the strict SLO pages."""
    root = tmp_path_factory.mktemp("slo-ui")
    (root / "slos.yml").write_text(SPEC)
    write_requests(root / "data", int(time.time()) // 15 * 15 * 1000)
    config = root / "tsdb.yml"
    config.write_text(json.dumps({"rules": {"evaluation_interval": "1s"},
                                  "slos": {"files": [str(root / "slos.yml")]}}))
    proc = ServeProcess(root / "data", "--config", str(config))
    try:
        deadline = time.monotonic() + 30
        while True:  # the page alert of the strict SLO fires on the first evaluations
            _, body = proc.get("/api/v1/slos")
            if body["data"][0]["alert_state"] == "firing":
                break
            assert time.monotonic() < deadline, body
            time.sleep(0.3)
        yield proc
    finally:
        proc.stop()


def _rows(driver: Any) -> list[dict[str, str]]:
    script = """return [...document.querySelectorAll('[data-testid=slo-row]')].map((r) => ({
        id: r.dataset.sloId,
        objective: r.querySelector('[data-testid=slo-objective]').textContent,
        availability: r.querySelector('[data-testid=slo-availability]').textContent,
        budget: r.querySelector('[data-testid=slo-budget]').textContent,
        burn: r.querySelector('[data-testid=slo-burn]').textContent,
        alerts: r.querySelector('[data-testid=slo-alert-state]').textContent}))"""
    rows: list[dict[str, str]] = driver.execute_script(script)
    return rows


def _fits(driver: Any) -> None:
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= 375, width


def _tile(driver: Any, name: str) -> str:
    text: str = driver.find_element("css selector", f"[data-testid=tile-{name}]").text
    return text


def test_slo_list(slo_server: ServeProcess, driver: Any) -> None:
    console_errors(driver)
    driver.set_window_size(1600, 1000)
    driver.get(slo_server.url + "/ui/slos")
    wait_settled(driver)
    wait_for(driver, lambda d: len(_rows(d)) == 3, "the three SLOs")
    assert _rows(driver) == [
        {"id": "shop-requests-strict", "objective": "99.95%", "availability": "99.958%", "budget": "16.7%",
         "burn": "20×", "alerts": "firing"},
        {"id": "shop-requests-availability", "objective": "99.9%", "availability": "99.958%", "budget": "58.3%",
         "burn": "10×", "alerts": "inactive"},
        {"id": "search-latency", "objective": "99%", "availability": "–", "budget": "–", "burn": "–",
         "alerts": "no alerts"},
    ]
    nav = driver.find_element("css selector", "[data-testid=nav-slos]")
    assert nav.text == "SLOs" and nav.get_attribute("href").endswith("/ui/slos")
    screenshot(driver, "slos")

    search = driver.find_element("css selector", "[data-testid=slo-search]")
    search.send_keys("checkout")
    wait_for(driver, lambda d: [r["id"] for r in _rows(d)] == ["shop-requests-availability"], "the search")
    assert "search=checkout" in driver.current_url
    search.clear()
    search.send_keys(" ")
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("css selector", "[data-testid=slo-label-owner]")).select_by_visible_text("search-team")
    wait_for(driver, lambda d: [r["id"] for r in _rows(d)] == ["search-latency"], "the label filter")
    assert "label=owner%3Dsearch-team" in driver.current_url
    # the filters are in the URL: a reload keeps them
    driver.get(driver.current_url)
    wait_settled(driver)
    wait_for(driver, lambda d: [r["id"] for r in _rows(d)] == ["search-latency"], "the filter after a reload")
    assert console_errors(driver) == []


def test_slo_detail(slo_server: ServeProcess, driver: Any) -> None:
    console_errors(driver)
    driver.set_window_size(1600, 1200)
    driver.get(slo_server.url + "/ui/slos")
    wait_for(driver, lambda d: len(_rows(d)) == 3, "the SLO list")
    driver.find_element("css selector", "[data-slo-id=shop-requests-availability] [data-testid=slo-link]").click()
    wait_for(driver, lambda d: d.current_url.endswith("/ui/slos/shop-requests-availability"), "the detail page")
    states = wait_settled(driver)
    assert states == {"budget": "rendered", "burn-1h": "rendered", "burn-6h": "rendered", "burn-1d": "rendered",
                      "burn-3d": "rendered"}, states
    assert _tile(driver, "objective").splitlines() == ["Objective", "99.9%", "over 30d"]
    assert _tile(driver, "availability").splitlines()[1] == "99.958%"
    assert _tile(driver, "budget").splitlines()[1:] == ["58.3%", "25.2 min of 43.2 min"]
    assert _tile(driver, "exhaustion").splitlines()[1:] == ["1d 18h", "at the current burn rate 10×"]
    assert all(canvas_nonblank(driver, panel) for panel in states)
    titles = [e.text for e in driver.find_elements("css selector", ".slo-chart .panel-title")]
    assert titles[0] == "Error budget remaining (30d window)"
    assert titles[1] == "Page: 1h / 5m burn rate (over 14.4×)"
    alerts = driver.find_element("css selector", "[data-testid=slo-alerts]").text
    assert "ShopHighErrorRate" in alerts and "INACTIVE" in alerts.upper()
    windows = driver.find_element("css selector", "[data-testid=slo-windows]").text
    assert "5m: 10×" in windows and "1h: 10×" in windows
    screenshot(driver, "slo-detail")

    driver.get(slo_server.url + "/ui/slos/shop-requests-strict")
    wait_settled(driver)
    assert _tile(driver, "exhaustion").splitlines()[1] == "6h"
    assert "FIRING" in driver.find_element("css selector", "[data-testid=slo-alerts]").text.upper()
    assert console_errors(driver) == []

    driver.get(slo_server.url + "/ui/slos/shop-nope")
    wait_settled(driver)
    assert "not found" in driver.find_element("css selector", "[data-testid=slo-error]").text
    console_errors(driver)  # the browser logs the 404 response


def test_slo_pages_on_a_phone(slo_server: ServeProcess, driver: Any) -> None:
    console_errors(driver)
    driver.set_window_size(375, 800)
    try:
        driver.get(slo_server.url + "/ui/slos")
        wait_settled(driver)
        wait_for(driver, lambda d: len(_rows(d)) == 3, "the SLO list")
        _fits(driver)
        screenshot(driver, "slos-phone")
        driver.get(slo_server.url + "/ui/slos/shop-requests-availability")
        states = wait_settled(driver)
        assert set(states.values()) == {"rendered"}, states
        assert _tile(driver, "budget").splitlines()[1] == "58.3%"
        _fits(driver)
        screenshot(driver, "slo-detail-phone")
        driver.execute_script("document.querySelector('.slo-charts > :nth-child(3)').scrollIntoView()")
        screenshot(driver, "slo-detail-phone-charts")
        widths = driver.execute_script(
            "return [...document.querySelectorAll('.slo-scroll')].map((e) => e.scrollWidth - e.clientWidth)")
        assert widths and max(widths) <= 0, f"a table is wider than its card by {widths} px"
        driver.execute_script("document.querySelector('[data-testid=slo-windows]').scrollIntoView()")
        screenshot(driver, "slo-detail-phone-table")
        assert console_errors(driver) == []
    finally:
        driver.set_window_size(1400, 1000)
