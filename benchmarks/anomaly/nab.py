"""Load a local copy of the Numenta Anomaly Benchmark (data/*/*.csv + labels/combined_windows.json)
as labelled series (one window per series: the first labelled one)."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import numpy as np

from benchmarks.anomaly.generator import LabelledSeries


def _ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text.split(".")[0]).replace(tzinfo=dt.UTC).timestamp() * 1000)


def load_nab(root: Path, limit: int = 0) -> list[LabelledSeries]:
    windows = json.loads((root / "labels" / "combined_windows.json").read_text())
    out = []
    for name, spans in sorted(windows.items()):
        path = root / "data" / name
        if not path.exists():
            continue
        with path.open() as f:
            rows = list(csv.DictReader(f))
        ts = np.array([_ms(r["timestamp"]) for r in rows], dtype=np.int64)
        values = np.array([float(r["value"]) for r in rows])
        window = (_ms(spans[0][0]), _ms(spans[0][1])) if spans else None
        out.append(LabelledSeries({"__name__": "nab_value", "kind": "nab" if spans else "none", "id": name},
                                  ts, values, "nab" if spans else "none", window))
        if limit and len(out) >= limit:
            break
    return out
