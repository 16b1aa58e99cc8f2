"""The query explorer at /graph: Prometheus links, graph, table and explain tabs, autocomplete, phones."""

from __future__ import annotations

import datetime as dt
import itertools
import urllib.parse

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.conftest import UI, canvas_nonblank, console_errors, screenshot, wait_for, wait_settled

CPU_BY_INSTANCE = "sum by (instance) (rate(node_cpu_seconds_total[5m]))"


def graph_link(expr: str, tab: str = "0") -> str:
    return "/graph?" + urllib.parse.urlencode({"g0.expr": expr, "g0.tab": tab, "g0.range_input": "1h"})


def test_prometheus_graph_link_draws_the_chart(ui: UI) -> None:
    states = ui.open(graph_link(CPU_BY_INSTANCE))
    assert states == {"g0": "rendered"}, states
    assert canvas_nonblank(ui.driver, "g0")
    rows = ui.driver.find_elements(By.CSS_SELECTOR, "[data-panel-id=g0] .legend-row:not(.legend-head)")
    assert len(rows) == 3, [r.text for r in rows]
    assert "node-a:9100" in rows[0].text
    screenshot(ui.driver, "explorer-graph")
    assert console_errors(ui.driver) == []


def test_table_tab_sorts(ui: UI) -> None:
    states = ui.open(graph_link('node_load1{job="node"}', "1"))
    assert states == {"g0": "rendered"}, states
    cells = ui.driver.find_elements(By.CSS_SELECTOR, "[data-panel-id=g0] table tbody tr")
    assert len(cells) == 3
    headers = ui.driver.find_elements(By.CSS_SELECTOR, "[data-panel-id=g0] table th")
    value_header = next(h for h in headers if "Value" in h.text)

    def values() -> list[float]:
        out = []
        for row in ui.driver.find_elements(By.CSS_SELECTOR, "[data-panel-id=g0] table tbody tr"):
            cells = row.find_elements(By.CSS_SELECTOR, "td")
            out.append(float(cells[-1].text))
        return out

    value_header.click()
    first = values()
    value_header.click()
    second = values()
    assert sorted(first) in (first, first[::-1]) and second == first[::-1], (first, second)
    screenshot(ui.driver, "explorer-table")
    assert console_errors(ui.driver) == []


def test_explain_shows_the_tree(ui: UI) -> None:
    ui.get(graph_link(CPU_BY_INSTANCE, "2"))
    wait_for(ui.driver, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=explain-node]"), "the tree")
    nodes = ui.driver.find_elements(By.CSS_SELECTOR, "[data-testid=explain-node]")
    assert [n.get_attribute("data-node-type") for n in nodes] == ["aggregation", "call", "matrixSelector"]
    wait_for(ui.driver, lambda d: all(s.text.endswith("series") or "samples" in s.text for s in
                                      d.find_elements(By.CSS_SELECTOR, "[data-testid=explain-size]")), "node sizes")
    sizes = [s.text for s in ui.driver.find_elements(By.CSS_SELECTOR, "[data-testid=explain-size]")]
    assert sizes[0] == "3 series", sizes
    assert "Aggregates" in nodes[0].text and "sum" in nodes[0].text
    formatted = ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=formatted-query]").text
    assert formatted.startswith("sum by (instance)")
    screenshot(ui.driver, "explorer-explain")
    assert console_errors(ui.driver) == []


def completions(ui: UI) -> list[str]:
    return [e.text for e in ui.driver.find_elements(By.CSS_SELECTOR, ".cm-tooltip-autocomplete li .cm-completionLabel")]


def type_in_editor(ui: UI, text: str) -> None:
    editor = wait_for(ui.driver, lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=graph-editor-0] .cm-content"),
                      "the editor")
    editor.click()
    editor.send_keys(text)


