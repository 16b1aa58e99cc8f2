"""Evaluate the anomaly functions on the labelled set (or a local NAB copy) through the real engine.

The set (:mod:`benchmarks.anomaly.generator`) is written into a DB in a temp dir; every method's
``anomaly_score`` query runs as a range query over the test days at a 5-minute step; an alert is a step
whose score exceeds the method's threshold, and an alert *event* a run of consecutive alert steps (runs
separated by up to 15 minutes are one event, as an alerting rule with ``keep_firing_for: 15m`` reports
them). An anomaly is detected when an alert falls in its window (plus two steps of grace); an event
overlapping no window is a false positive. Printed per method and anomaly kind: recall, false
positives, false-positive rate (share of alert events that are false), false positives per series-day
and the median detection delay (in evaluation steps). The recommended defaults (seasonal for traffic
and counters' rates, robust for stationary gauges) are checked against the targets: FP rate < 5 % at
recall >= 80 %, spike delay <= 2.

``python -m benchmarks anomaly [--quick] [--out DIR] [--nab PATH]``. Never asserts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.anomaly.generator import DAY_MS, KINDS, STEP_MS, LabelledSeries, generate
from tsdb.config import StorageOptions
from tsdb.labels import Labels
from tsdb.query.engine.engine import Engine
from tsdb.storage.db import DB

METHODS = {  # method -> (query template over a selector, threshold)
    "seasonal": ('anomaly_score({sel}[7d], "seasonal")', 6.0),
    "robust": ('anomaly_score({sel}[6h], "robust")', 6.0),
    "ewma": ('anomaly_score({sel}[2h], "ewma")', 7.0),
}
MERGE_GAP = 3  # steps: 15 minutes, i.e. keep_firing_for: 15m
GRACE = 2  # steps after a window in which alerts still count as detections (plus a rate window for counters)
RECOMMENDED = {"traffic": "seasonal", "counter": "seasonal", "gauge": "robust", "nab": "robust"}


def _selector(series: LabelledSeries) -> str:
    sel = f'{series.labels["__name__"]}{{id="{series.labels["id"]}"}}'
    if series.labels["__name__"].endswith("_total"):
        return f"rate({sel}[10m])[{{range}}:5m]"
    return sel


def _query(method: str, series: LabelledSeries) -> str:
    template, _ = METHODS[method]
    sel = _selector(series)
    if "[{range}:5m]" in sel:  # a counter: the score over a subquery of its rate
        rng = template.split("[")[1].split("]")[0]
        return template.replace("{sel}[" + rng + "]", sel.replace("{range}", rng))
    return template.replace("{sel}", sel)


def _events(alert: np.ndarray, merge_gap: int = MERGE_GAP) -> list[tuple[int, int]]:
    """Runs of alert steps; runs separated by at most ``merge_gap`` quiet steps are one event (what an
    alerting rule with ``keep_firing_for`` of that many intervals reports as one alert)."""
    events: list[tuple[int, int]] = []
    start = None
    for i, a in enumerate(alert.tolist()):
        if a and start is None:
            start = i
        elif not a and start is not None:
            events.append((start, i - 1))
            start = None
    if start is not None:
        events.append((start, len(alert) - 1))
    merged: list[tuple[int, int]] = []
    for a, b in events:
        if merged and a - merged[-1][1] - 1 <= merge_gap:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def evaluate(series: list[LabelledSeries], quick: bool = False) -> dict[tuple[str, str, str], dict[str, float]]:
    """Per (shape, method, kind): counts of anomalies, detected, alert events, false positives, delays."""
    stats: dict[tuple[str, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    delays: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        db = DB.open(Path(tmp), StorageOptions(wal_fsync="never"))
        try:
            app = db.appender()
            for s in series:
                app.append(Labels(s.labels), s.ts, s.values)
            app.commit()
            engine = Engine(db, max_samples=500_000_000)
            end = int(max(s.ts[-1] for s in series))
            start = end - (1 if quick else 3) * DAY_MS + STEP_MS
            steps = np.arange(start, end + 1, STEP_MS)
            for s in series:
                shape = s.labels["__name__"].removeprefix("bench_").removesuffix("_total")
                if s.window is not None and not (start <= s.window[0] <= end):
                    continue
                for method, (_, threshold) in METHODS.items():
                    value = engine.range(_query(method, s), start, end, STEP_MS)
                    scores = value.values[0] if value.values.shape[0] else np.zeros(len(steps))
                    present = value.present[0] if value.present.shape[0] else np.zeros(len(steps), bool)
                    alert = present & (scores > threshold)
                    key = (shape, method, s.kind)
                    st = stats[key]
                    st["series"] += 1
                    st["days"] += (end - start) / DAY_MS
                    events = _events(alert)
                    st["events"] += len(events)
                    if s.window is not None:
                        lo = (s.window[0] - start) // STEP_MS
                        # a counter's anomaly shows in rate(...[10m]) for two more steps
                        hi = (s.window[1] - start) // STEP_MS + GRACE + (2 if shape == "counter" else 0)
                        st["anomalies"] += 1
                        hits = [i for i in range(lo, min(hi + 1, len(alert))) if alert[i]]
                        if hits:
                            st["detected"] += 1
                            delays[key].append(hits[0] - lo)
                        st["fp"] += sum(1 for a, b in events if b < lo or a > hi)
                    else:
                        st["fp"] += len(events)
        finally:
            db.close()
    for key, values in delays.items():
        stats[key]["delay"] = statistics.median(values)
    return stats


def _report(stats: dict[tuple[str, str, str], dict[str, float]]) -> list[str]:
    lines = [f"{'shape':8} {'method':9} {'kind':16} {'recall':>7} {'events':>7} {'FP':>4} {'FP rate':>8} "
             f"{'FP/series-day':>14} {'delay':>6}"]
    for (shape, method, kind), st in sorted(stats.items()):
        recall = st["detected"] / st["anomalies"] if st["anomalies"] else float("nan")
        fp_rate = st["fp"] / st["events"] if st["events"] else 0.0
        delay = st.get("delay", float("nan"))
        lines.append(f"{shape:8} {method:9} {kind:16} {recall:7.2f} {int(st['events']):7d} {int(st['fp']):4d} "
                     f"{fp_rate:8.1%} {st['fp'] / max(st['days'], 1e-9):14.3f} {delay:6.1f}")
    return lines


def _recommended(stats: dict[tuple[str, str, str], dict[str, float]]) -> list[str]:
    total = defaultdict(float)
    spike_delays = []
    for (shape, method, kind), st in stats.items():
        if RECOMMENDED.get(shape) != method:
            continue
        for k in ("anomalies", "detected", "events", "fp"):
            total[k] += st[k]
        if kind == "spike" and "delay" in st:
            spike_delays.append(st["delay"])
    recall = total["detected"] / max(total["anomalies"], 1)
    fp_rate = total["fp"] / max(total["events"], 1)
    delay = max(spike_delays) if spike_delays else float("nan")
    ok = recall >= 0.8 and fp_rate < 0.05 and delay <= 2
    return [f"recommended defaults ({', '.join(f'{s}: {m}' for s, m in RECOMMENDED.items() if s != 'nab')}): "
            f"recall {recall:.1%}, false-positive rate {fp_rate:.1%} of alert events, spike delay {delay:g} steps "
            f"-> {'meets' if ok else 'misses'} the targets (FP < 5 % at recall >= 80 %, spike delay <= 2)"]


def _plot(series: list[LabelledSeries], out: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    examples = [s for s in series if s.labels["__name__"] == "bench_traffic" and s.kind in KINDS][:3]
    fig, axes = plt.subplots(len(examples), 1, figsize=(10, 3 * len(examples)))
    for ax, s in zip(np.atleast_1d(axes), examples, strict=False):
        tail = slice(-3 * DAY_MS // STEP_MS, None)
        hours = (s.ts[tail] - s.ts[tail][0]) / 3_600_000
        ax.plot(hours, s.values[tail], lw=0.8, label=s.labels["id"])
        if s.window:
            ax.axvspan((s.window[0] - s.ts[tail][0]) / 3_600_000, (s.window[1] - s.ts[tail][0]) / 3_600_000 + 0.1,
                       color="red", alpha=0.3, label="labelled anomaly")
        ax.legend(loc="upper left")
        ax.set_xlabel("hours")
    fig.tight_layout()
    path = out / "anomaly-examples.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks anomaly", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one series per kind, one test day (for tests)")
    parser.add_argument("--out", type=Path, default=None, help="directory for the PNG (default: a temp dir)")
    parser.add_argument("--nab", type=Path, default=None, help="a local NAB checkout to evaluate as well")
    args = parser.parse_args(argv)
    started = time.monotonic()
    series = generate(series_per_kind=1 if args.quick else 4, days=8 if args.quick else 10,
                      test_days=1 if args.quick else 3)
    if args.nab is not None:
        from benchmarks.anomaly.nab import load_nab

        series += load_nab(args.nab, limit=10)
    stats = evaluate(series, quick=args.quick)
    for line in [*_report(stats), "", *_recommended(stats)]:
        print(line)
    out = args.out or Path(tempfile.mkdtemp(prefix="tsdb-anomaly-"))
    out.mkdir(parents=True, exist_ok=True)
    png = _plot(series, out)
    print(f"examples: {png}" if png else "examples: matplotlib not installed")
    print(f"({len(series)} series, {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
