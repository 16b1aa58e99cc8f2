"""View state lives in the URL: parameters drive the view, the time picker writes them, reload and the back
button reproduce the view."""

from __future__ import annotations

import urllib.parse

from selenium.webdriver.common.by import By

from tests.browser.conftest import (
    UI,
    console_errors,
    covers_range,
    ends_at,
    recorded_queries,
    screenshot,
    starts_at,
    wait_for,
    wait_settled,
)


def url_params(ui: UI) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(ui.driver.current_url).query, keep_blank_values=True)


def ranges_cover(ui: UI, seconds: float) -> list[bool]:
    """Per range query the page made: was it made for a range of ``seconds``?"""
    return [covers_range(q, seconds) for q in recorded_queries(ui.driver)]


def picker_label(ui: UI) -> str:
    return str(ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=time-picker]").text)


def test_url_parameters_drive_the_view(ui: UI) -> None:
    states = ui.open("/ui/d/host-overview?from=now-3h&to=now&var-instance=node-b:9100")
    assert "error" not in states.values(), states
    assert picker_label(ui) == "Last 3 hours"
    assert "node-b:9100" in ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=var-instance]").text
    queries = recorded_queries(ui.driver)
    assert queries, "no range queries recorded"
    exprs = [q["query"] for q in queries]
    assert all("node-a" not in e and "node-c" not in e for e in exprs), exprs
    assert any("node-b" in e for e in exprs), exprs
    assert all(ranges_cover(ui, 3 * 3600)), recorded_queries(ui.driver)[:3]
    screenshot(ui.driver, "url-state-node-b-3h")
    assert console_errors(ui.driver) == []


def test_time_picker_writes_url_reload_and_back(ui: UI) -> None:
    ui.open("/ui/d/host-overview?from=now-3h&to=now")
    ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=time-picker]").click()
    ui.driver.find_element(By.XPATH, "//button[normalize-space()='Last 1 hour']").click()
    wait_for(ui.driver, lambda d: url_params(ui).get("from") == ["now-1h"], "from=now-1h in the URL")
    wait_settled(ui.driver)
    assert url_params(ui).get("to") == ["now"]
    assert picker_label(ui) == "Last 1 hour"
    assert any(ranges_cover(ui, 3600))

    # absolute range typed into the picker
    ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=time-picker]").click()
    start = ui.driver.execute_script("return Math.floor(Date.now() / 60000) * 60000 - 2 * 3600000")
    for testid, value in (("time-from", str(start)), ("time-to", str(start + 1800_000))):
        box = ui.driver.find_element(By.CSS_SELECTOR, f"[data-testid={testid}]")
        box.clear()
        box.send_keys(value)
    ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=time-apply]").click()
    wait_for(ui.driver, lambda d: url_params(ui).get("from") == [str(start)], "the absolute from in the URL")
    assert url_params(ui).get("to") == [str(start + 1800_000)]
    wait_settled(ui.driver)
    absolute = ui.driver.current_url
    queries = recorded_queries(ui.driver)
    assert any(starts_at(q, start / 1000) and ends_at(q, (start + 1800_000) / 1000) for q in queries), queries[-3:]

    # a reload reproduces the view
    ui.driver.refresh()
    states = wait_settled(ui.driver)
    assert ui.driver.current_url == absolute
    assert "error" not in states.values(), states
    reloaded = recorded_queries(ui.driver)
    assert reloaded and all(starts_at(q, start / 1000) for q in reloaded), reloaded[:3]

    # back: the 1-hour view again, then the 3-hour one
    ui.driver.back()
    wait_for(ui.driver, lambda d: url_params(ui).get("from") == ["now-1h"], "back to from=now-1h")
    wait_settled(ui.driver)
    wait_for(ui.driver, lambda d: picker_label(ui) == "Last 1 hour", "the picker to show the 1-hour range")
    ui.driver.back()
    wait_for(ui.driver, lambda d: url_params(ui).get("from") == ["now-3h"], "back to from=now-3h")
    wait_for(ui.driver, lambda d: picker_label(ui) == "Last 3 hours", "the picker to show the 3-hour range")
    wait_settled(ui.driver)
    assert console_errors(ui.driver) == []


def test_variable_selection_writes_url(ui: UI) -> None:
    ui.open("/ui/d/host-overview?from=now-1h&to=now")
    ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=var-instance]").click()
    option = wait_for(ui.driver, lambda d: d.find_element(
        By.XPATH, "//label[contains(@class,'menu-item')][normalize-space()='node-c:9100']/input"),
        "the node-c option")
    option.click()
    wait_for(ui.driver, lambda d: url_params(ui).get("var-instance") == ["node-c:9100"],
             "var-instance=node-c:9100 in the URL")
    ui.driver.find_element(By.TAG_NAME, "body").click()
    states = wait_settled(ui.driver)
    assert "error" not in states.values(), states
    latest = recorded_queries(ui.driver)[-3:]
    assert all("node-c" in q["query"] for q in latest), latest
    assert console_errors(ui.driver) == []
