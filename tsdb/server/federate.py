"""Federation (``GET /federate?match[]=...``): the latest sample of every matching series, as Prometheus's
federation handler answers it, in the text exposition format 0.0.4.

For each series matching any selector, the newest raw sample in ``[now - lookback delta, now]`` (a series
whose newest sample there is a stale marker is left out). Series are grouped by metric name into families
sorted by name (series sorted by labels within one), each family has a ``# TYPE <name> untyped`` line,
every sample its timestamp in ms. Labels with an empty value are never written; the external labels a
series lacks are appended after its own (sorted by name), and ``instance=""`` too when ``instance`` is not
an external label, so a scraper with ``honor_labels: true`` keeps the series' labels as they are.
Everything here blocks: run it on a query thread.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np

from tsdb.labels import METRIC_NAME, Labels, Matcher
from tsdb.storage.interfaces import STALE_NAN_BITS, FlatSeries, Queryable, SelectHints, deadline_scope

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def format_float(value: float) -> str:
    """A sample value as Go's ``strconv.FormatFloat(v, 'g', -1, 64)`` writes it in the text format:
    shortest round-trip digits, exponent form below 1e-4 and from 1e21 (``1e-05``, ``1e+21``), ``NaN``,
    ``+Inf``, ``-Inf``."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    scientific = np.format_float_scientific(value, unique=True, trim="-", exp_digits=2)
    exponent = int(scientific.rpartition("e")[2])
    if value != 0 and (exponent < -4 or exponent >= 21):
        return scientific
    return np.format_float_positional(value, unique=True, trim="-")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def latest_samples(queryable: Queryable, matcher_sets: Sequence[Sequence[Matcher]], now_ms: int,
                   lookback_ms: int) -> list[tuple[Labels, int, float]]:
    """(labels, ts, value) of the newest non-stale sample in ``[now - lookback, now]`` of every series
    matching any of ``matcher_sets``, sorted by labels."""
    mint = now_ms - lookback_ms
    hints = SelectHints(mint=mint, maxt=now_ms, max_source_resolution="raw")
    latest: dict[Labels, tuple[int, float]] = {}
    querier = queryable.querier(mint, now_ms)
    try:
        for matchers in matcher_sets:
            select_flat = getattr(querier, "select_flat", None)
            flat: FlatSeries = (select_flat(matchers, hints) if select_flat
                                else FlatSeries.from_series(querier.select(matchers, hints)))
            if not flat.labels:
                continue
            keep = (flat.ts >= mint) & (flat.ts <= now_ms)
            for i, labels in enumerate(flat.labels):
                lo, hi = int(flat.offsets[i]), int(flat.offsets[i + 1])
                inside = np.flatnonzero(keep[lo:hi])
                if inside.size:
                    j = lo + int(inside[-1])
                    latest[labels] = (int(flat.ts[j]), float(flat.values[j]))
    finally:
        querier.close()
    out = []
    for labels in sorted(latest):
        t, v = latest[labels]
        if np.float64(v).view(np.uint64) != np.uint64(STALE_NAN_BITS):
            out.append((labels, t, v))
    return out


def render(samples: Sequence[tuple[Labels, int, float]], external_labels: Mapping[str, str]) -> str:
    """The text exposition of ``samples`` (see the module doc)."""
    external = dict(external_labels)
    external.setdefault("instance", "")
    external_names = sorted(external)
    # a stable sort by name keeps each family's series in label order
    ordered = sorted(samples, key=lambda s: s[0].get(METRIC_NAME))
    lines: list[str] = []
    last_name: str | None = None
    for labels, t, v in ordered:
        name = labels.get(METRIC_NAME)
        if not name:
            continue  # Prometheus leaves nameless series out
        if name != last_name:
            lines.append(f"# TYPE {name} untyped")
            last_name = name
        pairs = [(n, val) for n, val in labels.items() if n != METRIC_NAME and val]
        used = {n for n, _ in pairs}
        pairs += [(n, external[n]) for n in external_names if n not in used]
        inner = ",".join(f'{n}="{_escape(val)}"' for n, val in pairs)
        lines.append(f"{name}{{{inner}}} {format_float(v)} {t}" if inner else f"{name} {format_float(v)} {t}")
    return "\n".join(lines) + "\n" if lines else ""


def federate(queryable: Queryable, matcher_sets: Sequence[Sequence[Matcher]], external_labels: Mapping[str, str],
             lookback_ms: int, now_ms: int | None = None, timeout_s: float | None = None) -> str:
    """The ``/federate`` body for ``matcher_sets`` at ``now_ms`` (default: now)."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    deadline = time.monotonic() + timeout_s if timeout_s is not None else float("inf")
    with deadline_scope(deadline):
        return render(latest_samples(queryable, matcher_sets, now, lookback_ms), external_labels)
