"""The alerting pages in a real browser: the acknowledgement link of a real notification (delivered to an
aiohttp webhook receiver on 127.0.0.1) opens a confirmation page that acknowledges nothing until its form is
submitted; submitting it stops the escalation; the escalations page lists groups; a silence created in the
UI is what ``amtool`` sees and mutes its alert; the pages fit a 375 px wide phone."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from tests.aiohttp_thread import AiohttpThread
from tests.browser.conftest import api, console_errors, screenshot, serve_rule_firing_soon, wait_for
from tests.integration.serve import ServeProcess
from tests.needs import require_binary

WAIT_S = 20.0


class Receivers:
    """Webhook bodies received per path (``/pager``, ``/lead``), thread-safe."""

    def __init__(self) -> None:
        self.bodies: dict[str, list[dict[str, Any]]] = {}
        self.lock = threading.Lock()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self.lock:
            self.bodies.setdefault(request.path, []).append(body)
        return web.Response(text="ok")

    def count(self, path: str) -> int:
        with self.lock:
            return len(self.bodies.get(path, []))


@pytest.fixture(scope="module")
def alerting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, Receivers]]:
    """``tsdb serve`` with a pager receiver whose notifications start an escalation (1 s, then 4 s, to a lead)."""
    receivers = Receivers()
    app = web.Application()
    app.router.add_post("/{tail:.*}", receivers.handle)
    peer = AiohttpThread(app)
    root = tmp_path_factory.mktemp("alerting-ui")
    notifications = {
        "config": {"route": {"receiver": "pager", "group_wait": "0s", "group_interval": "1h"},
                   "receivers": [{"name": "pager", "webhook_configs": [{"url": peer.url + "/pager"}]},
                                 {"name": "lead", "webhook_configs": [{"url": peer.url + "/lead"}]}]},
        "escalation": {"policies": {"p": {"steps": [{"wait": "1s", "notify": "lead"},
                                                    {"wait": "4s", "notify": "lead"}]}},
                       "routes": {"pager": "p"}},
        "oncall": {"users": {"ann": {"email": "ann@example.com"}, "bob": {"email": "bob@example.com"}},
                   "schedules": {"primary": {"layers": [{"users": ["ann", "bob"], "shift": "1d", "start": "2026-01-05",
                                                         "handoff": "09:00"}]}}}}
    config = root / "tsdb.yml"
    config.write_text(json.dumps({"notifications": notifications}))
    proc = ServeProcess(root / "data", "--config", str(config))
    try:
        yield proc, receivers
    finally:
        proc.stop()
        peer.close()


def _wait(condition: Any, what: str, timeout_s: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _phone(driver: Any, on: bool) -> None:
    if on:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 375, "height": 800, "deviceScaleFactor": 1, "mobile": True})
    else:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_ack_link_confirms_then_acknowledges_and_stops_escalation(
        alerting: tuple[ServeProcess, Receivers], driver: Any) -> None:
    server, receivers = alerting
    console_errors(driver)
    status, _ = api(server, "POST", "/api/v2/alerts",
                    [{"labels": {"alertname": "DiskFull", "instance": "db-1"}, "annotations": {"summary": "disk 99%"}}])
    assert status == 200
    _wait(lambda: receivers.count("/pager"), "the pager notification")
    ack_url = receivers.bodies["/pager"][0]["tsdb"]["ack_url"]
    assert "/ui/ack/" in ack_url
    _wait(lambda: receivers.count("/lead"), "escalation step 1 to the lead")

    driver.get(ack_url)  # opening the link (what a link previewer does) acknowledges nothing
    wait_for(driver, lambda d: d.find_element("css selector", "[data-testid=ack-form]"), "the ack form")
    assert "DiskFull" in driver.find_element("css selector", "[data-testid=ack-page]").text
    assert "next step 2 of 2" in driver.find_element("css selector", "[data-testid=ack-escalation]").text
    _, escalations = api(server, "GET", "/api/v1/escalations")
    assert escalations["data"]["acks"] == [] and len(escalations["data"]["escalations"]) == 1

    _phone(driver, True)
    try:
        driver.get(ack_url)
        wait_for(driver, lambda d: d.find_element("css selector", "[data-testid=ack-form]"), "the ack form at 375 px")
        screenshot(driver, "alerting-ack-phone")
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 375
    finally:
        _phone(driver, False)

    driver.get(ack_url)
    by = wait_for(driver, lambda d: d.find_element("css selector", "[data-testid=ack-by]"), "the who field")
    by.clear()
    by.send_keys("alice")
    driver.find_element("css selector", "[data-testid=ack-comment]").send_keys("looking into it")
    driver.find_element("css selector", "[data-testid=ack-submit]").click()
    state = "[data-testid=ack-state]"
    wait_for(driver, lambda d: "Acknowledged by alice" in d.find_element("css selector", state).text,
             "the acknowledged state")
    screenshot(driver, "alerting-ack-done")
    _, escalations = api(server, "GET", "/api/v1/escalations")
    data = escalations["data"]
    assert data["escalations"] == [] and data["acks"][0]["by"] == "alice"
    assert data["acks"][0]["comment"] == "looking into it"
    time.sleep(5)  # past step 2's wait: the stopped escalation notifies nobody
    assert receivers.count("/lead") == 1
    assert console_errors(driver) == []


def test_ack_page_unknown_group(alerting: tuple[ServeProcess, Receivers], driver: Any) -> None:
    server, _ = alerting
    driver.get(server.url + "/ui/ack/bm90aGluZw")
    error = wait_for(driver, lambda d: d.find_element("css selector", "[data-testid=ack-error]"), "the error")
    assert "no active group" in error.text




def test_escalations_page_shows_step_and_history(alerting: tuple[ServeProcess, Receivers], driver: Any) -> None:
    server, _ = alerting
    status, _ = api(server, "POST", "/api/v2/alerts", [{"labels": {"alertname": "CpuHot", "instance": "db-2"}}])
    assert status == 200
    _wait(lambda: "CpuHot" in json.dumps(api(server, "GET", "/api/v1/escalations")[1]["data"]["groups"]),
          "the group with the new alert")
    _phone(driver, True)
    try:
        driver.get(server.url + "/ui/escalations")
        step = wait_for(driver, lambda d: d.find_element("css selector", "[data-testid=escalation-step]"), "a group")
        wait_for(driver, lambda d: "CpuHot" in d.find_element("css selector", "[data-testid=escalations-page]").text,
                 "the new alert's group")
        assert "Step" in step.text or "acknowledged" in step.text
        screenshot(driver, "alerting-escalations-phone")
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 375
    finally:
        _phone(driver, False)


def test_silence_created_in_ui_is_seen_by_amtool_and_mutes(alerting: tuple[ServeProcess, Receivers],
                                                          driver: Any) -> None:
    amtool = require_binary("amtool", package="prometheus-alertmanager")
    server, _ = alerting
    console_errors(driver)  # drained: earlier tests' pages may have logged expected 404s
    status, _ = api(server, "POST", "/api/v2/alerts", [{"labels": {"alertname": "Noisy", "instance": "web-1"}}])
    assert status == 200
    _phone(driver, True)
    try:
        driver.get(server.url + "/ui/silences?matcher=alertname%3DNoisy")
        wait_for(driver, lambda d: "Matches 1 current alert: Noisy (web-1)" in
                 d.find_element("css selector", "[data-testid=silence-preview]").text, "the preview")
        driver.find_element("css selector", "[data-testid=silence-by]").send_keys("bob")
        driver.find_element("css selector", "[data-testid=silence-comment]").send_keys("deploying web-1")
        screenshot(driver, "alerting-silence-form-phone")
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 375
        driver.find_element("css selector", "[data-testid=silence-create]").click()
        wait_for(driver, lambda d: "deploying web-1" in d.find_element("css selector",
                                                                      "[data-testid=silences-active]").text,
                 "the new silence in the active list")
        screenshot(driver, "alerting-silences-phone")
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 375
    finally:
        _phone(driver, False)
    out = subprocess.run([amtool, "silence", "query", "-o", "json", f"--alertmanager.url={server.url}"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    found = [s for s in json.loads(out) if s["comment"] == "deploying web-1"]
    assert len(found) == 1 and found[0]["createdBy"] == "bob"
    assert found[0]["matchers"][0]["name"] == "alertname" and found[0]["matchers"][0]["value"] == "Noisy"
    _, alerts = api(server, "GET", "/api/v2/alerts")
    noisy = next(a for a in alerts if a["labels"]["alertname"] == "Noisy")
    assert noisy["status"]["state"] == "suppressed" and noisy["status"]["silencedBy"] == [found[0]["id"]]
    # expire from the UI: amtool no longer lists it as active
    driver.get(server.url + "/ui/silences")
    button = wait_for(driver, lambda d: d.find_element(
        "css selector", f"[data-silence-id='{found[0]['id']}'] [data-testid=silence-expire]"), "the expire button")
    button.click()
    wait_for(driver, lambda d: "deploying web-1" in d.find_element("css selector",
                                                                  "[data-testid=silences-expired]").text,
             "the silence in the expired list")
    out = subprocess.run([amtool, "silence", "query", "-o", "json", f"--alertmanager.url={server.url}"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    assert all(s["comment"] != "deploying web-1" for s in json.loads(out))
    assert console_errors(driver) == []


@pytest.fixture(scope="module")
def rules_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, float]]:
    """``tsdb serve`` evaluating every second a rule that starts firing 12 s after start-up (the time returned)."""
    with serve_rule_firing_soon(tmp_path_factory.mktemp("alerts-ui"), "LiveSoon", 12,
                                "        labels: {severity: page}\n        annotations: {summary: it is time}\n"
                                ) as started:
        yield started


def test_alerts_page_updates_live(rules_server: tuple[ServeProcess, float], driver: Any) -> None:
    server, fires_at = rules_server
    console_errors(driver)
    _phone(driver, True)
    try:
        driver.get(server.url + "/ui/alerts")
        wait_for(driver, lambda d: d.find_element("css selector", "[data-testid=alerts-live]").text == "live",
                 "the live stream")
        driver.find_element("css selector", "[data-testid=filter-inactive]").click()
        wait_for(driver, lambda d: d.find_element("css selector", "[data-rule=LiveSoon]"), "the rule")
        assert time.time() < fires_at, "the page took too long to open: the rule fired before"
        assert driver.find_element("css selector", "[data-rule=LiveSoon]").get_attribute("data-state") == "inactive"
        driver.execute_script("window.__sameDocument = true")
        wait_for(driver, lambda d: d.find_element("css selector", "[data-rule=LiveSoon]").get_attribute("data-state")
                 == "firing", "the rule to fire on the open page", timeout_s=30)
        assert driver.execute_script("return window.__sameDocument === true")  # no reload happened
        item = driver.find_element("css selector", "[data-rule=LiveSoon] [data-testid=alert-item]")
        assert "it is time" in item.text and 'severity="page"' in item.text
        link = item.find_element("css selector", "[data-testid=silence-this]").get_attribute("href")
        assert "/ui/silences?" in link and "alertname%3DLiveSoon" in link
        screenshot(driver, "alerting-alerts-phone")
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 375
    finally:
        _phone(driver, False)
    assert console_errors(driver) == []


def test_rules_page_health_and_explorer_link(rules_server: tuple[ServeProcess, float], driver: Any) -> None:
    server, _ = rules_server
    console_errors(driver)
    _phone(driver, True)
    try:
        driver.get(server.url + "/ui/rules")
        rule = wait_for(driver, lambda d: d.find_element("css selector", "[data-rule=LiveSoon]"), "the rule")
        assert rule.get_attribute("data-health") == "ok" and "ago" in rule.text
        link = rule.find_element("css selector", "[data-testid=rule-query]").get_attribute("href")
        assert link.startswith(server.url + "/graph?g0.expr=vector%28time%28%29%29") and link.endswith("g0.tab=0")
        screenshot(driver, "alerting-rules-phone")
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 375
    finally:
        _phone(driver, False)
    assert console_errors(driver) == []


def test_notifications_page_lists_deliveries(alerting: tuple[ServeProcess, Receivers], driver: Any) -> None:
    server, _ = alerting
    console_errors(driver)
    status, _ = api(server, "POST", "/api/v2/alerts", [{"labels": {"alertname": "Logged", "instance": "x"}}])
    assert status == 200
    _wait(lambda: api(server, "GET", "/api/v1/notifications")[1]["data"], "a delivery in the log")
    _phone(driver, True)
    try:
        driver.get(server.url + "/ui/notifications")
        item = wait_for(driver, lambda d: d.find_element("css selector", "[data-receiver=pager]"), "a delivery")
        assert item.get_attribute("data-outcome") == "ok" and "webhook" in item.text
        driver.find_element("css selector", "[data-testid=outcome-failed]").click()
        wait_for(driver, lambda d: not d.find_elements("css selector", "[data-receiver=pager]"), "the outcome filter")
        driver.find_element("css selector", "[data-testid=outcome-all]").click()
        wait_for(driver, lambda d: d.find_element("css selector", "[data-testid=incidents]"), "the incidents")
        screenshot(driver, "alerting-notifications-phone")
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 375
    finally:
        _phone(driver, False)
    assert console_errors(driver) == []


def test_oncall_page_shows_who_and_handoffs(alerting: tuple[ServeProcess, Receivers], driver: Any) -> None:
    server, _ = alerting
    console_errors(driver)
    _, body = api(server, "GET", "/api/v1/oncall")
    primary = body["data"][0]
    assert primary["schedule"] == "primary" and primary["user"] in ("ann", "bob")
    assert len(primary["handoffs"]) == 7  # daily shifts: seven hand-offs within the next 7 days
    _phone(driver, True)
    try:
        driver.get(server.url + "/ui/oncall")
        selector = "[data-schedule=primary] [data-testid=oncall-now]"
        now = wait_for(driver, lambda d: d.find_element("css selector", selector), "the schedule")
        assert f"On call now: {primary['user']}" in now.text
        items = driver.find_elements("css selector", "[data-schedule=primary] [data-testid=oncall-handoffs] li")
        assert len(items) == 7
        screenshot(driver, "alerting-oncall-phone")
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 375
    finally:
        _phone(driver, False)
    assert console_errors(driver) == []
