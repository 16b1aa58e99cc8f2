"""``slos:`` in tsdb.yml with a real ``tsdb serve``: the specs' generated rules are listed by /api/v1/rules
next to the rule files', evaluated, and regenerated on ``POST /-/reload`` and SIGHUP; a bad spec is refused
naming the file and field; ``tsdb check config`` validates the section."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.serve import ServeProcess
from tests.slo.golden import DATA
from tsdb.cli.main import main

SPEC = """version: prometheus/v1
service: shop
slos:
  - name: requests-availability
    objective: {objective}
    sli:
      events:
        error_query: sum(rate(http_requests_total{{code=~"5.."}}[{{{{.window}}}}]))
        total_query: sum(rate(http_requests_total[{{{{.window}}}}]))
    alerting:
      name: ShopHighErrorRate
      page_alert: {{labels: {{severity: page}}}}
      ticket_alert: {{labels: {{severity: ticket}}}}
"""


def _config(tmp_path: Path, rules: Path, specs: list[str], period: str = "30d") -> Path:
    config = tmp_path / "tsdb.yml"
    config.write_text(f"rules:\n  files: [{rules}]\n  evaluation_interval: 1s\n"
                      f"slos:\n  files: [{', '.join(specs)}]\n  period: {period}\n")
    return config


def _groups(server: ServeProcess) -> dict[str, dict[str, object]]:
    status, body = server.get("/api/v1/rules")
    assert status == 200
    return {g["name"]: g for g in body["data"]["groups"]}


def _wait(check: Callable[[], object], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _objective(server: ServeProcess) -> str:
    group = _groups(server).get("sloth-slo-meta-recordings-shop-requests-availability", {})
    rules = group.get("rules") or []
    assert isinstance(rules, list)
    return next((r["query"] for r in rules if r["name"] == "slo:objective:ratio"), "")


def test_serve_runs_and_reloads_slo_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text("groups: [{name: plain, rules: [{record: 'plain:one', expr: vector(1)}]}]\n")
    spec = tmp_path / "slos" / "shop.yml"
    spec.parent.mkdir()
    spec.write_text(SPEC.format(objective=99.9))
    openslo = DATA / "openslo"
    config = _config(tmp_path, rules, [f"{spec.parent}/*.yml", str(openslo / "checkout-slo.yaml"),
                                       str(openslo / "checkout-slis.yaml")])
    assert main(["check", "config", str(config)]) == 0
    assert f"checked SLO specs {spec.parent}/*.yml" in capsys.readouterr().out

    server = ServeProcess(tmp_path / "data", "--config", str(config), "--web.enable-lifecycle")
    try:
        groups = _groups(server)
        assert {"plain", "sloth-slo-sli-recordings-shop-requests-availability",
                "sloth-slo-meta-recordings-shop-requests-availability", "sloth-slo-alerts-shop-requests-availability",
                "sloth-slo-sli-recordings-checkout-requests-availability-0"} <= set(groups)
        assert groups["sloth-slo-alerts-shop-requests-availability"]["file"] == str(spec)
        alerts = groups["sloth-slo-alerts-shop-requests-availability"]["rules"]
        assert isinstance(alerts, list)
        assert [(a["name"], a["labels"]["sloth_severity"]) for a in alerts] == [
            ("ShopHighErrorRate", "page"), ("ShopHighErrorRate", "ticket")]
        assert _objective(server) == "vector(0.9990000000000001)"
        _wait(lambda: server.get("/api/v1/query", query='slo:objective:ratio{sloth_service="shop"}')[1]
              ["data"]["result"], "SLO metadata recorded")

        # a new objective, read on POST /-/reload
        spec.write_text(SPEC.format(objective=99.5))
        status, _ = server.post("/-/reload", b"", {})
        assert status == 200
        assert _objective(server) == "vector(0.995)"

        # a bad spec: refused naming the file and field, the running rules kept
        spec.write_text(SPEC.format(objective=120))
        status, text = server.post("/-/reload", b"", {})
        assert status == 500 and f"{spec}: slo 'requests-availability': objective: must be > 0 and <= 100" in text
        assert _objective(server) == "vector(0.995)"

        # fixed again, now on SIGHUP, with a 28 day period
        spec.write_text(SPEC.format(objective=99))
        _config(tmp_path, rules, [str(spec)], period="28d")
        server.proc.send_signal(signal.SIGHUP)
        _wait(lambda: _objective(server) == "vector(0.99)", "objective 99 after SIGHUP")
        groups = _groups(server)
        assert "sloth-slo-sli-recordings-checkout-requests-availability-0" not in groups
        sli = groups["sloth-slo-sli-recordings-shop-requests-availability"]["rules"]
        assert isinstance(sli, list) and sli[-1]["name"] == "slo:sli_error:ratio_rate4w"
    finally:
        server.stop()


def test_check_config_names_the_slo_file_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text("groups: []\n")
    spec = tmp_path / "shop.yml"
    spec.write_text(SPEC.format(objective=99.9).replace("[{{.window}}]))\n        total", "[5m]))\n        total"))
    assert main(["check", "config", str(_config(tmp_path, rules, [str(spec)]))]) == 1
    assert (f"{spec}: slo 'requests-availability': sli.events.error_query: the query must use the "
            "{{.window}} template variable") in capsys.readouterr().err
    spec.write_text(SPEC.format(objective=99.9))
    assert main(["check", "config", str(_config(tmp_path, rules, [str(spec)], period="7d"))]) == 1
    assert "slos.period: SLO period '7d' is not supported: 30d and 28d are" in capsys.readouterr().err
    assert main(["check", "config", str(_config(tmp_path, rules, [str(tmp_path / "missing.yml")]))]) == 1
    assert "slos.files: " in capsys.readouterr().err
