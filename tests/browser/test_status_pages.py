"""The metrics explorer and the status pages (targets, TSDB status, configuration), also on a phone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By

from tests.browser.conftest import UI, console_errors, screenshot, wait_for, wait_settled
from tests.integration.serve import ServeProcess


class SelfScrapingServer(ServeProcess):
    """``tsdb serve`` scraping its own ``/metrics`` every second (job ``tsdb``)."""

    def _launch(self) -> None:
        config = self.data_dir.parent / "self-scrape.yml"
        config.write_text("collect: {host: false, self: false}\n"
                          "scrape:\n  scrape_configs:\n    - job_name: tsdb\n      scrape_interval: 1s\n"
                          f"      static_configs: [{{targets: ['127.0.0.1:{self.http_port}']}}]\n")
        super()._launch()


@pytest.fixture(scope="module")
def scraping(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    root = tmp_path_factory.mktemp("self-scrape")
    proc = SelfScrapingServer(root / "data", "--config", str(root / "self-scrape.yml"))
    try:
        yield proc
    finally:
        proc.stop()


def fits_phone(ui: UI, path: str, name: str) -> None:
    ui.driver.set_window_size(375, 800)
    try:
        ui.get(path)
        wait_settled(ui.driver)
        screenshot(ui.driver, name + "-phone")
        width = ui.driver.execute_script("return document.documentElement.scrollWidth")
        assert width <= 375, (path, width)
    finally:
        ui.driver.set_window_size(1400, 1000)


def test_targets_page_shows_the_self_scrape_target_up(ui: UI, scraping: ServeProcess) -> None:
    ui.driver.get(scraping.url + "/ui/targets")

    def up_target(d: object) -> bool:
        ui.driver.refresh()
        wait_settled(ui.driver)
        return bool(ui.driver.find_elements(By.CSS_SELECTOR, "[data-pool=tsdb] [data-testid=target][data-health=up]"))

    wait_for(ui.driver, up_target, "the tsdb target to be up")
    row = ui.driver.find_element(By.CSS_SELECTOR, "[data-pool=tsdb] [data-testid=target]")
    assert f"127.0.0.1:{scraping.http_port}/metrics" in row.text and "UP" in row.text
    assert 'job="tsdb"' in row.text
    screenshot(ui.driver, "status-targets")
    assert console_errors(ui.driver) == []


def test_tsdb_status_shows_head_series_and_top_metrics(ui: UI) -> None:
    ui.get("/ui/tsdb-status")
    wait_settled(ui.driver)
    series = ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=head-series]").text
    assert int(series) > 100, series
    top = ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=top-metrics]").text
    assert "node_cpu_seconds_total" in top
    assert "=" in ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=top-pairs]").text
    screenshot(ui.driver, "status-tsdb")
    assert console_errors(ui.driver) == []
    fits_phone(ui, "/ui/tsdb-status", "status-tsdb")


def test_config_page(ui: UI) -> None:
    ui.get("/ui/config")
    wait_settled(ui.driver)
    assert "version" in ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=buildinfo]").text
    assert "collect" in ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=config-yaml]").text
    assert ui.driver.find_elements(By.CSS_SELECTOR, "[data-testid=flags] tr")
    screenshot(ui.driver, "status-config")
    assert console_errors(ui.driver) == []
    fits_phone(ui, "/ui/config", "status-config")


def test_metrics_explorer_filters_and_opens_a_metric(ui: UI) -> None:
    ui.get("/ui/metrics")
    wait_settled(ui.driver)
    ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=metrics-filter]").send_keys("node_load")
    wait_for(ui.driver, lambda d: {e.get_attribute("data-metric") for e in d.find_elements(
        By.CSS_SELECTOR, "[data-testid=metric]")} == {"node_load1", "node_load5", "node_load15"}, "the filtered list")
    item = ui.driver.find_element(By.CSS_SELECTOR, "[data-metric=node_load1]")
    assert "3 series" in item.text
    screenshot(ui.driver, "metrics")
    item.find_element(By.CSS_SELECTOR, "a").click()
    wait_for(ui.driver, lambda d: "/graph?g0.expr=node_load1" in d.current_url, "the explorer")
    states = wait_settled(ui.driver)
    assert states == {"g0": "rendered"}, states
    assert console_errors(ui.driver) == []
    fits_phone(ui, "/ui/metrics", "metrics")


def test_targets_page_on_a_phone(ui: UI, scraping: ServeProcess) -> None:
    ui.driver.set_window_size(375, 800)
    try:
        ui.driver.get(scraping.url + "/ui/targets")
        wait_settled(ui.driver)
        width = ui.driver.execute_script("return document.documentElement.scrollWidth")
        screenshot(ui.driver, "status-targets-phone")
        assert width <= 375, width
    finally:
        ui.driver.set_window_size(1400, 1000)




def test_phone_menu_reaches_every_section(ui: UI) -> None:
    """Below 1200 px the section links fold into a menu; each entry opens its page."""
    ui.driver.set_window_size(375, 800)
    try:
        ui.get("/ui/metrics")
        wait_settled(ui.driver)
        assert not ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=nav-alerts]").is_displayed()
        ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=nav-menu-button]").click()
        menu = ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=nav-menu]")
        labels = [a.text for a in menu.find_elements(By.TAG_NAME, "a")]
        assert labels == ["Dashboards", "Explore", "Metrics", "Status", "Alerts", "SLOs", "Rules", "Silences",
                          "Notifications", "Escalations", "On call"], labels
        right = ui.driver.execute_script("return arguments[0].getBoundingClientRect().right", menu)
        assert right <= 375, right
        screenshot(ui.driver, "nav-menu-phone")
        ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=nav-menu-alerts]").click()
        wait_for(ui.driver, lambda d: d.current_url.endswith("/ui/alerts"), "the alerts page")
        ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=nav-menu-button]").click()
        ui.driver.find_element(By.TAG_NAME, "h1").click()  # a click elsewhere closes the menu
        assert not ui.driver.find_elements(By.CSS_SELECTOR, "[data-testid=nav-menu]")
        assert console_errors(ui.driver) == []
    finally:
        ui.driver.set_window_size(1400, 1000)
