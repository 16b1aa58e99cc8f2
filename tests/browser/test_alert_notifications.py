"""The alerts page's browser notifications: with the option on and permission granted, an alert that starts
firing while the page is open raises one desktop notification naming it; the option is remembered across
reloads and switches off."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import console_errors, serve_rule_firing_soon, wait_for
from tests.integration.serve import ServeProcess

# Chromium shows notifications itself; this records each one the page raises (the real one is still made).
RECORD_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  if (!Real) return;
  window.__notifications = [];
  class Recorded extends Real {
    constructor(title, options) {
      super(title, options);
      window.__notifications.push(title);
    }
  }
  window.Notification = Recorded;
})();
"""


@pytest.fixture(scope="module")
def firing_soon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, float]]:
    """``tsdb serve`` with a rule that starts firing 20 s after start-up (the time returned)."""
    with serve_rule_firing_soon(tmp_path_factory.mktemp("alert-notifications"), "NotifySoon", 20) as started:
        yield started


def test_new_firing_alert_raises_a_browser_notification(firing_soon: tuple[ServeProcess, float],
                                                        driver: Any) -> None:
    server, fires_at = firing_soon
    console_errors(driver)
    driver.execute_cdp_cmd("Browser.grantPermissions", {"origin": server.url, "permissions": ["notifications"]})
    script = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_NOTIFICATIONS})
    try:
        driver.get(server.url + "/ui/alerts")
        driver.execute_script("localStorage.removeItem('tsdb.alerts.notify')")
        driver.refresh()
        wait_for(driver, lambda d: d.find_element("css selector", "[data-testid=alerts-live]").text == "live",
                 "the live stream")
        toggle = driver.find_element("css selector", "[data-testid=alerts-notify]")
        assert toggle.get_attribute("aria-pressed") == "false"
        toggle.click()
        wait_for(driver, lambda d: d.find_element("css selector", "[data-testid=alerts-notify]")
                 .get_attribute("aria-pressed") == "true", "the option to switch on")
        assert time.time() < fires_at, "the page took too long to open: the rule fired before"
        assert driver.execute_script("return window.__notifications") == []
        wait_for(driver, lambda d: d.execute_script("return window.__notifications.length") > 0,
                 "a notification for the new alert", timeout_s=40)
        titles = driver.execute_script("return window.__notifications")
        assert titles == ["Firing: NotifySoon"], titles
        # the option is remembered; switched off, nothing more is raised on the next page
        driver.refresh()
        wait_for(driver, lambda d: d.find_element("css selector", "[data-testid=alerts-notify]")
                 .get_attribute("aria-pressed") == "true", "the remembered option")
        driver.find_element("css selector", "[data-testid=alerts-notify]").click()
        assert driver.execute_script("return localStorage.getItem('tsdb.alerts.notify')") == "0"
    finally:
        driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})
        driver.execute_cdp_cmd("Browser.resetPermissions", {})
    assert console_errors(driver) == []
