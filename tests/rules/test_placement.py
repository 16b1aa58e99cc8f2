"""Rule groups placed on one node of a cluster: a group elsewhere is not evaluated here, a group taken over
continues from the shared alert state (a firing alert stays firing, a pending one keeps its ``for`` clock),
and a group handed off forgets its alerts here without sending them resolved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.rules.test_manager import T0, Recorder, _write
from tsdb.query.engine.engine import Engine
from tsdb.rules.api import rules_data
from tsdb.rules.manager import RuleManager, group_key
from tsdb.storage.db import DB

RULES = """
groups:
  - name: a
    interval: 1m
    rules: [{alert: High, expr: value > 10, for: 2m}]
  - name: b
    interval: 1m
    rules: [{record: doubled, expr: value * 2}]
"""


class SharedPlacement:
    """Two managers' view of one cluster: ``where[key]`` names the evaluating node; state shared in a dict."""

    def __init__(self, node: str, where: dict[str, str], shared: dict[str, Any]) -> None:
        self.node, self.where, self.shared = node, where, shared
        self.saves = 0

    def evaluator(self, key: str) -> str:
        return self.where.get(key, "")

    def evaluates(self, key: str) -> bool:
        return self.where.get(key) == self.node

    def saved(self, key: str) -> dict[str, list[dict[str, Any]]] | None:
        return self.shared.get(key)

    def save(self, key: str, state: dict[str, list[dict[str, Any]]]) -> None:
        self.saves += 1
        self.shared[key] = state


def test_groups_move_with_their_alert_state(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(RULES)
    db = DB.open(tmp_path / "data")
    where: dict[str, str] = {}
    shared: dict[str, Any] = {}
    out = {"n1": Recorder(), "n2": Recorder()}
    managers = {n: RuleManager([str(tmp_path / "rules.yml")], Engine(db).instant, db, [out[n]],
                               placement=SharedPlacement(n, where, shared)) for n in ("n1", "n2")}
    keys = [group_key(g) for g in managers["n1"].groups]
    where.update({keys[0]: "n1", keys[1]: "n2"})

    def tick(minute: int, value: float) -> dict[str, int]:
        _write(db, T0 + minute * 60_000 - 1000, value)
        return {n: m.tick(T0 + minute * 60_000 + 59_000) for n, m in managers.items()}

    assert tick(0, 20) == {"n1": 1, "n2": 1}  # each evaluates its own group only
    api = rules_data(managers["n2"], {})["groups"]
    assert [g["evaluatedBy"] for g in api] == ["n1", "n2"]
    assert api[0]["lastEvaluation"].startswith("0001") and not api[1]["lastEvaluation"].startswith("0001")
    tick(1, 20)
    high_n1 = managers["n1"].groups[0].rules[0]
    assert high_n1.state == "pending"  # type: ignore[union-attr]
    active_at = next(iter(high_n1.alerts.values())).active_at  # type: ignore[union-attr]

    where[keys[0]] = "n2"  # n1 left: its group moves, pending for 1 of its 2 minutes
    assert tick(2, 20) == {"n1": 0, "n2": 2}
    assert high_n1.alerts == {}  # type: ignore[union-attr]
    high_n2 = managers["n2"].groups[0].rules[0]
    alert = next(iter(high_n2.alerts.values()))  # type: ignore[union-attr]
    assert alert.active_at == active_at and alert.state == "firing"  # the for clock went on: fired at 2 min
    assert [a.labels["alertname"] for b in out["n2"].batches for a in b] == ["High"]

    where[keys[0]] = "n1"  # and back: still firing, not re-announced as new
    tick(3, 20)
    assert high_n2.alerts == {}  # type: ignore[union-attr]
    assert high_n1.state == "firing"  # type: ignore[union-attr]
    assert next(iter(high_n1.alerts.values())).active_at == active_at  # type: ignore[union-attr]
    assert all(not (a.ends_at is not None and a.ends_at <= a.updated_at)
               for b in out["n1"].batches + out["n2"].batches for a in b)  # nothing sent as resolved

    where.clear()  # placement unknown: nobody evaluates
    assert tick(4, 20) == {"n1": 0, "n2": 0}
    db.close()
