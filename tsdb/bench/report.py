"""Rendering benchmark results: single-target summaries, the peers Markdown table, PASS/FAIL, PNG chart."""

from __future__ import annotations

import math
import os
import platform
import statistics
from collections.abc import Sequence
from pathlib import Path

from tsdb.bench.disk import DiskResult
from tsdb.bench.ingest import IngestResult
from tsdb.bench.query import DASHBOARD_24H_BUDGET_S, Disagreement, QueryReport

INGEST_REQUIREMENT = 100_000.0
"""The project's requirement: sustained ingestion of at least this many samples/s on this machine."""


def machine_description() -> str:
    """Cores, memory, CPU model and OS of this machine (no paths, no host name)."""
    cores = os.cpu_count() or 0
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
                break
    except OSError:
        pass
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    parts = [f"{cores} cores", memory, model, f"{platform.system()} {platform.machine()}",
             f"Python {platform.python_version()}"]
    return ", ".join(p for p in parts if p)


def summarize(values: Sequence[float]) -> tuple[float, float, float]:
    """(median, min, max) of the finite values; NaNs if there are none."""
    finite = [v for v in values if v is not None and not math.isnan(v)]
    if not finite:
        return math.nan, math.nan, math.nan
    return statistics.median(finite), min(finite), max(finite)


def fmt_num(value: float, digits: int = 3) -> str:
    """A number with thousands separators or ``digits`` significant digits; '-' for NaN/None."""
    if value is None or math.isnan(value):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def fmt_range(values: Sequence[float], digits: int = 3) -> str:
    """'median (min..max)' or just the value when there is one run."""
    med, lo, hi = summarize(values)
    if math.isnan(med):
        return "-"
    finite = [v for v in values if v is not None and not math.isnan(v)]
    if len(finite) == 1:
        return fmt_num(med, digits)
    return f"{fmt_num(med, digits)} ({fmt_num(lo, digits)}..{fmt_num(hi, digits)})"


def ratio(a: float, b: float) -> float:
    """a / b, NaN when either is missing or b is 0."""
    if a is None or b is None or math.isnan(a) or math.isnan(b) or b == 0:
        return math.nan
    return a / b


SUSTAINED_SECONDS = 10.0
"""Sending for less than this is flagged: too short to call the rate sustained."""


def ingest_pass_line(samples_per_second: float, who: str = "tsdb", seconds: float | None = None) -> str:
    """The PASS/FAIL line for the ingestion requirement (flagged when the run was too short)."""
    verdict = "PASS" if samples_per_second >= INGEST_REQUIREMENT else "FAIL"
    short = (f"; only {seconds:.1f} s of sending, below {SUSTAINED_SECONDS:g} s: use more series or a longer "
             "--duration for a sustained figure") if seconds is not None and seconds < SUSTAINED_SECONDS else ""
    return (f"{verdict}: {who} sustained ingestion {fmt_num(samples_per_second)} samples/s "
            f"(requirement >= {INGEST_REQUIREMENT:,.0f} samples/s{short})")


def dashboard_pass_line(total_24h_s: float, who: str = "tsdb") -> str:
    """The PASS/FAIL line for the 24 h dashboard query set."""
    verdict = "PASS" if not math.isnan(total_24h_s) and total_24h_s < DASHBOARD_24H_BUDGET_S else "FAIL"
    shown = "failed queries" if math.isnan(total_24h_s) else f"{total_24h_s:.3f} s"
    return (f"{verdict}: {who} 24 h dashboard query set {shown} "
            f"(sum of median latencies; requirement < {DASHBOARD_24H_BUDGET_S:g} s)")


def ingest_text(result: IngestResult) -> str:
    """A human summary of one ingestion run."""
    lines = [f"ingest {result.protocol} -> {result.target}: shape={result.shape} senders={result.senders}",
             f"  requests {result.requests:,}, samples sent {result.samples_sent:,}, accepted {result.accepted:,}, "
             f"rejected {result.rejected:,}{' (TRUNCATED by --max-seconds)' if result.truncated else ''}",
             f"  {result.seconds:.2f} s, {fmt_num(result.samples_per_second)} accepted samples/s, "
             f"latency p50 {result.latency_p50_ms:.1f} ms, p99 {result.latency_p99_ms:.1f} ms"]
    if result.server_cpu_seconds is not None:
        rss = result.server_peak_rss_bytes or 0
        lines.append(f"  server CPU {result.server_cpu_seconds:.2f} s, peak RSS {rss / 2**20:.0f} MiB")
    lines.extend(f"  error: {e}" for e in result.errors)
    return "\n".join(lines)


def query_text(report: QueryReport) -> str:
    """A table of median latencies per query of one target."""
    lines = [f"queries -> {report.target}", f"  {'query':<34} {'series':>7} {'points':>8} {'median ms':>10}"]
    for t in report.timings:
        shown = t.error[:80] if t.error else f"{t.median_s * 1000:10.1f}"
        lines.append(f"  {t.key:<34} {t.series:>7} {t.points:>8} {shown:>10}")
    for shape in ("1h", "24h", "instant"):
        lines.append(f"  set {shape}: {report.set_total_s(shape) * 1000:.1f} ms (sum of medians)")
    return "\n".join(lines)


def disagreements_text(items: Sequence[Disagreement], reference: str, other: str) -> str:
    """The cross-check result between two targets."""
    if not items:
        return f"cross-check {other} vs {reference}: all answers agree"
    lines = [f"cross-check {other} vs {reference}: {len(items)} queries disagree"]
    lines.extend(f"  {d.key}: missing {d.missing}, extra {d.extra}, differing points {d.differing_points}; "
                 f"e.g. {d.example}" for d in items)
    return "\n".join(lines)


def disk_text(result: DiskResult) -> str:
    """One line per data directory measurement."""
    excluded = f" (excluding {', '.join(result.excluded)})" if result.excluded else ""
    note = f" [{result.note}]" if result.note else ""
    return (f"disk {result.path}: {result.bytes:,} bytes{excluded} for {result.samples:,} samples = "
            f"{fmt_num(result.bytes_per_sample)} bytes/sample{note}")


def write_chart(path: Path, metrics: dict[str, dict[str, float]], title: str) -> str:
    """A PNG bar chart (one panel per metric, one bar per target); returns a note if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "PNG chart skipped: matplotlib is not installed (pip install 'tsdb[bench]')"
    names = list(metrics)
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        targets = list(metrics[name])
        values = [0.0 if math.isnan(v) else v for v in metrics[name].values()]
        ax.bar(targets, values, color=["#4c72b0", "#dd8452", "#55a868", "#c44e52"][:len(targets)])
        ax.set_title(name, fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return f"chart written to {path}"
