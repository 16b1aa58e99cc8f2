"""No secret of the configuration leaves the server: not in any API answer, not in its log.

A real ``tsdb serve`` loads a tsdb.yml and an alertmanager.yml holding distinct secret strings, alerts are
delivered (and fail: every receiver points at a closed port on 127.0.0.1) so the errors land in the
delivery log and the server log, then every status and Alertmanager endpoint is read.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.integration.serve import ServeProcess, free_port
from tsdb.secrets import SECRET, mask_secrets, masked_yaml, redact_url, redact_urls

SECRETS = [f"SECRET{i:02d}x" for i in range(14)]


def _alertmanager_yml(closed: int) -> str:
    s = SECRETS
    return f"""global:
  smtp_smarthost: 127.0.0.1:{closed}
  smtp_from: tsdb@example.com
  smtp_auth_username: mailer
  smtp_auth_password: {s[0]}
  slack_api_url: http://127.0.0.1:{closed}/services/{s[1]}
  opsgenie_api_key: {s[2]}
route:
  receiver: everything
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: everything
    webhook_configs:
      - url: http://hookuser:{s[3]}@127.0.0.1:{closed}/hook?token={s[4]}
        send_resolved: false
      - url: http://127.0.0.1:{closed}/basic
        http_config:
          basic_auth: {{username: u, password: {s[5]}}}
      - url: http://127.0.0.1:{closed}/authz
        http_config:
          authorization: {{credentials: {s[6]}}}
      - url: http://127.0.0.1:{closed}/bearer/{s[13]}
        http_config:
          bearer_token: {s[7]}
    slack_configs:
      - channel: "#ops"
    pagerduty_configs:
      - routing_key: {s[8]}
        url: http://127.0.0.1:{closed}/pd
      - routing_key: {s[9]}
        url: http://127.0.0.1:{closed}/pd
    email_configs:
      - to: ops@example.com
    opsgenie_configs:
      - api_key: {s[10]}
    telegram_configs:
      - bot_token: {s[11]}
        chat_id: 1
"""


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return str(response.read().decode())
    except urllib.error.HTTPError as err:
        return str(err.read().decode())


def test_no_secret_in_any_answer_or_log(tmp_path: Path) -> None:
    closed = free_port()
    (tmp_path / "alertmanager.yml").write_text(_alertmanager_yml(closed))
    config = tmp_path / "tsdb.yml"
    config.write_text(f"notifications: {{config_file: {tmp_path / 'alertmanager.yml'}}}\n"
                      f"external_url: http://admin:{SECRETS[12]}@127.0.0.1:9/\n")
    server = ServeProcess(tmp_path / "data", "--config", str(config), "--web.enable-lifecycle")
    try:
        alert = [{"labels": {"alertname": "Leak", "severity": "page"}, "annotations": {"summary": "s"}}]
        status, _ = server.post("/api/v2/alerts", json.dumps(alert).encode(), {"Content-Type": "application/json"})
        assert status == 200
        deadline = time.monotonic() + 30
        deliveries: list[dict[str, object]] = []
        while time.monotonic() < deadline and len({d["integration"] for d in deliveries}) < 4:
            deliveries = json.loads(_get(server.url + "/api/v1/notifications"))["data"]
            time.sleep(0.3)
        assert deliveries and not any(d["ok"] for d in deliveries), deliveries
        assert server.post("/-/reload", b"", {})[0] == 200
        answers = {path: _get(server.url + path) for path in (
            "/api/v1/status/config", "/api/v1/status/flags", "/api/v1/status/runtimeinfo", "/api/v1/status/buildinfo",
            "/api/v1/status/tsdb", "/api/v2/status", "/api/v2/receivers", "/api/v1/notifications",
            "/api/v2/alerts", "/api/v1/alerts", "/api/v1/rules", "/api/v2/silences", "/api/v1/targets",
            "/api/v1/escalations", "/metrics", "/-/healthy")}
        original = json.loads(answers["/api/v2/status"])["config"]["original"]
        assert "smtp_auth_password: <secret>" in original and "routing_key: <secret>" in original
        assert "credentials: <secret>" in original and "api_url: <secret>" in original
        assert "bot_token: <secret>" in original and "everything" in original
    finally:
        server.stop()
    log = server.log.read_text()
    assert "tsdb started" in log and "configuration reloaded" in log  # the log was read, not an empty file
    for path, text in {**answers, "server log": log}.items():
        leaked = [s for s in SECRETS if s in text]
        assert not leaked, f"{path} shows {leaked}"


def test_masking_rules() -> None:
    masked = mask_secrets({"password": "p", "password_file": "/etc/pw", "nested": [{"api_key": "k"}],
                           "url": "https://u:p@host/x", "plain": "https://host/x", "empty_token": ""})
    assert masked == {"password": SECRET, "password_file": "/etc/pw", "nested": [{"api_key": SECRET}],
                      "url": SECRET, "plain": "https://host/x", "empty_token": ""}
    assert masked_yaml("a: [") == "" and "<secret>" in masked_yaml("routing_key: x\n")
    assert redact_url("https://u:p@hooks.example.com:8443/T0/B0/X?t=1") == "https://hooks.example.com:8443/<redacted>"
    assert redact_url("http://host") == "http://host" and redact_url("no url") == "<redacted>"
    assert redact_urls("POST to https://api.telegram.org/bot123:abc/sendMessage failed") == \
        "POST to https://api.telegram.org/<redacted> failed"


def test_yaml_errors_never_quote_the_file() -> None:
    from tsdb.alerting.config import parse_config
    from tsdb.errors import ConfigError

    text = "global:\n  smtp_auth_password: SECRET-in-a-bad-file\n bad: [\n"
    try:
        parse_config(text, "alertmanager.yml")
    except ConfigError as err:
        message = str(err)
    assert "alertmanager.yml: invalid YAML" in message and "line 3" in message
    assert "SECRET-in-a-bad-file" not in message
