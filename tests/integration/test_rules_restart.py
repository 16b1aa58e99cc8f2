"""Alert state survives kill -9 of the server, and SIGHUP reloads rule files (a real `tsdb serve`)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import numpy as np

from tests.integration.serve import ServeProcess
from tsdb.labels import Labels
from tsdb.server.remote_write import compress_snappy, encode_write_request

RULES = """
groups:
  - name: k
    interval: 1s
    rules:
      - alert: Hot
        expr: temp > 50
        for: 2s
"""


def _write(server: ServeProcess, value: float) -> None:
    ts = np.array([int(time.time() * 1000)], np.int64)
    body = compress_snappy(encode_write_request([(Labels({"__name__": "temp", "room": "a"}), ts,
                                                  np.array([value]))]))
    status, text = server.post("/api/v1/write", body, {"Content-Type": "application/x-protobuf"})
    assert status == 204, text


def _alerts(server: ServeProcess) -> list[dict[str, object]]:
    status, body = server.get("/api/v1/alerts")
    assert status == 200
    return list(body["data"]["alerts"])


def _wait(predicate: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_firing_alert_survives_kill_9_and_sighup_reloads(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    config = tmp_path / "tsdb.yml"
    config.write_text(f"rules:\n  files: [{rules}]\n  evaluation_interval: 1s\n")
    data = tmp_path / "data"
    server = ServeProcess(data, "--config", str(config))
    try:
        _write(server, 80.0)
        _wait(lambda: any(a["state"] == "firing" for a in _alerts(server)))
        active_at = _alerts(server)[0]["activeAt"]
        server.kill()  # SIGKILL: no graceful shutdown
    finally:
        server.kill()
    again = ServeProcess(data, "--config", str(config))
    try:
        _write(again, 80.0)
        # right after the restart the alert is firing (not pending, though `for` is 2s) with its old start
        _wait(lambda: bool(_alerts(again)))
        alerts = _alerts(again)
        assert alerts[0]["state"] == "firing" and alerts[0]["activeAt"] == active_at
        # SIGHUP re-reads the rule files
        rules.write_text(RULES + "      - record: temp:max\n        expr: max(temp)\n")
        again.proc.send_signal(signal.SIGHUP)
        _wait(lambda: any(r["name"] == "temp:max" for g in again.get("/api/v1/rules")[1]["data"]["groups"]
                          for r in g["rules"]))
    finally:
        again.stop()
