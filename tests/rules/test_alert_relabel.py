"""``rules.alert_relabel_configs``: Prometheus's alert relabelling, applied after the external labels to every
alert the rule manager hands to its notifiers; parsing errors name the key."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tsdb.alerting.model import Alert
from tsdb.errors import ConfigError
from tsdb.labels import Labels
from tsdb.query.engine.engine import Engine
from tsdb.rules.config import RulesConfig
from tsdb.rules.manager import RuleManager
from tsdb.storage.db import DB

T0 = 1_700_000_000_000 // 60_000 * 60_000
RULES = """
groups:
  - name: g
    interval: 1m
    rules:
      - alert: Page
        expr: value > 10
        labels: {severity: page}
      - alert: Ticket
        expr: value > 10
        labels: {severity: ticket}
"""


class Recorder:
    """A Notifier keeping every alert it was sent."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def send(self, alerts: Sequence[Alert]) -> None:
        self.alerts.extend(alerts)

    def labels(self) -> list[dict[str, str]]:
        return sorted((a.labels for a in self.alerts), key=lambda lb: lb["alertname"])


def _relabel(raw: list[dict[str, Any]]) -> Any:
    return RulesConfig.from_raw({"alert_relabel_configs": raw}).alert_relabel_configs


@pytest.fixture
def db(tmp_path: Path) -> Any:
    (tmp_path / "rules.yml").write_text(RULES)
    database = DB.open(tmp_path / "data")
    try:
        yield database
    finally:
        database.close()


def _manager(db: DB, tmp_path: Path, relabel: list[dict[str, Any]], *notifiers: Recorder) -> RuleManager:
    return RuleManager([str(tmp_path / "rules.yml")], Engine(db).instant, db, list(notifiers),
                       external_labels={"cluster": "eu-1", "replica": "a"}, alert_relabel=_relabel(relabel))


def _evaluate(db: DB, manager: RuleManager, value: float, minute: int) -> None:
    t = T0 + minute * 60_000 + manager.offset_ms(manager.groups[0])
    app = db.appender()
    app.append(Labels({"__name__": "value", "job": "j"}), np.array([t - 1000], np.int64), np.array([value]))
    app.commit()
    assert manager.tick(t) == 1


def test_labeldrop_removes_an_external_label_from_firing_and_resolved_alerts(db: DB, tmp_path: Path) -> None:
    recorder = Recorder()
    manager = _manager(db, tmp_path, [{"action": "labeldrop", "regex": "replica"}], recorder)
    _evaluate(db, manager, 20, 0)
    assert recorder.labels() == [{"alertname": "Page", "cluster": "eu-1", "job": "j", "severity": "page"},
                                 {"alertname": "Ticket", "cluster": "eu-1", "job": "j", "severity": "ticket"}]
    recorder.alerts.clear()
    _evaluate(db, manager, 1, 1)  # resolved alerts must carry the same label set as the firing ones did
    assert [a.labels.get("replica") for a in recorder.alerts] == [None, None]
    assert all(a.ends_at is not None and a.ends_at <= a.updated_at for a in recorder.alerts)


def test_drop_sends_the_alert_to_no_notifier_and_keeps_the_rule_state(db: DB, tmp_path: Path) -> None:
    built_in, external = Recorder(), Recorder()
    drop_tickets = [{"source_labels": ["severity"], "regex": "ticket", "action": "drop"}]
    manager = _manager(db, tmp_path, drop_tickets, built_in, external)
    _evaluate(db, manager, 20, 0)
    for recorder in (built_in, external):  # both notifiers see the same relabelled alerts
        assert [lb["alertname"] for lb in recorder.labels()] == ["Page"]
        assert recorder.labels()[0]["replica"] == "a"
    # the rule itself fires as before, with the rule's labels (no external labels, nothing dropped)
    assert sorted(a.labels["alertname"] for _, a in manager.active_alerts()) == ["Page", "Ticket"]
    ticket = next(a for _, a in manager.active_alerts() if a.labels["alertname"] == "Ticket")
    assert ticket.state == "firing" and ticket.last_sent_at > 0  # counted as sent: no resend storm


