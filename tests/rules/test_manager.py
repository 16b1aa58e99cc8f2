"""Rule evaluation end to end over a real DB and engine, driven by explicit evaluation times."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from tsdb.alerting.model import Alert as Sent
from tsdb.labels import Labels, Matcher
from tsdb.query.engine.engine import Engine
from tsdb.rules.api import alerts_data, rules_data
from tsdb.rules.manager import RuleManager
from tsdb.storage.db import DB
from tsdb.storage.interfaces import is_stale

T0 = 1_700_000_000_000 // 60_000 * 60_000
RULES = """
groups:
  - name: g
    interval: 1m
    rules:
      - record: job:value:sum
        expr: sum by (job) (value)
      - alert: High
        expr: value > 10
        for: 2m
        keep_firing_for: 1m
        labels: {severity: page}
        annotations: {summary: "{{ $labels.instance }} at {{ $value }}"}
      - alert: Hysteresis
        expr: value > 10
        recovery_expr: value < 5
"""


class Recorder:
    """A Notifier collecting what it was sent."""

    def __init__(self) -> None:
        self.batches: list[list[Sent]] = []

    def send(self, alerts: Sequence[Sent]) -> None:
        self.batches.append(list(alerts))

    def names(self, state: str = "firing") -> list[str]:
        return [a.labels["alertname"] for a in self.batches[-1] if (a.ends_at is not None and state == "resolved"
                and a.ends_at <= a.updated_at) or (state == "firing" and (a.ends_at or 0) > a.updated_at)]


def _write(db: DB, t: int, value: float, instance: str = "a") -> None:
    app = db.appender()
    app.append(Labels({"__name__": "value", "instance": instance, "job": "j"}), np.array([t], np.int64),
               np.array([value]))
    app.commit()


@pytest.fixture
def setup(tmp_path: Path) -> tuple[DB, RuleManager, Recorder]:
    (tmp_path / "rules.yml").write_text(RULES)
    db = DB.open(tmp_path / "data")
    recorder = Recorder()
    manager = RuleManager([str(tmp_path / "rules.yml")], Engine(db).instant, db, [recorder],
                          external_labels={"cluster": "c1"}, external_url="http://tsdb", state_dir=tmp_path / "data")
    return db, manager, recorder


def _at(manager: RuleManager, t: int) -> int:
    offset = manager.offset_ms(manager.groups[0])
    return t + offset


def test_alert_lifecycle_recording_and_state(setup: tuple[DB, RuleManager, Recorder], tmp_path: Path) -> None:
    db, manager, recorder = setup
    high = manager.groups[0].rules[1]
    times = [_at(manager, T0 + i * 60_000) for i in range(12)]
    values = [1, 20, 20, 20, 20, 3, 3, 3, 3, 3, 3, 3]
    states = []
    for t, v in zip(times, values, strict=True):
        _write(db, t - 1000, float(v))
        assert manager.tick(t) == 1
        states.append(high.state)  # type: ignore[union-attr]
    # pending at 1 and 2 min, firing from 3 min (for: 2m), kept 1 min after recovery, then inactive
    assert states[:6] == ["inactive", "pending", "pending", "firing", "firing", "firing"]
    assert states[6:] == ["inactive"] * 6
    # recording rule output written through the appender
    q = db.querier(T0, times[-1])
    try:
        (series,) = list(q.select([Matcher("=", "__name__", "job:value:sum")]))
        assert series.samples()[1][-1] == 3.0
        alerts = [s.labels for s in q.select([Matcher("=", "__name__", "ALERTS")])]
        assert {lb.get("alertstate") for lb in alerts} == {"pending", "firing"}
        fired = next(s for s in q.select([Matcher("=", "__name__", "ALERTS"), Matcher("=", "alertname", "High"),
                                          Matcher("=", "alertstate", "firing")]))
        assert is_stale(fired.samples()[1][-1:]).all()  # resolved: the series ends with a stale marker
    finally:
        q.close()
    # notifications: firing sent, then resolved sent; annotations templated; external labels added
    sent = [a for batch in recorder.batches for a in batch if a.labels["alertname"] == "High"]
    assert sent[0].labels["cluster"] == "c1" and sent[0].annotations["summary"] == "a at 20"
    assert sent[0].generator_url.startswith("http://tsdb/graph?g0.expr=")
    assert any(a.ends_at is not None and a.ends_at <= a.updated_at for a in sent)  # a resolved one
    # hysteresis: the value dropped to 3 (< 5) so Hysteresis resolved too; API shapes
    data = rules_data(manager, {})
    (group,) = data["groups"]
    assert [r["type"] for r in group["rules"]] == ["recording", "alerting", "alerting"]
    assert group["rules"][1]["duration"] == 120 and group["rules"][1]["keepFiringFor"] == 60
    assert rules_data(manager, {"type": "record"})["groups"][0]["rules"][0]["name"] == "job:value:sum"
    assert alerts_data(manager) == {"alerts": []}


def test_hysteresis_keeps_firing_until_recovery(setup: tuple[DB, RuleManager, Recorder]) -> None:
    db, manager, _ = setup
    hyst = manager.groups[0].rules[2]
    for i, v in enumerate([20, 8, 8, 4]):
        t = _at(manager, T0 + i * 60_000)
        _write(db, t - 1000, float(v))
        manager.tick(t)
        assert hyst.state == ("inactive" if v == 4 else "firing"), (i, v)  # type: ignore[union-attr]


def test_restart_keeps_firing_alerts_and_does_not_refire(setup: tuple[DB, RuleManager, Recorder],
                                                         tmp_path: Path) -> None:
    db, manager, recorder = setup
    for i, v in enumerate([20, 20, 20, 20]):
        t = _at(manager, T0 + i * 60_000)
        _write(db, t - 1000, float(v))
        manager.tick(t)
    assert manager.groups[0].rules[1].state == "firing"  # type: ignore[union-attr]
    active_at = alerts_data(manager)["alerts"][0]["activeAt"]
    manager.stop()
    again = RuleManager([str(tmp_path / "rules.yml")], Engine(db).instant, db, [recorder],
                        external_labels={"cluster": "c1"}, state_dir=tmp_path / "data")
    high = again.groups[0].rules[1]
    assert high.state == "firing"  # type: ignore[union-attr]
    before = len(recorder.batches)
    t = _at(again, T0 + 4 * 60_000)
    _write(db, t - 1000, 20.0)
    again.tick(t)
    assert high.state == "firing"  # type: ignore[union-attr]
    assert alerts_data(again)["alerts"][0]["activeAt"] == active_at
    # whatever is re-sent after the restart is the same alert (same start), not a new firing
    first = next(a for batch in recorder.batches for a in batch if a.labels["alertname"] == "High")
    resent = [a for batch in recorder.batches[before:] for a in batch if a.labels["alertname"] == "High"]
    assert all(a.starts_at == first.starts_at for a in resent)


def test_reload_keeps_state_of_unchanged_rules(setup: tuple[DB, RuleManager, Recorder], tmp_path: Path) -> None:
    db, manager, _ = setup
    t = _at(manager, T0)
    _write(db, t - 1000, 20.0)
    manager.tick(t)
    high = manager.groups[0].rules[1]
    assert high.state == "pending"  # type: ignore[union-attr]
    (tmp_path / "rules.yml").write_text(RULES + "      - record: extra\n        expr: vector(1)\n")
    manager.reload()
    assert manager.groups[0].rules[1] is high and len(manager.groups[0].rules) == 4
    (tmp_path / "rules.yml").write_text("groups: [{name: g, rules: [{alert: X, expr: 'sum('}]}]")
    from tsdb.errors import ConfigError

    with pytest.raises(ConfigError, match="could not parse"):
        manager.reload()
    assert manager.groups[0].rules[1] is high  # a bad file keeps the running rules


def test_missed_iterations_and_no_data(tmp_path: Path) -> None:
    (tmp_path / "r.yml").write_text("groups: [{name: n, interval: 1m, rules: ["
                                    "{alert: NoData, expr: absent_metric > 1, no_data: alerting}]}]")
    db = DB.open(tmp_path / "d")
    manager = RuleManager([str(tmp_path / "r.yml")], Engine(db).instant, db, [])
    base = _at(manager, T0)
    manager.tick(base)
    assert manager.groups[0].rules[0].state == "firing"  # type: ignore[union-attr]
    manager.tick(base + 5 * 60_000)  # four ticks were missed
    assert manager.groups[0].missed_iterations == 4
    assert manager.tick(base + 5 * 60_000 + 1) == 0  # not due again yet
