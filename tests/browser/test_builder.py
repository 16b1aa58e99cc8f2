"""The builder: a new dashboard, a panel with a query, saved with a message, moved by dragging, saved again;
the version history lists both versions and restoring the first brings its layout back."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.conftest import UI, canvas_nonblank, console_errors, screenshot, wait_for, wait_settled

EXPR = "sum by (instance) (rate(node_cpu_seconds_total[5m]))"


def click(ui: UI, testid: str) -> None:
    element = wait_for(ui.driver, lambda d: d.find_element(By.CSS_SELECTOR, f"[data-testid='{testid}']"),
                       f"the {testid} control")
    element.click()


def type_query(ui: UI, testid: str, text: str) -> None:
    """Type into the query editor (CodeMirror once loaded, else its plain text box) as a user would."""
    editor = wait_for(ui.driver, lambda d: d.find_element(
        By.CSS_SELECTOR, f"[data-testid='{testid}'] .cm-content, [data-testid='{testid}'] textarea"),
        "the query editor")
    editor.click()
    editor.send_keys(Keys.CONTROL, "a")
    editor.send_keys(Keys.DELETE)
    editor.send_keys(text)
    editor.send_keys(Keys.ESCAPE)  # close any completion popup


def stored(ui: UI, uid: str) -> dict[str, Any]:
    status, body = ui.api("GET", f"/api/v1/dashboards/{uid}")
    assert status == 200, body
    return dict(body)


def save(ui: UI, message: str, title: str | None = None) -> None:
    click(ui, "save-button")
    if title is not None:
        box = ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=save-title]")
        box.clear()
        box.send_keys(title)
    ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=save-message]").send_keys(message)
    click(ui, "save-confirm")
    wait_for(ui.driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "[data-testid=save-dialog]"),
             "the save dialog to close")


def test_build_save_drag_versions_restore(ui: UI) -> None:
    ui.get("/ui/new")
    click(ui, "add-panel")
    click(ui, "add-timeseries")
    wait_for(ui.driver, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=panel-editor]"), "the panel editor")
    title = ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=panel-title-input]")
    title.clear()
    title.send_keys("CPU by instance")
    type_query(ui, "query-editor-A", EXPR)
    screenshot(ui.driver, "builder-panel-editor")
    click(ui, "panel-editor-apply")
    wait_for(ui.driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "[data-testid=panel-editor]"),
             "the panel editor to close")
    states = wait_settled(ui.driver)
    assert list(states.values()) == ["rendered"], states
    panel_id = next(iter(states))

    save(ui, "first panel", title="Browser test build")
    wait_for(ui.driver, lambda d: "/ui/d/" in d.current_url, "the saved dashboard's URL")
    uid = ui.driver.current_url.split("/ui/d/")[1].split("?")[0]
    first = stored(ui, uid)
    assert first["meta"]["version"] == 1, first["meta"]
    panels = first["dashboard"]["panels"]
    assert len(panels) == 1 and panels[0]["title"] == "CPU by instance"
    assert panels[0]["targets"][0]["expr"] == EXPR
    start = panels[0]["gridPos"]

    # reload: the saved dashboard comes back from the server
    ui.driver.refresh()
    states = wait_settled(ui.driver)
    assert states == {str(panels[0]["id"]): "rendered"}, states
    assert canvas_nonblank(ui.driver, panel_id)
    assert "CPU by instance" in ui.driver.find_element(By.CSS_SELECTOR, f"[data-panel-id='{panel_id}']").text

    # drag the panel by its header to the right half
    click(ui, "edit-button")
    header = ui.driver.find_element(By.CSS_SELECTOR, f"[data-panel-id='{panel_id}'] .panel-header")
    column = ui.driver.execute_script("return document.querySelector('.grid').getBoundingClientRect().width / 24")
    ActionChains(ui.driver).move_to_element_with_offset(header, -header.size["width"] // 4, 0).click_and_hold() \
        .move_by_offset(int(3 * column), 5).move_by_offset(int(3 * column), 5).release().perform()
    wait_settled(ui.driver)
    screenshot(ui.driver, "builder-dragged")
    save(ui, "moved right")
    second = stored(ui, uid)
    assert second["meta"]["version"] == 2, second["meta"]
    moved = second["dashboard"]["panels"][0]["gridPos"]
    assert moved["x"] == start["x"] + 6 and moved["w"] == start["w"], (start, moved)

    # version history: two versions with their messages; restore the first
    click(ui, "settings-button")
    click(ui, "settings-tab-versions")
    rows = wait_for(ui.driver, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=versions] tbody tr"),
                    "the version list")
    texts = [r.text for r in rows]
    assert len(rows) == 2, texts
    assert "moved right" in texts[0] and "first panel" in texts[1], texts
    status, listed = ui.api("GET", f"/api/v1/dashboards/{uid}/versions")
    assert status == 200 and [v["version"] for v in listed] == [2, 1], listed
    screenshot(ui.driver, "builder-versions")
    rows[1].find_element(By.XPATH, ".//button[normalize-space()='Restore']").click()
    wait_for(ui.driver, lambda d: d.switch_to.alert, "the restore confirmation").accept()
    wait_for(ui.driver, lambda d: stored(ui, uid)["meta"]["version"] == 3, "the restore to save version 3")
    restored = stored(ui, uid)
    assert restored["dashboard"]["panels"][0]["gridPos"] == start
    states = wait_settled(ui.driver)
    left = ui.driver.execute_script(
        f"return document.querySelector(\"[data-panel-id='{panel_id}']\").getBoundingClientRect().left")
    assert left < column, f"the restored panel is not back at the left edge ({left} px)"
    assert console_errors(ui.driver) == []
