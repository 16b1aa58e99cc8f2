"""Alert state written through the server's own save paths survives kill -9: every acknowledged write is
there, nothing is half written, and the next start opens every store.

The writer (:mod:`tests.integration.alert_state_writer`) saves rule-manager state with many alerts,
creates and expires silences, writes notification log entries, acknowledgements, escalations and on-call
overrides, and prints an ``ack`` line after each call returned; it is SIGKILLed at random moments and the
stores are re-opened and checked after each kill.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.integration.alert_state_writer import ALERTS_PER_STEP, rule_manager, stores
from tsdb.rules.alerting import AlertingRuleState
from tsdb.rules.manager import STATE_FILE
from tsdb.storage.db import DB

ROOT = Path(__file__).resolve().parents[2]
KILLS = 12


@dataclass
class Acked:
    """What the writers reported as done, over all runs."""

    rules_values: set[int] = field(default_factory=set)
    """The values the saved rule state may hold (the last acknowledged step, or the one after it)."""
    silences: set[str] = field(default_factory=set)
    expired: set[str] = field(default_factory=set)
    nflog: set[int] = field(default_factory=set)
    acks: set[int] = field(default_factory=set)
    escalations: set[int] = field(default_factory=set)
    unescalated: set[int] = field(default_factory=set)
    overrides: set[int] = field(default_factory=set)
    unoverridden: set[int] = field(default_factory=set)
    maybe_deleted: set[str] = field(default_factory=set)
    """Deletes of the step in progress at the kill: they may have landed without their ``ack``."""


def _run_once(directory: Path, start: int, rng: random.Random, acked: Acked) -> int:
    """Start a writer at ``start``, SIGKILL it after a random number of acks; returns the next free step."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.integration.alert_state_writer", str(directory),
                             str(start), "10000"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    wanted = rng.choice([0, rng.randint(1, 30), rng.randint(30, 150)])
    last_step, rules = start - 1, []
    try:
        seen, end = 0, time.monotonic() + 120
        while time.monotonic() < end:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(f"the writer ended early: {proc.stderr.read() if proc.stderr else ''}")
            words = line.split()
            if words[0] == "ready":
                if wanted == 0:
                    break
                continue
            assert words[0] == "ack", line
            kind, key = words[1], words[2]
            if kind == "rules":
                rules.append(int(key))
            elif kind == "silence":
                acked.silences.add(words[3])
            elif kind == "expire":
                acked.expired.add(key)
            else:
                getattr(acked, {"nflog": "nflog", "ack": "acks", "esc": "escalations", "unesc": "unescalated",
                                "override": "overrides", "unoverride": "unoverridden"}[kind]).add(int(key))
            if kind in ("rules", "silence", "nflog", "ack", "esc", "override"):
                last_step = max(last_step, int(key))
            seen += 1
            if seen >= wanted:
                break
        time.sleep(rng.choice([0, 0.0005, 0.002, 0.01]))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    if rules:
        acked.rules_values = {rules[-1], rules[-1] + 1}
    else:
        acked.rules_values |= {start}
    # The step in progress deletes escalation g<step-1> and override o<step-2> (the first step of a run also
    # deletes ones of the previous run): those may be gone without an ack.
    in_progress = last_step if last_step >= start else start
    acked.maybe_deleted |= {f"esc {in_progress - 1}", f"override {in_progress - 2}"}
    return last_step + 2  # skip the step the kill may have left half done: ids are never reused


def _check(directory: Path, acked: Acked) -> None:
    """Re-open every store as the server does and compare with what was acknowledged."""
    state_dir = directory / "state"
    if (state_dir / STATE_FILE).exists():
        json.loads((state_dir / STATE_FILE).read_text())  # never half written
    db = DB.open(directory / "check-db")
    try:
        manager = rule_manager(directory, db)
        assert not [p.name for p in state_dir.glob("*.tmp")], "a temporary state file was left behind"
        if acked.rules_values and (state_dir / STATE_FILE).exists():
            rule = manager.groups[0].rules[0]
            assert isinstance(rule, AlertingRuleState)
            values = {a.value for a in rule.alerts.values()}
            assert len(rule.alerts) in (0, ALERTS_PER_STEP), f"{len(rule.alerts)} alerts restored"
            assert len(values) <= 1, f"alerts of different evaluations restored together: {sorted(values)}"
            assert not values or int(values.pop()) in acked.rules_values, "an acknowledged rule state was lost"
    finally:
        db.close()
    for name in ("alerting", "escalation", "oncall"):
        with sqlite3.connect(directory / "alerting" / f"{name}.sqlite") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",), name
        conn.close()
    alerting, escalations, overrides = stores(directory)
    try:
        silences = {s.id: s for s in alerting.load_silences()}
        missing = acked.silences - silences.keys()
        assert not missing, f"acknowledged silences lost: {sorted(missing)[:5]}"
        not_expired = [i for i in acked.expired if silences[i].ends_at > silences[i].updated_at]
        assert not not_expired, f"acknowledged expiries lost: {not_expired[:5]}"
        nflog = {int(g[1:]) for g, _, _ in alerting.load_nflog()}
        assert acked.nflog <= nflog, f"acknowledged nflog entries lost: {sorted(acked.nflog - nflog)[:5]}"
        acks, running = escalations.load()
        ack_steps = {int(g[1:]) for g in acks}
        assert acked.acks <= ack_steps, f"acknowledgements lost: {sorted(acked.acks - ack_steps)[:5]}"
        esc_steps = {int(g[1:]) for g in running}
        kept = {s for s in acked.escalations - acked.unescalated if f"esc {s}" not in acked.maybe_deleted}
        assert kept <= esc_steps, f"acknowledged escalations lost: {sorted(kept - esc_steps)[:5]}"
        assert not acked.unescalated & esc_steps, f"deleted escalations back: {sorted(acked.unescalated & esc_steps)}"
        stored = {int(o.id[1:]) for o in overrides.load().get("primary", [])}
        kept = {s for s in acked.overrides - acked.unoverridden if f"override {s}" not in acked.maybe_deleted}
        assert kept <= stored, f"acknowledged overrides lost: {sorted(kept - stored)[:5]}"
        assert not acked.unoverridden & stored, f"deleted overrides back: {sorted(acked.unoverridden & stored)}"
    finally:
        for store in (alerting, escalations, overrides):
            store.close()


@pytest.mark.timeout(900)
def test_alert_state_survives_kill_9(tmp_path: Path) -> None:
    rng = random.Random(7)
    acked = Acked()
    start = 1
    for kill in range(KILLS):
        start = _run_once(tmp_path, start, rng, acked)
        state = tmp_path / "state" / STATE_FILE
        if kill == 2 and state.exists():  # what a kill inside the save's write leaves: half a temporary file
            raw = state.read_bytes()
            (tmp_path / "state" / "rules-state.tmp").write_bytes(raw[: len(raw) // 2])
        _check(tmp_path, acked)
    assert len(acked.silences) > 20 and acked.expired and acked.unescalated and acked.unoverridden, \
        "the writers did too little between the kills"
