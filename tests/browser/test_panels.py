"""Panel views and actions: drill-down to Explore, full screen, solo, kiosk, a 375 px phone, CSV export."""

from __future__ import annotations

import csv
import io
import urllib.parse
from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By

from tests.browser.conftest import (
    UI,
    canvas_ink,
    canvas_nonblank,
    console_errors,
    covers_range,
    recorded_queries,
    screenshot,
    wait_for,
    wait_settled,
)

# host-overview: panel 9 "Load average" (timeseries, two targets), panel 16 "Filesystems" (table)
TIMESERIES = "9"


def open_panel_menu(ui: UI, panel_id: str) -> None:
    panel = ui.driver.find_element(By.CSS_SELECTOR, f"[data-panel-id='{panel_id}']")
    ui.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", panel)
    panel.find_element(By.CSS_SELECTOR, "[data-testid=panel-menu]").click()


def visible(ui: UI, selector: str) -> bool:
    return bool(ui.driver.execute_script(
        "const e = document.querySelector(arguments[0]); if (!e) return false;"
        "const r = e.getBoundingClientRect(); const s = getComputedStyle(e);"
        "return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';", selector))


def test_panel_menu_explore_opens_the_query(ui: UI) -> None:
    ui.open("/ui/d/host-overview?from=now-1h&to=now&var-instance=node-a:9100")
    panel_queries = [q["query"] for q in recorded_queries(ui.driver) if "node_load1" in q["query"]]
    assert panel_queries, "the Load average panel's query was not sent"
    open_panel_menu(ui, TIMESERIES)
    ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=panel-menu-explore]").click()
    wait_for(ui.driver, lambda d: urllib.parse.urlsplit(d.current_url).path == "/graph", "the explorer")
    params = urllib.parse.parse_qs(urllib.parse.urlsplit(ui.driver.current_url).query)
    assert params["g0.expr"] == [panel_queries[0]], params
    assert "$instance" not in params["g0.expr"][0] and "node-a" in params["g0.expr"][0]
    assert params["g0.tab"] == ["0"] and params["g0.range_input"] == ["1h"], params
    states = wait_settled(ui.driver)
    assert list(states.values()) == ["rendered"], states
    assert canvas_nonblank(ui.driver, next(iter(states)))
    screenshot(ui.driver, "explore-drilldown")
    assert console_errors(ui.driver) == []


def test_view_panel_full_screen(ui: UI) -> None:
    states = ui.open(f"/ui/d/host-overview?viewPanel={TIMESERIES}")
    assert states == {TIMESERIES: "rendered"}, states
    width = ui.driver.execute_script(
        f"return document.querySelector(\"[data-panel-id='{TIMESERIES}']\").getBoundingClientRect().width")
    viewport = ui.driver.execute_script("return document.documentElement.clientWidth")
    assert width >= 0.9 * viewport, (width, viewport)
    assert canvas_nonblank(ui.driver, TIMESERIES)
    screenshot(ui.driver, "view-panel")
    # the panel menu's View leaves full screen again
    open_panel_menu(ui, TIMESERIES)
    ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=panel-menu-view]").click()
    wait_for(ui.driver, lambda d: "viewPanel" not in d.current_url, "viewPanel to leave the URL")
    states = wait_settled(ui.driver)
    assert len(states) > 10, states
    assert console_errors(ui.driver) == []


def test_solo_panel(ui: UI) -> None:
    states = ui.open(f"/ui/d-solo/host-overview?panelId={TIMESERIES}&from=now-2h&to=now")
    assert states == {TIMESERIES: "rendered"}, states
    assert not visible(ui, "[data-testid=top-bar]")
    assert canvas_nonblank(ui.driver, TIMESERIES)
    queries = recorded_queries(ui.driver)
    assert queries and all(covers_range(q, 120 * 60) for q in queries), queries[:3]
    screenshot(ui.driver, "solo")
    assert console_errors(ui.driver) == []


def test_kiosk_hides_the_top_bar(ui: UI) -> None:
    ui.open("/ui/d/host-overview")
    assert visible(ui, "[data-testid=top-bar]")
    assert visible(ui, "[data-testid=var-instance]")
    states = ui.open("/ui/d/host-overview?kiosk")
    assert "error" not in states.values() and len(states) > 10, states
    assert not visible(ui, "[data-testid=top-bar]")
    assert not visible(ui, "[data-testid=var-instance]")
    screenshot(ui.driver, "kiosk")
    ui.open("/ui/d/host-overview?kiosk=tv")
    assert not visible(ui, "[data-testid=top-bar]")
    assert visible(ui, "[data-testid=var-instance]"), "kiosk=tv keeps the variables bar"
    assert console_errors(ui.driver) == []