def test_replace_sees_the_external_labels(db: DB, tmp_path: Path) -> None:
    recorder = Recorder()
    manager = _manager(db, tmp_path, [
        {"source_labels": ["cluster", "severity"], "separator": "/", "regex": "(.+)/(page)",
         "target_label": "route", "replacement": "${1}-oncall"},
        {"action": "labelkeep", "regex": "alertname|route|severity"}], recorder)
    _evaluate(db, manager, 20, 0)
    assert recorder.labels() == [{"alertname": "Page", "route": "eu-1-oncall", "severity": "page"},
                                 {"alertname": "Ticket", "severity": "ticket"}]


def test_apply_changes_the_relabelling_for_the_next_alerts(db: DB, tmp_path: Path) -> None:
    recorder = Recorder()
    manager = RuleManager([str(tmp_path / "rules.yml")], Engine(db).instant, db, [recorder],
                          external_labels={"replica": "a"}, resend_delay_ms=60_000)
    _evaluate(db, manager, 20, 0)
    assert {a.labels["replica"] for a in recorder.alerts} == {"a"}
    manager.apply(manager._load(), alert_relabel=_relabel([{"action": "labeldrop", "regex": "replica"}]))
    recorder.alerts.clear()
    _evaluate(db, manager, 20, 1)  # resent after the resend delay
    assert len(recorder.alerts) == 2 and all("replica" not in a.labels for a in recorder.alerts)
    manager.apply(manager._load())  # not given: kept
    recorder.alerts.clear()
    _evaluate(db, manager, 20, 2)
    assert len(recorder.alerts) == 2 and all("replica" not in a.labels for a in recorder.alerts)


def test_relabelled_returns_a_new_alert(db: DB, tmp_path: Path) -> None:
    manager = _manager(db, tmp_path, [{"action": "labeldrop", "regex": "replica"}])
    alert = Alert({"alertname": "A", "replica": "a"}, {"summary": "s"}, 1.0, 2.0, "http://x", 1.5)
    out = manager.relabelled(alert)
    assert out is not None and out.labels == {"alertname": "A"} and alert.labels["replica"] == "a"
    assert (out.annotations, out.starts_at, out.ends_at, out.generator_url) == ({"summary": "s"}, 1.0, 2.0, "http://x")
    manager.alert_relabel = ()
    assert manager.relabelled(alert) is alert


@pytest.mark.parametrize(("raw", "message"), [
    ("labeldrop", "rules.alert_relabel_configs: expected a list, got str"),
    ([{"action": "bogus"}], "rules.alert_relabel_configs[0].action: unknown relabel action 'bogus'"),
    ([{"action": "drop", "regex": "x"}, {"regex": "("}], "rules.alert_relabel_configs[1].regex: "),
    ([{"action": "replace", "source_labels": ["a"]}],
     "rules.alert_relabel_configs[0]: relabel configuration for replace action requires 'target_label' value"),
    ([{"action": "hashmod", "target_label": "h"}],
     "rules.alert_relabel_configs[0]: relabel configuration for hashmod requires non-zero modulus"),
    ([{"action": "labeldrop", "regexp": "replica"}],
     "rules.alert_relabel_configs[0]: field regexp not found in a relabel config"),
    ([5], "rules.alert_relabel_configs[0]: expected a mapping"),
])
def test_config_errors_name_the_key(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        RulesConfig.from_raw({"alert_relabel_configs": raw})
    assert str(err.value).startswith(message)


def test_config_defaults_to_no_relabelling() -> None:
    assert RulesConfig.from_raw({}).alert_relabel_configs == ()
    assert RulesConfig.from_raw({"alert_relabel_configs": None}).alert_relabel_configs == ()