def test_autocomplete_label_values_and_metric_names(ui: UI) -> None:
    ui.get("/graph")
    type_in_editor(ui, 'node_cpu_seconds_total{mode="')
    wait_for(ui.driver, lambda d: {"idle", "user", "system"} <= set(completions(ui)), "mode values offered")
    screenshot(ui.driver, "explorer-autocomplete")
    ui.get("/graph")
    type_in_editor(ui, "node_filesys")
    wait_for(ui.driver, lambda d: any(c.startswith("node_filesystem_") for c in completions(ui)),
             "metric names offered")
    assert any(c.startswith("node_filesystem_") for c in completions(ui)), completions(ui)


def test_shift_enter_runs_and_updates_url(ui: UI) -> None:
    ui.get("/graph?g0.tab=0")
    type_in_editor(ui, "node_load1")
    editor = ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=graph-editor-0] .cm-content")
    editor.send_keys(Keys.ESCAPE, Keys.SHIFT + Keys.ENTER)
    wait_for(ui.driver, lambda d: "g0.expr=node_load1" in d.current_url, "the URL to carry the query")
    states = wait_settled(ui.driver)
    assert states == {"g0": "rendered"}, states
    # a second panel
    ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=graph-add-panel]").click()
    wait_for(ui.driver, lambda d: "g1.expr" in d.current_url, "a second panel")
    assert console_errors(ui.driver) == []


def test_explorer_on_a_phone(ui: UI) -> None:
    ui.driver.set_window_size(375, 800)
    try:
        ui.open(graph_link(CPU_BY_INSTANCE))
        assert canvas_nonblank(ui.driver, "g0")
        width = ui.driver.execute_script("return document.documentElement.scrollWidth")
        screenshot(ui.driver, "explorer-phone")
        assert width <= 375, width
    finally:
        ui.driver.set_window_size(1400, 1000)
    assert console_errors(ui.driver) == []


def test_table_tab_shows_raw_samples_of_a_range_selector(ui: UI) -> None:
    states = ui.open(graph_link('node_load1{instance="node-a:9100"}[1m]', "1"))
    assert states == {"g0": "rendered"}, states
    table = ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=raw-samples]")
    rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(rows) == 1
    samples = rows[0].find_elements(By.CSS_SELECTOR, ".samples div")
    # 15 s apart, at most four in the last minute (fewer when the live feed lags on a loaded machine)
    texts = [s.text for s in samples]
    assert 1 <= len(texts) <= 4 and all(" @ " in t for t in texts), texts
    times = [dt.datetime.fromisoformat(t.split(" @ ")[1]) for t in texts]
    assert all((b - a).total_seconds() == 15 for a, b in itertools.pairwise(times)), texts
    assert console_errors(ui.driver) == []


def test_graph_shows_query_infos(ui: UI) -> None:
    # rate() over a gauge: Prometheus answers an info annotation ("metric might not be a counter")
    ui.open(graph_link("rate(node_load1[5m])"))
    notes = ui.driver.find_elements(By.CSS_SELECTOR, "[data-testid=query-info], [data-testid=query-warn]")
    assert any("counter" in n.text for n in notes), [n.text for n in notes]
    assert console_errors(ui.driver) == []


def test_functions_complete_with_signatures_and_errors_are_marked(ui: UI) -> None:
    ui.get("/graph")
    type_in_editor(ui, "histogram_quan")
    wait_for(ui.driver, lambda d: "histogram_quantile" in completions(ui), "histogram_quantile offered")
    detail = ui.driver.find_element(By.CSS_SELECTOR, ".cm-tooltip-autocomplete li .cm-completionDetail").text
    assert detail, "a function completion without its signature"
    ui.get("/graph")
    type_in_editor(ui, "sum(rate(node_load1[5m]) +")
    mark = wait_for(ui.driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".cm-lintRange-error"), "an error mark")
    assert mark
    assert console_errors(ui.driver) == []


def test_query_history_lists_executed_queries(ui: UI) -> None:
    ui.open(graph_link("node_load5"))
    ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=graph-run-0]").click()
    ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=graph-history-0]").click()
    items = ui.driver.find_element(By.CSS_SELECTOR, "[data-testid=query-history]").text
    assert "node_load5" in items
    assert console_errors(ui.driver) == []