@pytest.fixture
def phone(ui: UI) -> Iterator[UI]:
    """The browser as a 375 px wide phone (device metrics override) for one test."""
    ui.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                              {"width": 375, "height": 812, "deviceScaleFactor": 2, "mobile": True})
    try:
        yield ui
    finally:
        ui.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_phone_width_stacks_panels(phone: UI) -> None:
    ui = phone
    states = ui.open("/ui/d/host-overview")
    assert "error" not in states.values(), states
    assert ui.driver.execute_script("return window.innerWidth") == 375
    assert ui.driver.execute_script("return document.documentElement.scrollWidth") <= 375
    rects = ui.driver.execute_script(
        "return [...document.querySelectorAll('[data-panel-id]')].filter(e => e.getAttribute('data-panel-type') "
        "!== 'row').map(e => { const r = e.getBoundingClientRect(); "
        "return [e.getAttribute('data-panel-id'), r.left, r.right, r.width]; })")
    narrow = [r for r in rects if r[3] < 375 - 2 * 24 or r[1] < 0 or r[2] > 375]
    assert not narrow, f"panels not full width (id, left, right, width): {narrow}"
    lefts = {round(r[1]) for r in rects}
    assert len(lefts) == 1, f"panels side by side: lefts {lefts}"
    assert visible(ui, "[data-testid=mobile-drawer-button]")
    screenshot(ui.driver, "phone")
    ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=mobile-drawer-button]").click()
    wait_for(ui.driver, lambda d: visible(ui, "[data-testid=mobile-drawer]"), "the drawer to open")
    assert visible(ui, "[data-testid=mobile-drawer] [data-testid=time-picker]")
    assert ui.driver.execute_script("return document.documentElement.scrollWidth") <= 375
    screenshot(ui.driver, "phone-drawer")
    assert console_errors(ui.driver) == []


CAPTURE_DOWNLOADS_JS = """
window.__downloads = [];
const create = URL.createObjectURL.bind(URL);
URL.createObjectURL = (blob) => { const url = create(blob); window.__downloads.push({url, blob}); return url; };
const click = HTMLAnchorElement.prototype.click;
HTMLAnchorElement.prototype.click = function () {
  if (this.hasAttribute('download')) {
    const entry = window.__downloads.find(d => d.url === this.href);
    if (entry) entry.name = this.getAttribute('download');
    return;  // captured, not saved
  }
  return click.apply(this, arguments);
};
"""

READ_DOWNLOAD_JS = """
const done = arguments[arguments.length - 1];
const entry = (window.__downloads || []).find(d => d.name);
if (!entry) { done(null); return; }
entry.blob.text().then(text => done({name: entry.name, type: entry.blob.type, text}));
"""


def test_csv_export(ui: UI) -> None:
    ui.open(f"/ui/d/host-overview?from=now-1h&to=now&viewPanel={TIMESERIES}")
    ui.driver.execute_script(CAPTURE_DOWNLOADS_JS)
    open_panel_menu(ui, TIMESERIES)
    ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=panel-menu-csv]").click()
    download = wait_for(ui.driver, lambda d: d.execute_async_script(READ_DOWNLOAD_JS), "the CSV download")
    assert download["name"].endswith(".csv") and "Load" in download["name"], download["name"]
    assert download["type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download["text"])))
    header, data = rows[0], rows[1:]
    status, model = ui.api("GET", "/api/v1/dashboards/host-overview")
    assert status == 200, model
    panel = next(p for p in model["dashboard"]["panels"] if str(p["id"]) == TIMESERIES)
    assert len(header) == 1 + len(panel["targets"]), header  # time, then one column per series
    assert "time" in header[0].lower(), header
    assert 50 <= len(data) <= 400, len(data)
    assert all(len(r) == len(header) for r in data)
    loads = [float(r[1]) for r in data if r[1]]
    # three instances' load1 summed: the data set's load1 wanders around 1.2, 1.32 and 1.44
    assert loads and all(2.0 < v < 6.0 for v in loads), loads[:5]
    assert console_errors(ui.driver) == []


def test_time_axis_spans_the_selected_range(ui: UI) -> None:
    """Three hours of data in a 24-hour view fill the right eighth of the plot, not all of it."""
    states = ui.open(f"/ui/d/host-overview?from=now-24h&to=now&viewPanel={TIMESERIES}")
    assert states == {TIMESERIES: "rendered"}, states
    screenshot(ui.driver, "time-axis-24h")
    ink = canvas_ink(ui.driver, TIMESERIES)
    assert ink is not None, "no coloured line drawn"
    first, last = ink
    assert last > 0.9, f"the newest data is not at the right edge: coloured columns {first:.2f}..{last:.2f}"
    assert first > 0.7, (f"three hours of data drawn over {1 - first:.0%} of a 24-hour axis (coloured columns "
                         f"{first:.2f}..{last:.2f}): the time axis does not span the selected range")
    assert console_errors(ui.driver) == []
