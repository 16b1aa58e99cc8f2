"""The ``tsdb bench`` subcommands: turn parsed arguments into benchmark runs and printed reports.

Each function takes the ``argparse.Namespace`` built by ``tsdb.cli`` and returns the exit code:
0 done, 1 the benchmark ran but a phase failed (or a PASS/FAIL check failed with ``--strict``), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tsdb.bench import report as rp
from tsdb.bench.disk import measure
from tsdb.bench.encode import generate_workload, plan_requests
from tsdb.bench.ingest import IngestResult, ingest_grpc, ingest_http, parse_target
from tsdb.bench.progress import Progress
from tsdb.bench.query import compare, http_query, run_queries
from tsdb.config import parse_duration_ms
from tsdb.errors import TsdbError


def _err(command: str, message: str) -> int:
    print(f"tsdb bench {command}: {message}", file=sys.stderr)
    return 2


def _write_json(path: str | None, payload: Any) -> None:
    if path:
        Path(path).write_text(json.dumps(payload, indent=2, default=str) + "\n")


def ingest(args: argparse.Namespace) -> int:
    """``tsdb bench ingest``: generate, pre-encode, send over HTTP and/or gRPC, report."""
    if not args.target and not args.grpc:
        return _err("ingest", "give --target URL (HTTP remote-write) and/or --grpc HOST:PORT")
    try:
        if args.target:
            parse_target(args.target)
        duration_ms = parse_duration_ms(args.duration, "--duration")
        end_ms = int(time.time() * 1000) // 15_000 * 15_000
        workload = generate_workload(args.series, duration_ms, seed=args.seed, end_ms=end_ms)
        passes: list[tuple[str, str]] = []
        if args.target:
            passes.append(("http", args.target))
        if args.grpc:
            modes = ["grpc-write", "grpc-stream"] if args.grpc_mode == "both" else [f"grpc-{args.grpc_mode}"]
            passes.extend((mode, args.grpc) for mode in modes)
        results: list[IngestResult] = []
        for i, (protocol, where) in enumerate(passes):
            # later passes send the same samples as distinct series, so they are not duplicates
            extra = {"bench_pass": protocol} if i else {}
            bar = Progress("encoding requests", workload.num_samples, not args.no_progress)
            plan = plan_requests(workload, args.senders, args.shape, args.samples_per_request,
                                 extra_labels=extra, progress=bar.set, keep_payloads=protocol != "http")
            bar.close()
            print(f"{plan.num_requests:,} requests, {plan.num_samples:,} samples ({args.series:,} series x "
                  f"{args.duration}), {plan.wire_bytes / 2**20:.1f} MiB snappy, encoded in "
                  f"{plan.encode_seconds:.1f} s (not timed)")
            if protocol == "http":
                result = ingest_http(where, plan, pid=args.pid, max_seconds=args.max_seconds,
                                     show_progress=not args.no_progress)
            else:
                result = ingest_grpc(where, plan, stream=protocol == "grpc-stream", pid=args.pid,
                                     max_seconds=args.max_seconds, show_progress=not args.no_progress)
            results.append(result)
            print(rp.ingest_text(result))
            print(rp.ingest_pass_line(result.samples_per_second, result.target, result.seconds))
    except TsdbError as err:
        return _err("ingest", str(err))
    _write_json(args.json, [r.to_dict() for r in results])
    failed = any(r.accepted == 0 or r.truncated for r in results)
    strict_fail = args.strict and any(r.samples_per_second < rp.INGEST_REQUIREMENT for r in results)
    return 1 if failed or strict_fail else 0


def _parse_time_ms(text: str | None) -> int:
    if not text or text == "now":
        return int(time.time() * 1000) // 15_000 * 15_000
    return int(float(text) * 1000)


def query(args: argparse.Namespace) -> int:
    """``tsdb bench query``: the dashboard set against --target, optionally cross-checked with --compare."""
    try:
        parse_target(args.target)
        if args.compare:
            parse_target(args.compare)
        end_ms = _parse_time_ms(args.end)
        main = run_queries(args.target, end_ms, runs=args.runs, max_seconds=args.max_seconds)
        print(rp.query_text(main))
        print(rp.dashboard_pass_line(main.set_total_s("24h"), args.target))
        payload: dict[str, Any] = {"target": args.target, "end_ms": end_ms,
                                   "timings": [asdict(t) | {"median_s": t.median_s} for t in main.timings]}
        status = 0 if all(not t.error for t in main.timings) else 1
        if args.compare:
            other = run_queries(args.compare, end_ms, runs=args.runs, max_seconds=args.max_seconds)
            print(rp.query_text(other))
            items = compare(main, other, rel_tol=args.rel_tol)
            print(rp.disagreements_text(items, args.target, args.compare))
            payload["compare"] = {"target": args.compare, "disagreements": [asdict(d) for d in items],
                                  "timings": [asdict(t) | {"median_s": t.median_s} for t in other.timings]}
            status = status or (1 if items else 0)
    except TsdbError as err:
        return _err("query", str(err))
    _write_json(args.json, payload)
    if args.strict and not main.dashboard_pass():
        status = 1
    return status


def disk(args: argparse.Namespace) -> int:
    """``tsdb bench disk``: bytes per sample of a data dir (samples given or counted by --target)."""
    try:
        note = ""
        if args.target:
            parse_target(args.target)
            note = _flush(args.target)
        samples = args.samples
        if samples is None:
            if not args.target:
                return _err("disk", "give --samples N, or --target URL to count the samples with a query")
            data = http_query(args.target, "/api/v1/query",
                              {"query": f'sum(count_over_time({{__name__=~".+"}}[{args.window}]))'})
            result = data.get("result") or []
            samples = int(float(result[0]["value"][1])) if result else 0
        result_disk = measure(args.data_dir, samples, exclude=tuple(args.exclude or ()), note=note)
    except TsdbError as err:
        return _err("disk", str(err))
    print(rp.disk_text(result_disk))
    for name, size in result_disk.parts.items():
        print(f"  {name}: {size:,} bytes")
    _write_json(args.json, asdict(result_disk) | {"bytes_per_sample": result_disk.bytes_per_sample})
    return 0 if samples > 0 else 1


def _flush(url: str) -> str:
    """Ask a VictoriaMetrics-like target to flush (harmless 404 elsewhere); returns what happened."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url.rstrip("/") + "/internal/force_flush", timeout=60):
            return "force_flush"
    except (urllib.error.URLError, OSError):
        return "no flush endpoint"


