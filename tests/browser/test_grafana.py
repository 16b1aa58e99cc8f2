"""Community Grafana dashboards: import through the API, render every panel (rows expanded) without an error,
and survive an export/import round trip through the import page."""

from __future__ import annotations

import json
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from tests.browser.conftest import (
    GRAFANA_DIR,
    UI,
    console_errors,
    panel_states,
    screenshot,
    wait_for,
    wait_settled,
)

# file -> panels with data at least (the data set writes the series these dashboards query)
COMMUNITY = {"node-exporter-full.json": 60, "node-exporter-full-old.json": 40, "victoriametrics-single.json": 25}


def import_file(ui: UI, name: str) -> tuple[str, list[Any]]:
    model = json.loads((GRAFANA_DIR / name).read_text())
    status, body = ui.api("POST", "/api/v1/dashboards/import?overwrite=true", model)
    assert status == 200, body
    return body["uid"], body.get("warnings", [])


def expand_rows(ui: UI) -> int:
    """Click every collapsed row open (top to bottom, again until none is left); returns how many."""
    for opened in range(100):
        toggles = ui.driver.find_elements(By.CSS_SELECTOR, ".row-toggle[aria-expanded='false']")
        if not toggles:
            return opened
        ui.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", toggles[0])
        toggles[0].click()
    raise AssertionError("rows keep collapsing")


def panel_texts(ui: UI, ids: list[str]) -> dict[str, str]:
    return {pid: ui.driver.find_element(By.CSS_SELECTOR, f"[data-panel-id='{pid}']").text[:300] for pid in ids}


@pytest.mark.parametrize("name", sorted(COMMUNITY))
def test_community_dashboard_imports_and_renders(ui: UI, name: str) -> None:
    uid, warnings = import_file(ui, name)
    states = ui.open(f"/ui/d/{uid}", timeout_s=30)
    screenshot(ui.driver, f"grafana-{name.removesuffix('.json')}")
    opened = expand_rows(ui)
    states = wait_settled(ui.driver, timeout_s=60)
    # every panel drawn once: scroll through the page so lazily drawn panels get their turn
    height = ui.driver.execute_script("return document.documentElement.scrollHeight")
    for y in range(0, int(height), 800):
        ui.driver.execute_script("window.scrollTo(0, arguments[0])", y)
    states = wait_settled(ui.driver, timeout_s=30)
    ui.driver.execute_script("window.scrollTo(0, 0)")
    screenshot(ui.driver, f"grafana-{name.removesuffix('.json')}-expanded")
    errors = [pid for pid, state in states.items() if state == "error"]
    assert not errors, f"{name}: panels in error (import warnings {warnings}): {panel_texts(ui, errors)}"
    rendered = [pid for pid, state in states.items() if state == "rendered"]
    assert len(rendered) >= COMMUNITY[name], (
        f"{name}: only {len(rendered)} panels rendered ({opened} rows opened); states {states}")
    assert console_errors(ui.driver) == []


def comparable(dashboard: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What must survive a round trip: per panel (rows' children included) id, type, title, grid position
    and queries."""
    out = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for p in panels:
            targets = tuple((t.get("refId"), t.get("expr")) for t in p.get("targets") or [])
            grid = p.get("gridPos") or {}
            out.append((p.get("id"), p.get("type"), p.get("title"),
                        tuple(grid.get(k) for k in ("x", "y", "w", "h")), targets))
            walk(p.get("panels") or [])

    walk(dashboard.get("panels") or [])
    return sorted(out, key=lambda row: row[0])


def test_export_import_round_trip_through_the_import_page(ui: UI) -> None:
    uid, _ = import_file(ui, "node-exporter-full.json")
    status, original = ui.api("GET", f"/api/v1/dashboards/{uid}")
    assert status == 200, original
    status, exported = ui.api("GET", f"/api/v1/dashboards/{uid}/export?format=grafana")
    assert status == 200, exported
    assert isinstance(exported, dict) and exported.get("panels"), exported
    exported["uid"] = "round-trip-copy"
    exported["title"] = "Round trip copy"

    ui.get("/ui/import")
    box = wait_for(ui.driver, lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=import-json]"),
                   "the import text box")
    # a 400 kB document: set it as a paste would, then let the page see the input event
    ui.driver.execute_script(
        "const box = arguments[0]; const setter = Object.getOwnPropertyDescriptor("
        "HTMLTextAreaElement.prototype, 'value').set; setter.call(box, arguments[1]);"
        "box.dispatchEvent(new Event('input', {bubbles: true}));", box, json.dumps(exported))
    ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=import-submit]").click()
    link = wait_for(ui.driver, lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=import-link]"),
                    "the import result with a link")
    status, copy = ui.api("GET", "/api/v1/dashboards/round-trip-copy")
    assert status == 200, copy
    assert comparable(copy["dashboard"]) == comparable(original["dashboard"])
    assert len(copy["dashboard"].get("variables") or []) == len(original["dashboard"].get("variables") or [])

    link.click()
    wait_for(ui.driver, lambda d: "/ui/d/round-trip-copy" in d.current_url, "the imported dashboard to open")
    copy_states = wait_settled(ui.driver, timeout_s=30)
    ui.open(f"/ui/d/{uid}", timeout_s=30)
    assert set(copy_states) == set(panel_states(ui.driver)), "the copy shows other panels than the original"
    assert console_errors(ui.driver) == []

    # the tsdb model round trip: export without format, import, same panels
    status, native = ui.api("GET", f"/api/v1/dashboards/{uid}/export")
    assert status == 200, native
    native = native.get("dashboard", native)
    native["uid"], native["title"] = "round-trip-native", "Round trip native"
    native.pop("version", None)
    status, body = ui.api("POST", "/api/v1/dashboards/import", native)
    assert status == 200, body
    status, again = ui.api("GET", "/api/v1/dashboards/round-trip-native")
    assert status == 200, again
    assert comparable(again["dashboard"]) == comparable(original["dashboard"])
