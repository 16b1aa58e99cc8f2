"""The built-in dashboards render against real data: every panel settles, none in error, charts drawn."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.browser.conftest import UI, canvas_colours, console_errors, screenshot

# uid -> panels that must show data with the test data set (ids from the built-in models)
MUST_RENDER = {
    "host-overview": {"2", "3", "4", "5", "6", "8", "9", "10", "13", "14", "15", "16", "18", "19"},
    "tsdb-self": {"2", "3", "8", "10", "16"},
    "alerting-overview": {"2", "3", "5", "7"},
}


def panel_types(ui: UI) -> dict[str, str]:
    return dict(ui.driver.execute_script(
        "const o = {}; document.querySelectorAll('[data-panel-id]').forEach("
        "e => { o[e.getAttribute('data-panel-id')] = e.getAttribute('data-panel-type'); }); return o;"))


@pytest.mark.usefixtures("live_history")
@pytest.mark.parametrize("uid", sorted(MUST_RENDER))
def test_builtin_dashboard_renders(ui: UI, uid: str) -> None:
    states = ui.open(f"/ui/d/{uid}")
    screenshot(ui.driver, f"builtin-{uid}")
    errors = {pid: ui.driver.find_element(By.CSS_SELECTOR, f"[data-panel-id='{pid}']").text
              for pid, state in states.items() if state == "error"}
    assert not errors, f"panels in error: {errors}"
    missing = {pid: states.get(pid) for pid in MUST_RENDER[uid] if states.get(pid) != "rendered"}
    assert not missing, f"panels without data: {missing}; all states {states}"
    types = panel_types(ui)
    charts = [pid for pid, state in states.items()
              if state == "rendered" and types.get(pid) in ("timeseries", "heatmap")]
    colours = {pid: canvas_colours(ui.driver, pid) for pid in charts}
    blank = {pid: n for pid, n in colours.items() if n < 3}
    assert not blank, f"rendered charts without a drawing (distinct colours per panel): {blank}"
    assert console_errors(ui.driver) == []