def peers(args: argparse.Namespace) -> int:
    """``tsdb bench peers``: Prometheus, VictoriaMetrics and tsdb on 127.0.0.1, N runs, Markdown table."""
    from tsdb.bench.peers import PeersConfig, chart_metrics, markdown, run_peers

    try:
        kinds = tuple(k.strip() for k in args.targets.split(",") if k.strip())
        unknown = [k for k in kinds if k not in ("prometheus", "victoriametrics", "tsdb")]
        if unknown:
            return _err("peers", f"unknown target(s) {', '.join(unknown)}; choose from prometheus, "
                        "victoriametrics, tsdb")
        config = PeersConfig(series=args.series, duration_ms=parse_duration_ms(args.duration, "--duration"),
                             runs=args.runs, senders=args.senders, shape=args.shape,
                             samples_per_request=args.samples_per_request, query_runs=args.query_runs,
                             kinds=kinds, grpc=not args.no_grpc, seed=args.seed, max_seconds=args.max_seconds)
        work_dir = Path(args.work_dir) if args.work_dir else None
        result = run_peers(config, work_dir, show_progress=not args.no_progress)
    except TsdbError as err:
        return _err("peers", str(err))
    command = (f"tsdb bench peers --series {args.series} --duration {shlex.quote(args.duration)} --runs {args.runs} "
               f"--senders {args.senders} --shape {args.shape}" + (" --no-grpc" if args.no_grpc else ""))
    text = markdown(result, command)
    print(text)
    if args.out_md:
        Path(args.out_md).write_text(text)
    if args.out_png:
        print(rp.write_chart(Path(args.out_png), chart_metrics(result),
                             f"tsdb bench peers: {args.series:,} series x {args.duration}"))
    _write_json(args.json, {"config": asdict(config), "machine": result.machine, "missing": result.missing,
                            "markdown": text})
    ran = [k for k in kinds if result.runs.get(k)]
    failed = not ran or any(r.error for k in ran for r in result.runs[k])
    if args.strict and any(line.startswith("- FAIL") for line in text.splitlines()):
        failed = True
    return 1 if failed else 0
