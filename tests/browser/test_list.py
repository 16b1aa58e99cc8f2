"""The dashboard list (``/ui/``): built-in dashboards listed, search and tag filter narrow it, URL follows."""

from __future__ import annotations

import urllib.request

from selenium.webdriver.common.by import By

from tests.browser.conftest import UI, console_errors, screenshot, wait_for

BUILTIN = {"host-overview", "tsdb-self", "alerting-overview"}


def listed(ui: UI) -> list[str]:
    """uids of the dashboards shown in the list, in order."""
    return list(ui.driver.execute_script(
        "return [...document.querySelectorAll('[data-testid=dashboard-list] li[data-uid]')]"
        ".filter(e => e.offsetParent !== null).map(e => e.getAttribute('data-uid'))"))


def test_root_redirects_to_the_ui(ui: UI) -> None:
    with urllib.request.urlopen(ui.url + "/", timeout=10) as response:
        assert response.status == 200
        assert response.url.rstrip("/").endswith("/ui")


def test_list_shows_builtins_and_search_filters(ui: UI) -> None:
    ui.get("/ui/")
    wait_for(ui.driver, lambda d: set(listed(ui)) >= BUILTIN, "the built-in dashboards in the list")
    everything = listed(ui)
    titles = [e.text for e in ui.driver.find_elements(By.CSS_SELECTOR, "[data-testid=dashboard-list] .dash-link")]
    assert titles == sorted(titles, key=str.lower), f"list not sorted by title: {titles}"
    screenshot(ui.driver, "list")

    search = ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=dashboard-search]")
    search.send_keys("host")
    wait_for(ui.driver, lambda d: "host-overview" in listed(ui) and "tsdb-self" not in listed(ui),
             "the search to keep only matching dashboards")
    assert "alerting-overview" not in listed(ui)
    assert "query=host" in ui.driver.current_url
    screenshot(ui.driver, "list-search")

    search.clear()
    search.send_keys("no dashboard is called this")
    wait_for(ui.driver, lambda d: listed(ui) == [], "an empty list for a search without matches")
    assert "No dashboard matches" in ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=dashboard-list]").text

    ui.driver.execute_script("arguments[0].value = ''; arguments[0].dispatchEvent(new Event('input', {bubbles: true}))",
                             search)
    wait_for(ui.driver, lambda d: listed(ui) == everything, "the full list again after clearing the search")
    assert console_errors(ui.driver) == []


def test_tag_filter_and_link_to_dashboard(ui: UI) -> None:
    ui.get("/ui/")
    wait_for(ui.driver, lambda d: set(listed(ui)) >= BUILTIN, "the built-in dashboards in the list")
    ui.driver.find_element(By.CSS_SELECTOR, "[data-testid='tag-host']").click()
    wait_for(ui.driver, lambda d: "host-overview" in listed(ui) and "tsdb-self" not in listed(ui),
             "the tag filter to keep only dashboards tagged host")
    assert "tag=host" in ui.driver.current_url
    ui.driver.find_element(By.CSS_SELECTOR, "li[data-uid='host-overview'] a").click()
    wait_for(ui.driver, lambda d: d.current_url.split("?")[0].endswith("/ui/d/host-overview"),
             "the link to open the dashboard")
    assert console_errors(ui.driver) == []
