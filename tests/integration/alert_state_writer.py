"""A writer process for the kill -9 alert-state test.

``python -m tests.integration.alert_state_writer DIR START COUNT`` runs steps ``START .. START+COUNT-1``,
each through the server's own stores and save paths, printing ``ack <what> <key>`` only after the call
returned:

* ``ack rules <step>``: :meth:`RuleManager.tick` evaluated ``value > 0`` over ``ALERTS_PER_STEP`` series
  whose value is ``step`` and saved ``<DIR>/state/rules-state.json``;
* ``ack silence <step> <id>`` / ``ack expire <id>``: a silence created (on ``instance="i<step>"``) or
  expired through :class:`SilenceStore` persisting to :class:`AlertingStore`;
* ``ack nflog <step>``: a notification log entry for group ``g<step>``;
* ``ack ack <step>`` / ``ack esc <step>`` / ``ack unesc <step>``: an acknowledgement and an escalation of
  group ``g<step>`` saved, and the escalation of ``g<step - 1>`` deleted, in :class:`EscalationStore`;
* ``ack override <step>`` / ``ack unoverride <step>``: on-call override ``o<step>`` added and ``o<step - 2>``
  deleted in :class:`OverrideStore`.

The stores live where the server keeps them (``<DIR>/alerting/*.sqlite``). It may be killed at any moment.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from tsdb.alerting.dispatcher import NflogEntry
from tsdb.alerting.escalation import Escalation, EscalationStore
from tsdb.alerting.matchers import parse_matchers
from tsdb.alerting.oncall import Override
from tsdb.alerting.oncall_store import OverrideStore
from tsdb.alerting.silences import Silence, SilenceStore
from tsdb.alerting.store import AlertingStore
from tsdb.labels import Labels
from tsdb.query.engine.engine import Engine
from tsdb.rules.manager import RuleManager
from tsdb.storage.db import DB

ALERTS_PER_STEP = 300
STEP_MS = 60_000
T0 = 1_700_000_000_000 // STEP_MS * STEP_MS
RULES = """
groups:
  - name: kill9
    interval: 1m
    rules:
      - alert: Many
        expr: value > 0
        for: 2m
        labels: {severity: page}
        annotations: {summary: "{{ $labels.instance }} at {{ $value }}"}
"""


def stores(directory: Path) -> tuple[AlertingStore, EscalationStore, OverrideStore]:
    """The three SQLite stores at the paths the server uses."""
    alerting = directory / "alerting"
    return (AlertingStore(alerting / "alerting.sqlite"), EscalationStore(alerting / "escalation.sqlite"),
            OverrideStore(alerting / "oncall.sqlite"))


def rule_manager(directory: Path, db: DB) -> RuleManager:
    """The rule manager over ``db`` with its state in ``<directory>/state`` (restored on construction)."""
    rules = directory / "rules.yml"
    if not rules.exists():
        rules.write_text(RULES)
    return RuleManager([str(rules)], Engine(db).instant, db, state_dir=directory / "state")


def main(argv: list[str]) -> int:
    directory, start, count = Path(argv[0]), int(argv[1]), int(argv[2])
    db = DB.open(directory / f"db-{start}")  # a fresh DB per run: only the alert state is under test
    manager = rule_manager(directory, db)
    alerting, escalations, overrides = stores(directory)
    silences = SilenceStore(time.time, {s.id: s for s in alerting.load_silences()},
                            on_change=alerting.save_silence)
    series = [Labels({"__name__": "value", "instance": f"i{i}", "job": "j"}) for i in range(ALERTS_PER_STEP)]
    offset = manager.offset_ms(manager.groups[0])
    silence_ids: list[str] = []
    print("ready", flush=True)
    for step in range(start, start + count):
        t = T0 + step * STEP_MS + offset
        appender = db.appender()
        for labels in series:
            appender.append(labels, np.array([t], np.int64), np.array([float(step)]))
        appender.commit()
        manager.tick(t)
        print(f"ack rules {step}", flush=True)

        now = time.time()
        silence_id = silences.set(Silence("", parse_matchers(f'{{instance="i{step}"}}'), now, now + 3600,
                                          "kill9", f"step {step}"))
        silence_ids.append(silence_id)
        print(f"ack silence {step} {silence_id}", flush=True)
        if step % 2 == 0 and len(silence_ids) > 1:
            expired = silence_ids.pop(0)
            silences.expire(expired)
            print(f"ack expire {expired}", flush=True)

        alerting.save_nflog(f"g{step}", "pager", "webhook/0",
                            NflogEntry(frozenset({f"fp{step}"}), frozenset(), float(step)))
        print(f"ack nflog {step}", flush=True)

        escalations.save_ack(f"g{step}", {"by": "kill9", "comment": f"step {step}", "at": now,
                                          "fingerprints": [f"fp{step}"]})
        print(f"ack ack {step}", flush=True)
        escalations.save_escalation(f"g{step}", Escalation(f"g{step}", "default", step % 3, now + 60, 0,
                                                           {"group_key": f"g{step}"}))
        print(f"ack esc {step}", flush=True)
        escalations.save_escalation(f"g{step - 1}", None)
        print(f"ack unesc {step - 1}", flush=True)

        overrides.add("primary", Override(f"u{step}", now, now + 3600, f"o{step}", True, "kill9", "", now + step))
        print(f"ack override {step}", flush=True)
        if overrides.delete("primary", f"o{step - 2}"):
            print(f"ack unoverride {step - 2}", flush=True)
    manager.stop()
    for store in (alerting, escalations, overrides):
        store.close()
    db.close()
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
