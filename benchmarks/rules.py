"""Rule evaluation cost and alert latency.

1. ``--rules`` rules (recording and alerting, alternating) over ``--series`` series: the time one
   evaluation of all groups takes (median of ``--repeats``), through the real engine and DB.
2. Breach-to-notifier latency with a real clock: a server-like manager thread evaluates a group every
   ``--interval`` seconds; a sample above the threshold is written at a random phase and the time until
   the notifier receives the firing alert is measured (goal: at most one interval + 1 s).

``python -m benchmarks rules [--rules 1000] [--series 10000] [--interval 15] [--latency-runs 3]``.
Times are printed, never asserted; every loop is bounded.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tsdb.alerting.model import Alert
from tsdb.config import StorageOptions
from tsdb.labels import Labels
from tsdb.query.engine.engine import Engine
from tsdb.rules.manager import RuleManager
from tsdb.storage.db import DB


def _rules_yaml(n: int, groups: int) -> str:
    lines = ["groups:"]
    per = max(1, n // groups)
    for g in range(groups):
        lines.append(f"  - name: g{g}\n    rules:")
        for r in range(per):
            k = g * per + r
            if k % 2:
                lines.append(f"      - alert: A{k}\n        expr: bench_metric{{shard=\"{k % 100}\"}} > 1e9")
            else:
                expr = f"sum by (job) (bench_metric{{shard=\"{k % 100}\"}})"
                lines.append(f"      - record: bench:sum{k}\n        expr: {expr}")
    return "\n".join(lines) + "\n"


class _Catcher:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.at = 0.0

    def send(self, alerts: Sequence[Alert]) -> None:
        if any(a.labels.get("alertname") == "Breach" for a in alerts) and not self.event.is_set():
            self.at = time.time()
            self.event.set()


def evaluation_cost(rules: int, series: int, repeats: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        db = DB.open(Path(tmp) / "data", StorageOptions(wal_fsync="never"))
        now = int(time.time() * 1000)
        app = db.appender()
        for i in range(series):
            app.append(Labels({"__name__": "bench_metric", "job": f"j{i % 10}", "shard": str(i % 100),
                               "instance": f"h{i}"}), np.array([now - 1000], np.int64), np.array([float(i)]))
        app.commit()
        (Path(tmp) / "rules.yml").write_text(_rules_yaml(rules, 10))
        manager = RuleManager([str(Path(tmp) / "rules.yml")], Engine(db).instant, db, [])
        times = []
        for k in range(repeats):
            started = time.perf_counter()
            for group in manager.groups:
                group.evaluate(now + k, manager.query, db, {}, "")
            times.append(time.perf_counter() - started)
        db.close()
        return statistics.median(times)


def breach_latency(interval_s: float, runs: int) -> list[float]:
    out = []
    for run in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            db = DB.open(Path(tmp) / "data", StorageOptions(wal_fsync="never"))
            (Path(tmp) / "r.yml").write_text(f"groups: [{{name: b, interval: {int(interval_s * 1000)}ms, rules: "
                                             "[{alert: Breach, expr: breach_value > 10}]}]")
            catcher = _Catcher()
            manager = RuleManager([str(Path(tmp) / "r.yml")], Engine(db).instant, db, [catcher])
            manager.start()
            try:
                time.sleep(random.Random(run).uniform(0, interval_s))
                written = time.time()
                app = db.appender()
                app.append(Labels({"__name__": "breach_value"}), np.array([int(written * 1000)], np.int64),
                           np.array([42.0]))
                app.commit()
                if catcher.event.wait(timeout=3 * interval_s + 5):
                    out.append(catcher.at - written)
            finally:
                manager.stop()
                db.close()
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks rules", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--interval", type=float, default=15.0, help="group interval for the latency runs (s)")
    parser.add_argument("--latency-runs", type=int, default=3)
    args = parser.parse_args(argv)
    cost = evaluation_cost(args.rules, args.series, args.repeats)
    print(f"{args.rules} rules over {args.series} series: {cost:.3f} s per evaluation of all groups "
          f"({cost / args.rules * 1000:.2f} ms per rule)")
    latencies = breach_latency(args.interval, args.latency_runs)
    if latencies:
        median = statistics.median(latencies)
        print(f"breach -> notifier latency at a {args.interval:g} s interval: median {median:.2f} s, "
              f"max {max(latencies):.2f} s over {len(latencies)} runs (goal <= interval + 1 s)")
    else:
        print("breach -> notifier: no alert received (bounded wait)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
