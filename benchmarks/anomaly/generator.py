"""A seeded, labelled evaluation set: seasonal traffic, stationary gauges and counters with injected
anomalies (spike, dip, level shift, trend change, variance change) whose windows are recorded."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STEP_MS = 300_000
DAY_MS = 86_400_000
KINDS = ("spike", "dip", "level_shift", "trend_change", "variance_change")
LENGTHS = {"spike": 1, "dip": 1, "level_shift": 36, "trend_change": 48, "variance_change": 36}
PERSISTENT = ("level_shift", "trend_change")


@dataclass
class LabelledSeries:
    """One series: its labels, samples, and the anomaly window (start, end ms) with its kind."""

    labels: dict[str, str]
    ts: np.ndarray
    values: np.ndarray
    kind: str
    window: tuple[int, int] | None


def generate(series_per_kind: int = 4, days: int = 10, test_days: int = 3, seed: int = 7,
             end_ms: int = 1_800_000_000_000 // DAY_MS * DAY_MS) -> list[LabelledSeries]:
    """``series_per_kind`` series per anomaly kind and shape, plus as many without anomalies."""
    rng = np.random.default_rng(seed)
    start = end_ms - days * DAY_MS
    ts = np.arange(start, end_ms, STEP_MS, dtype=np.int64)
    n = len(ts)
    test_from = n - test_days * DAY_MS // STEP_MS
    out: list[LabelledSeries] = []
    for shape in ("traffic", "gauge", "counter"):
        for kind in (*KINDS, "none"):
            for i in range(series_per_kind):
                base, sigma = _base(shape, ts, rng)
                values = base + rng.normal(0, sigma, n)
                window = None
                if kind != "none":
                    at = int(rng.integers(test_from + 12, n - 60))
                    # a level shift and a trend change persist: their window runs to the end of the data
                    end = n - 1 if kind in PERSISTENT else min(n - 1, at + LENGTHS[kind] - 1)
                    window = (int(ts[at]), int(ts[end]))
                    values = _inject(kind, values, at, LENGTHS[kind], sigma, rng)
                if shape == "counter":  # the anomaly is in the rate: integrate a positive rate
                    values = np.cumsum(np.maximum(values, 0.0) * STEP_MS / 1000.0)
                name = f"bench_{shape}" + ("_total" if shape == "counter" else "")
                out.append(LabelledSeries({"__name__": name, "kind": kind, "id": f"{shape}-{kind}-{i}"}, ts,
                                          values, kind, window))
    return out


def _base(shape: str, ts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    phase = 2 * np.pi * (ts % DAY_MS) / DAY_MS
    level = float(rng.uniform(50, 500))
    if shape == "gauge":  # stationary, no daily curve
        return np.full(len(ts), level), level * 0.02
    return level * (1 + 0.5 * np.sin(phase - np.pi / 2) + 0.1 * np.sin(2 * phase)), level * 0.03


def _inject(kind: str, values: np.ndarray, at: int, length: int, sigma: float,
            rng: np.random.Generator) -> np.ndarray:
    v = values.copy()
    size = float(rng.uniform(7, 10)) * sigma
    if kind == "spike":
        v[at] += size
    elif kind == "dip":
        v[at] -= size
    elif kind == "level_shift":
        v[at:] += size  # the level stays shifted
    elif kind == "trend_change":
        v[at:] += np.arange(len(v) - at) * (2.0 * sigma)
    elif kind == "variance_change":
        v[at:at + length] += rng.normal(0, 5 * sigma, length)
    return v
