"""``tsdb bench peers``: the same workload against Prometheus, VictoriaMetrics and tsdb, side by side.

The workload is generated and encoded once. Each run starts every available target fresh (own temp data
dir, 127.0.0.1 ports), in an order rotated per run so no target always goes first, and measures ingestion
over HTTP remote-write, the dashboard query set (cross-checked against Prometheus's answers), and bytes
on disk after a flush and a clean stop. For tsdb, each run also measures gRPC ``Write`` and
``WriteStream`` ingestion on a fresh server. The result renders as a Markdown table of medians and
min..max over runs plus the ratios tsdb/Prometheus and tsdb/VictoriaMetrics.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tsdb.bench import report as rp
from tsdb.bench.disk import DiskResult, measure, tree_bytes
from tsdb.bench.encode import Plan, generate_workload, plan_requests
from tsdb.bench.ingest import IngestResult, ingest_grpc, ingest_http
from tsdb.bench.progress import Progress
from tsdb.bench.query import Disagreement, QueryReport, compare, run_queries
from tsdb.bench.servers import KINDS, LocalServer, available
from tsdb.errors import InvalidArgumentError, TsdbError

LABELS = {"prometheus": "Prometheus", "victoriametrics": "VictoriaMetrics", "tsdb": "tsdb"}


@dataclass
class RunResult:
    """What one run measured on one target (any part may be missing if that phase failed)."""

    kind: str
    ingest: IngestResult | None = None
    grpc: list[IngestResult] = field(default_factory=list)
    queries: QueryReport | None = None
    disk: DiskResult | None = None
    compacted_bytes: int | None = None  # Prometheus: size of the head snapshot block
    error: str = ""


@dataclass
class PeersConfig:
    """Size and shape of a peers benchmark."""

    series: int = 10_000
    duration_ms: int = 2 * 3_600_000
    runs: int = 3
    senders: int = 4
    shape: str = "queue"
    samples_per_request: int = 2000
    query_runs: int = 3
    kinds: tuple[str, ...] = KINDS
    grpc: bool = True
    seed: int = 0
    max_seconds: float = 1800.0


@dataclass
class PeersReport:
    """All runs of all targets, the cross-check disagreements and which peers were missing."""

    config: PeersConfig
    machine: str
    num_samples: int = 0
    missing: list[str] = field(default_factory=list)
    runs: dict[str, list[RunResult]] = field(default_factory=dict)
    disagreements: dict[str, list[Disagreement]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    truncated: bool = False

    def values(self, kind: str, metric: Callable[[RunResult], float | None]) -> list[float]:
        out = []
        for run in self.runs.get(kind, []):
            try:
                v = metric(run)
            except (AttributeError, TypeError):
                v = None
            out.append(math.nan if v is None else float(v))
        return out

    def median(self, kind: str, metric: Callable[[RunResult], float | None]) -> float:
        return rp.summarize(self.values(kind, metric))[0]


def _ingest_rate(r: RunResult) -> float | None:
    return r.ingest.samples_per_second if r.ingest and not r.ingest.truncated else None


def _grpc_rate(protocol: str) -> Callable[[RunResult], float | None]:
    def get(r: RunResult) -> float | None:
        for g in r.grpc:
            if g.protocol == protocol and not g.truncated:
                return g.samples_per_second
        return None
    return get


def _set_total(shape: str) -> Callable[[RunResult], float | None]:
    def get(r: RunResult) -> float | None:
        return r.queries.set_total_s(shape) if r.queries else None
    return get


def _query_median(key: str) -> Callable[[RunResult], float | None]:
    def get(r: RunResult) -> float | None:
        for t in r.queries.timings if r.queries else []:
            if t.key == key:
                return t.median_s
        return None
    return get


# (row name, metric, lower is better?) of the main table
METRICS: list[tuple[str, Callable[[RunResult], float | None], bool]] = [
    ("ingest samples/s (HTTP remote-write)", _ingest_rate, False),
    ("rejected samples", lambda r: r.ingest.rejected if r.ingest else None, True),
    ("request latency p50 ms", lambda r: r.ingest.latency_p50_ms if r.ingest else None, True),
    ("request latency p99 ms", lambda r: r.ingest.latency_p99_ms if r.ingest else None, True),
    ("server CPU s during ingest", lambda r: r.ingest.server_cpu_seconds if r.ingest else None, True),
    ("server peak RSS MiB", lambda r: (r.ingest.server_peak_rss_bytes or 0) / 2**20 if r.ingest else None, True),
    ("ingest samples/s (gRPC Write)", _grpc_rate("grpc-write"), False),
    ("ingest samples/s (gRPC WriteStream)", _grpc_rate("grpc-stream"), False),
    ("1 h query set s (sum of medians)", _set_total("1h"), True),
    ("24 h query set s (sum of medians)", _set_total("24h"), True),
    ("instant query set s (sum of medians)", _set_total("instant"), True),
    ("bytes/sample on disk (after flush + stop)", lambda r: r.disk.bytes_per_sample if r.disk else None, True),
    ("bytes/sample compacted block (Prometheus snapshot)",
     lambda r: r.compacted_bytes / r.disk.samples if r.compacted_bytes and r.disk else None, True),
]


def run_peers(config: PeersConfig, work_dir: Path | None = None, show_progress: bool = False,
              log: Callable[[str], None] = print) -> PeersReport:
    """Run the whole comparison; never leaves a process running. ``log`` receives progress lines."""
    if config.runs < 1:
        raise InvalidArgumentError(f"runs must be >= 1, got {config.runs}")
    started = time.monotonic()
    deadline = started + config.max_seconds
    result = PeersReport(config=config, machine=rp.machine_description())
    kinds = [k for k in config.kinds if available(k)]
    result.missing = [k for k in config.kinds if not available(k)]
    for k in result.missing:
        log(f"peer {LABELS.get(k, k)} not found on PATH: skipped")
    end_ms = int(time.time() * 1000) // 15_000 * 15_000
    log(f"generating {config.series:,} series x {config.duration_ms / 3_600_000:g} h (seed {config.seed})")
    workload = generate_workload(config.series, config.duration_ms, seed=config.seed, end_ms=end_ms)
    result.num_samples = int(workload.ts.shape[0])
    bar = Progress("encoding requests", result.num_samples, show_progress)
    plan = plan_requests(workload, config.senders, config.shape, config.samples_per_request, progress=bar.set,
                         keep_payloads=config.grpc and "tsdb" in kinds)
    bar.close()
    log(f"{plan.num_requests:,} requests, {plan.num_samples:,} samples, {plan.wire_bytes / 2**20:.1f} MiB "
        f"snappy, encoded in {plan.encode_seconds:.1f} s (not timed)")
    own_tmp = work_dir is None
    base = Path(tempfile.mkdtemp(prefix="tsdb-bench-")) if work_dir is None else work_dir
    base.mkdir(parents=True, exist_ok=True)
    reference: QueryReport | None = None
    try:
        for run in range(config.runs):
            order = kinds[run % len(kinds):] + kinds[:run % len(kinds)] if kinds else []
            for kind in order:
                if time.monotonic() > deadline:
                    result.truncated = True
                    result.notes.append(f"stopped by --max-seconds before run {run + 1} of {LABELS[kind]}")
                    break
                log(f"run {run + 1}/{config.runs}: {LABELS[kind]}")
                one = _run_target(kind, plan, end_ms, base / f"run{run + 1}-{kind}", config, deadline,
                                  show_progress)
                result.runs.setdefault(kind, []).append(one)
                if one.error:
                    log(f"  {LABELS[kind]} failed: {one.error}")
                if one.ingest:
                    log("  " + rp.ingest_text(one.ingest).replace("\n", "\n  "))
                if kind == "prometheus" and reference is None and one.queries is not None:
                    reference = one.queries
            if result.truncated:
                break
        if reference is not None:
            for kind in kinds:
                if kind == "prometheus":
                    continue
                last = [r.queries for r in result.runs.get(kind, []) if r.queries is not None]
                if last:
                    result.disagreements[kind] = compare(reference, last[-1])
    finally:
        if own_tmp:
            shutil.rmtree(base, ignore_errors=True)
    result.notes.append(f"whole benchmark took {time.monotonic() - started:.0f} s (generation, encoding, "
                        f"server starts and all runs)")
    return result


def _run_target(kind: str, plan: Plan, end_ms: int, data_root: Path, config: PeersConfig, deadline: float,
                show_progress: bool) -> RunResult:
    out = RunResult(kind)
    remaining = max(1.0, deadline - time.monotonic())
    server = LocalServer(kind, data_root / "data")
    data_root.mkdir(parents=True, exist_ok=True)
    try:
        server.start()
        out.ingest = ingest_http(server.url, plan, pid=server.pid, max_seconds=remaining,
                                 show_progress=show_progress)
        flushed = server.flush()
        if kind == "victoriametrics":
            time.sleep(1.0)  # let the flushed parts become searchable
        out.queries = run_queries(server.url, end_ms, runs=config.query_runs,
                                  max_seconds=max(1.0, deadline - time.monotonic()))
        server.stop()
        exclude = ("snapshots",) if kind == "prometheus" else ()
        out.disk = measure(server.data_dir, out.ingest.accepted, exclude=exclude, note=flushed)
        if kind == "prometheus":
            out.compacted_bytes = tree_bytes(server.data_dir / "snapshots") or None
    except TsdbError as err:
        out.error = str(err)
    finally:
        server.stop()
    if kind == "tsdb" and config.grpc and not out.error:
        for stream in (False, True):
            grpc_server = LocalServer("tsdb", data_root / ("grpc-stream" if stream else "grpc-write"))
            try:
                grpc_server.start()
                out.grpc.append(ingest_grpc(grpc_server.grpc, plan, stream=stream, pid=grpc_server.pid,
                                            max_seconds=max(1.0, deadline - time.monotonic()),
                                            show_progress=show_progress))
            except TsdbError as err:
                out.error = f"gRPC: {err}"
            finally:
                grpc_server.stop()
    shutil.rmtree(data_root, ignore_errors=True)
    return out


def markdown(report: PeersReport, command: str = "tsdb bench peers") -> str:
    """The results as Markdown: setup, the table (median (min..max)), ratios, per-query medians, PASS/FAIL."""
    c = report.config
    kinds = [k for k in KINDS if k in report.runs]
    lines = [f"Command: `{command}`", "",
             f"Machine: {report.machine}", "",
             f"Workload: {c.series:,} series x {c.duration_ms / 3_600_000:g} h at 15 s = {report.num_samples:,} "
             f"samples (seed {c.seed}); shape `{c.shape}`, {c.samples_per_request} samples/request, "
             f"{c.senders} senders; {c.runs} runs per target, {c.query_runs} timed runs per query.", ""]
    if report.missing:
        lines += [f"Not found (skipped): {', '.join(LABELS.get(k, k) for k in report.missing)}.", ""]
    header = ["metric", *[LABELS[k] for k in kinds]]
    ratio_cols = [(other, f"tsdb/{LABELS[other]}") for other in ("prometheus", "victoriametrics")
                  if "tsdb" in kinds and other in kinds]
    header += [name for _, name in ratio_cols]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, metric, _lower in METRICS:
        cells = [rp.fmt_range(report.values(k, metric)) for k in kinds]
        if all(cell == "-" for cell in cells):
            continue
        ratios = [rp.fmt_num(rp.ratio(report.median("tsdb", metric), report.median(other, metric)))
                  for other, _ in ratio_cols]
        lines.append("| " + " | ".join([name, *cells, *ratios]) + " |")
    lines += ["", "Median latency per query, ms:", "", "| query | " + " | ".join(LABELS[k] for k in kinds) + " |",
              "|" + "---|" * (len(kinds) + 1)]
    keys = _query_keys(report)
    for key in keys:
        cells = [rp.fmt_num(report.median(k, _query_median(key)) * 1000) for k in kinds]
        lines.append(f"| `{key}` | " + " | ".join(cells) + " |")
    lines.append("")
    for kind, items in report.disagreements.items():
        lines.append(rp.disagreements_text(items, "Prometheus", LABELS[kind]).replace("\n  ", "\n- ") + "\n")
    lines.append("Disk breakdown, last run (top-level entries of the data directory, MiB):\n")
    for kind in kinds:
        disks = [r.disk for r in report.runs[kind] if r.disk is not None]
        if disks:
            parts = sorted(disks[-1].parts.items(), key=lambda item: -item[1])[:5]
            shown = ", ".join(f"`{name}` {size / 2**20:.1f}" for name, size in parts)
            lines.append(f"- {LABELS[kind]} ({disks[-1].note or 'no flush'}): {shown}")
    lines.append("")
    for kind in kinds:
        errors = [r.error for r in report.runs[kind] if r.error]
        if errors:
            lines.append(f"{LABELS[kind]} errors: {errors[0]}\n")
    lines += [*pass_fail(report), ""]
    lines += [f"Note: {n}" for n in report.notes]
    return "\n".join(lines).rstrip() + "\n"


def _query_keys(report: PeersReport) -> list[str]:
    for runs in report.runs.values():
        for r in runs:
            if r.queries:
                return [t.key for t in r.queries.timings]
    return []


def pass_fail(report: PeersReport) -> list[str]:
    """PASS/FAIL lines for tsdb (if it ran) against the requirements and goals in docs/benchmarks.md."""
    if "tsdb" not in report.runs:
        return ["- FAIL: tsdb did not run"]
    rate = report.median("tsdb", _ingest_rate)
    seconds = report.median("tsdb", lambda r: r.ingest.seconds if r.ingest else None)
    lines = [rp.ingest_pass_line(rate, seconds=seconds),
             rp.dashboard_pass_line(report.median("tsdb", _set_total("24h")))]
    if "victoriametrics" in report.runs:
        r = rp.ratio(rate, report.median("victoriametrics", _ingest_rate))
        lines.append(f"goal ingestion >= 1.0x VictoriaMetrics: {rp.fmt_num(r)}x "
                     f"({'met' if r >= 1.0 else 'not met'})")
    if "prometheus" in report.runs:
        slower = [key for key in _query_keys(report)
                  if report.median("tsdb", _query_median(key)) > report.median("prometheus", _query_median(key))]
        lines.append(f"goal every dashboard query <= Prometheus's latency: "
                     f"{'met' if not slower else f'not met ({len(slower)} slower: ' + ', '.join(slower[:4]) + ')'}")
        ours = report.median("tsdb", METRICS[11][1])
        theirs = report.median("prometheus", METRICS[12][1])
        lines.append(f"goal bytes/sample <= Prometheus's compacted block: {rp.fmt_num(ours)} vs "
                     f"{rp.fmt_num(theirs)} ({'met' if ours <= theirs else 'not met'})")
    return [f"- {line}" for line in lines]


def chart_metrics(report: PeersReport) -> dict[str, dict[str, float]]:
    """Median per target of the headline metrics, for the PNG chart."""
    kinds = [k for k in KINDS if k in report.runs]
    picks = {"ingest samples/s": _ingest_rate, "24 h query set s": _set_total("24h"),
             "bytes/sample on disk": METRICS[11][1], "peak RSS MiB": METRICS[5][1]}
    return {name: {LABELS[k]: report.median(k, metric) for k in kinds} for name, metric in picks.items()}
