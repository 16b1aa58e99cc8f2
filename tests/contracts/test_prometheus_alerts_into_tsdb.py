"""A real Prometheus (Debian's 2.42) uses tsdb as its Alertmanager: its firing alert arrives in our
Alertmanager API v2 and is routed to a receiver."""

from __future__ import annotations

import time
from pathlib import Path

from tests.contracts.prometheus_peer import PrometheusPeer
from tests.integration.serve import ServeProcess
from tests.needs import needs_binary


@needs_binary("prometheus", package="prometheus")
def test_prometheus_sends_alerts_to_tsdb(tmp_path: Path) -> None:
    server = ServeProcess(tmp_path / "tsdb-data")
    try:
        rules = tmp_path / "prom" / "rules.yml"
        rules.parent.mkdir(parents=True)
        rules.write_text("groups: [{name: p, interval: 1s, rules: [{alert: FromPrometheus, expr: vector(1), "
                         "labels: {severity: info}, annotations: {summary: hello}}]}]\n")
        config = ("global: {evaluation_interval: 1s}\n"
                  f"rule_files: [{rules}]\n"
                  "alerting:\n  alertmanagers:\n    - static_configs:\n"
                  f"        - targets: ['127.0.0.1:{server.http_port}']\n")
        # a short resend delay: Prometheus sends nothing until its notifier has discovered us (after the
        # first evaluations) and then only when the resend delay has passed
        with PrometheusPeer(tmp_path / "prom", config, "--rules.alert.resend-delay=2s"):
            deadline = time.monotonic() + 60
            alerts: list[dict[str, object]] = []
            while time.monotonic() < deadline:
                status, body = server.get("/api/v2/alerts")
                alerts = [a for a in body if a["labels"].get("alertname") == "FromPrometheus"] if status == 200 else []
                if alerts:
                    break
                time.sleep(0.5)
            assert alerts, "Prometheus did not deliver its alert"
            (alert,) = alerts
            assert alert["labels"] == {"alertname": "FromPrometheus", "severity": "info"}
            assert alert["annotations"] == {"summary": "hello"} and alert["status"]["state"] == "active"
            assert alert["receivers"] == [{"name": "default"}] and alert["generatorURL"]
    finally:
        server.stop()
