"""The ``tsdb`` command line: argument parsing and dispatch; each subcommand calls into the package."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tsdb import __version__

if TYPE_CHECKING:
    from tsdb.config import ServerConfig


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="tsdb", description="tsdb: time-series database and monitoring")
    parser.add_argument("--version", action="version", version=f"tsdb {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser(
        "serve", help="run the server (HTTP API on 127.0.0.1:9201, gRPC on 127.0.0.1:9202)",
        description="Run tsdb: the Prometheus-compatible HTTP API (queries, remote-write), the Alertmanager API "
        "and notifications, the gRPC service, rule evaluation, scraping, host metrics and background "
        "compaction/downsampling/retention over one data directory. Flags override the config file.")
    serve.add_argument("--config", metavar="FILE", help="YAML config file: keys as the flags below, plus the "
                       "sections storage, query, rules (docs/rules.md), notifications (docs/alerting.md), "
                       "scrape and collect (docs/sdk.md), external_labels and external_url")
    serve.add_argument("--data-dir", metavar="DIR", help="data directory (default ./tsdb-data)")
    serve.add_argument("--http-listen", metavar="HOST:PORT", help="HTTP API address (default 127.0.0.1:9201)")
    serve.add_argument("--grpc-listen", metavar="HOST:PORT", help="gRPC address (default 127.0.0.1:9202)")
    serve.add_argument("--retention", metavar="DURATION", help="raw data retention (default 90d)")
    serve.add_argument("--wal-fsync", metavar="POLICY",
                       help="'always' (default: fsync before acknowledging), 'never', or an interval like 1s")
    serve.add_argument("--wal-compression", choices=["snappy", "none"],
                       help="compress WAL records (default snappy, as Prometheus)")
    serve.add_argument("--out-of-order-window", metavar="DURATION",
                       help="accept samples this much older than a series' newest (default 10m; 0 refuses them)")
    serve.add_argument("--max-body-bytes", type=int, metavar="N", help="largest request body (default 64 MiB)")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="default info")
    serve.add_argument("--log-format", choices=["json", "text"], help="default json")
    serve.add_argument("--query.max-concurrency", dest="query_max_concurrency", type=int, metavar="N",
                       help="queries evaluated at once (HTTP and gRPC; more wait, up to query.max_queue); default "
                       "the number of CPUs (Prometheus: 20), as query.max_concurrency")
    serve.add_argument("--store-only", action="store_true",
                       help="serve only the blocks and tier files of the config's bucket (no local ingestion)")
    serve.add_argument("--no-collect", action="store_true",
                       help="do not collect host and self metrics (on by default; config section `collect`)")
    _add_web_flags(serve)
    repl = sub.add_parser("repl", help="interactive PromQL shell against a server or a data directory")
    _add_source_flags(repl)
    repl.add_argument("--history", metavar="FILE", help="history file (default ~/.tsdb_history)")
    query = sub.add_parser("query", help="evaluate one PromQL expression and print the result")
    query.add_argument("expr", help="PromQL expression")
    _add_source_flags(query)
    query.add_argument("--time", help="instant query time (now, -1h, RFC 3339 or Unix seconds; default now)")
    query.add_argument("--start", help="range query start, same forms as --time (with --end and --step)")
    query.add_argument("--end", help="range query end, same forms as --time")
    query.add_argument("--step", help="range query step (e.g. 15s)")
    query.add_argument("--output", choices=["table", "json", "csv"], default="table")
    check = sub.add_parser("check", help="validate data or configuration")
    check_sub = check.add_subparsers(dest="check_command", metavar="WHAT")
    chunks = check_sub.add_parser("chunks", help="decode every chunk of chunk segment files, report corruption")
    chunks.add_argument("files", nargs="+", help="chunk segment files (a block's chunks/000001 ...)")
    rules = check_sub.add_parser("rules", help="validate Prometheus rule files (like promtool check rules)")
    rules.add_argument("files", nargs="+", help="rule files")
    config = check_sub.add_parser(
        "config", help="validate a tsdb.yml and every file it names, with the errors tsdb serve would give",
        description="Validate tsdb.yml files as `tsdb serve --config` would at startup: the file itself, the "
        "listen addresses, storage options, and every section with the files it names (rules.files, "
        "notifications.config_file, scrape.config_file, ...). Relative paths resolve against the current "
        "directory, as for the server.")
    config.add_argument("files", nargs="+", metavar="FILE", help="tsdb config files (tsdb.yml)")
    slo = check_sub.add_parser("slo", help="validate Sloth prometheus/v1 and OpenSLO SLO specs and the rules "
                               "they generate")
    slo.add_argument("files", nargs="+", metavar="SPEC", help="SLO spec files")
    test_rules = sub.add_parser("test-rules", help="run promtool-style rule unit tests (promtool test rules)")
    test_rules.add_argument("files", nargs="+", help="rule test files")
    _add_bench_parser(sub)
    from tsdb.cli.slo import add_parsers as add_slo_parsers
    from tsdb.cli.snapshot import add_parser as add_snapshot_parser

    add_snapshot_parser(sub)

    add_slo_parsers(sub)
    return parser


def _add_web_flags(serve: argparse.ArgumentParser) -> None:
    """Prometheus's --web.* security flags (docs/security.md)."""
    serve.add_argument("--web.config.file", dest="web_config_file", metavar="FILE",
                       help="Prometheus web config file: TLS, basic auth users, response headers (re-read when "
                       "it changes)")
    serve.add_argument("--web.enable-lifecycle", dest="web_enable_lifecycle", action="store_true", default=None,
                       help="enable POST/PUT /-/reload and /-/quit (SIGHUP always reloads)")
    serve.add_argument("--web.enable-admin-api", dest="web_enable_admin_api", action="store_true", default=None,
                       help="enable /api/v1/admin/*")
    serve.add_argument("--web.cors.origin", dest="web_cors_origin", metavar="REGEX",
                       help="regex of origins allowed by CORS on the API (default .*)")


def _add_bench_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``tsdb bench ingest|query|disk|peers`` (implemented in tsdb.bench.commands)."""
    bench = sub.add_parser("bench", help="benchmark tsdb or any Prometheus-compatible server",
                           description="Drive a Prometheus-compatible server from outside with a seeded "
                           "node-exporter-like workload. Traffic goes only to the targets you name "
                           "(peers: 127.0.0.1 only).")
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="WHAT")

    def common(p: argparse.ArgumentParser, max_seconds: float) -> None:
        p.add_argument("--max-seconds", type=float, default=max_seconds, help=f"bound (default {max_seconds:g})")
        p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
        p.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
        p.add_argument("--strict", action="store_true", help="exit 1 when a PASS/FAIL check fails")

    def workload(p: argparse.ArgumentParser, series: int, duration: str) -> None:
        p.add_argument("--series", type=int, default=series, help=f"number of series (default {series})")
        p.add_argument("--duration", default=duration, help=f"time span, ending now (default {duration})")
        p.add_argument("--seed", type=int, default=0, help="workload seed (default 0)")
        p.add_argument("--senders", type=int, default=4, help="concurrent senders (default 4)")
        p.add_argument("--shape", choices=["queue", "backfill"], default="queue",
                       help="queue: 1 sample per series per request (Prometheus remote-write queue); "
                       "backfill: many samples per series")
        p.add_argument("--samples-per-request", type=int, default=2000, help="default 2000")

    ingest = bench_sub.add_parser("ingest", help="ingestion rate, rejections, latency, server CPU/RSS")
    ingest.add_argument("--target", metavar="URL", help="HTTP base URL; remote-write to URL/api/v1/write")
    ingest.add_argument("--grpc", metavar="HOST:PORT", help="also/instead write to a tsdb gRPC server")
    ingest.add_argument("--grpc-mode", choices=["write", "stream", "both"], default="both",
                        help="gRPC Write per request, WriteStream per epoch, or both (default)")
    ingest.add_argument("--pid", type=int, help="server PID on this machine: report its CPU seconds and peak RSS")
    workload(ingest, 1000, "1h")
    common(ingest, 600)
    query = bench_sub.add_parser("query", help="dashboard query set latencies, optional cross-check")
    query.add_argument("--target", metavar="URL", required=True, help="Prometheus HTTP API base URL")
    query.add_argument("--compare", metavar="URL", help="second target: check the answers agree")
    query.add_argument("--end", help="end time of the queries, Unix seconds (default now)")
    query.add_argument("--runs", type=int, default=3, help="timed runs per query (default 3)")
    query.add_argument("--rel-tol", type=float, default=1e-6, help="relative tolerance of --compare")
    common(query, 600)
    disk = bench_sub.add_parser("disk", help="bytes on disk per ingested sample")
    disk.add_argument("--data-dir", required=True, help="the target's data directory")
    disk.add_argument("--samples", type=int, help="number of samples ingested (else counted via --target)")
    disk.add_argument("--target", metavar="URL", help="flush it first if it can (VictoriaMetrics), count samples")
    disk.add_argument("--window", default="30d", help="range counted with --target (default 30d)")
    disk.add_argument("--exclude", action="append", metavar="NAME", help="top-level entry to leave out")
    disk.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    peers = bench_sub.add_parser("peers", help="Prometheus vs VictoriaMetrics vs tsdb, started on 127.0.0.1")
    workload(peers, 10_000, "2h")
    peers.add_argument("--runs", type=int, default=3, help="runs per target, alternating (default 3)")
    peers.add_argument("--query-runs", type=int, default=3, help="timed runs per query (default 3)")
    peers.add_argument("--targets", default="prometheus,victoriametrics,tsdb", help="comma separated")
    peers.add_argument("--no-grpc", action="store_true", help="skip tsdb's gRPC ingestion runs")
    peers.add_argument("--work-dir", help="where the temp data dirs go (default a new temp dir, removed)")
    peers.add_argument("--out-md", metavar="FILE", help="write the Markdown table here")
    peers.add_argument("--out-png", metavar="FILE", help="write a PNG chart here (needs matplotlib)")
    common(peers, 1800)


def _add_source_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--url", help="Prometheus-compatible HTTP API (default http://127.0.0.1:9201)")
    group.add_argument("--data-dir", help="query a data directory directly (no server)")


def _query(args: argparse.Namespace) -> int:
    import time

    from tsdb.cli.output import render
    from tsdb.cli.repl import parse_when
    from tsdb.cli.sources import open_source
    from tsdb.errors import TsdbError
    from tsdb.server.params import parse_duration

    ranged = [args.start, args.end, args.step]
    if any(ranged) and not all(ranged):
        print("tsdb query: --start, --end and --step go together", file=sys.stderr)
        return 2
    try:
        source = open_source(args.url or (None if args.data_dir else "http://127.0.0.1:9201"), args.data_dir)
        try:
            now = int(time.time() * 1000)
            if args.start:
                result = source.range(args.expr, parse_when(args.start, now), parse_when(args.end, now),
                                      parse_duration(args.step, "step"))
            else:
                result = source.instant(args.expr, parse_when(args.time, now) if args.time else now)
        finally:
            source.close()
    except TsdbError as err:
        print(f"tsdb query: {err}", file=sys.stderr)
        return 1
    text = render(result, args.output)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _repl(args: argparse.Namespace) -> int:
    from tsdb.cli.repl import run
    from tsdb.cli.sources import open_source
    from tsdb.errors import TsdbError

    try:
        source = open_source(args.url or (None if args.data_dir else "http://127.0.0.1:9201"), args.data_dir)
    except TsdbError as err:
        print(f"tsdb repl: {err}", file=sys.stderr)
        return 1
    try:
        return run(source, args.history)
    finally:
        source.close()


def _check_chunks(files: Sequence[str]) -> int:
    from tsdb.storage.chunks.segments import read_segment_file

    status = 0
    for path in files:
        try:
            chunks = read_segment_file(path)
            samples = sum(c.num_samples for c in chunks)
            print(f"{path}: {len(chunks)} chunks, {samples} samples, ok")
        except Exception as err:  # report every file, then fail
            print(f"{path}: {err}", file=sys.stderr)
            status = 1
    return status


def _check_rules(files: Sequence[str]) -> int:
    """Validate each rule file; print SUCCESS/FAILED per file as promtool does; 1 if any failed."""
    from tsdb.errors import ConfigError
    from tsdb.rules.loader import load_rule_files

    failed = False
    for name in files:
        print(f"Checking {name}")
        try:
            groups = load_rule_files([name])
        except ConfigError as err:
            failed = True
            print(f"  FAILED:\n{err}\n", file=sys.stderr)
            continue
        print(f"  SUCCESS: {sum(len(g.rules) for g in groups)} rules found\n")
    return 1 if failed else 0


def _serve_config(args: argparse.Namespace) -> ServerConfig:
    """The config file (if any) with the flags applied; raises TsdbError. Run again on every reload."""
    import dataclasses

    from tsdb.config import ServerConfig, load_server_config, parse_duration_ms
    from tsdb.errors import ConfigError

    top: dict[str, object] = {k: v for k, v in {
        "data_dir": args.data_dir, "http_listen": args.http_listen, "grpc_listen": args.grpc_listen,
        "max_body_bytes": args.max_body_bytes, "log_level": args.log_level, "log_format": args.log_format,
        "web_config_file": args.web_config_file, "web_enable_lifecycle": args.web_enable_lifecycle,
        "web_enable_admin_api": args.web_enable_admin_api, "web_cors_origin": args.web_cors_origin,
    }.items() if v is not None}
    config = load_server_config(args.config) if args.config else ServerConfig()
    storage: dict[str, object] = {}
    if args.retention:
        storage["retention_ms"] = parse_duration_ms(args.retention, "--retention")
    if args.wal_fsync:
        storage["wal_fsync"] = args.wal_fsync
    if args.wal_compression:
        storage["wal_compression"] = args.wal_compression
    if args.out_of_order_window:
        storage["out_of_order_window_ms"] = parse_duration_ms(args.out_of_order_window, "--out-of-order-window")
    if storage:
        top["storage"] = dataclasses.replace(config.storage, **storage)  # type: ignore[arg-type]
    if args.query_max_concurrency is not None:
        if args.query_max_concurrency < 0:
            raise ConfigError("--query.max-concurrency: expected a whole number >= 0 (0 = the number of CPUs)")
        top["query"] = dataclasses.replace(config.query, max_concurrency=args.query_max_concurrency)
    config = dataclasses.replace(config, **top)  # type: ignore[arg-type]
    if args.store_only:  # a store node keeps no data of its own, not even its host metrics
        if not config.bucket.enabled:
            raise ConfigError("--store-only: needs a config file with a bucket section (bucket.bucket)")
        config = dataclasses.replace(config, store=dataclasses.replace(config.store, enabled=True, only=True),
                                     collect={"host": False, "self": False})
    elif args.no_collect:
        config = dataclasses.replace(config, collect={"host": False, "self": False})
    elif not config.collect:  # host and self metrics are on by default for `tsdb serve`
        config = dataclasses.replace(config, collect={"host": True, "self": True})
    return config


def _serve(args: argparse.Namespace) -> int:
    import asyncio

    from tsdb.cli.failures import run_command
    from tsdb.errors import TsdbError
    from tsdb.server.app import serve_forever
    from tsdb.server.logs import setup_logging

    try:
        config = _serve_config(args)
    except TsdbError as err:
        print(f"tsdb serve: {err}", file=sys.stderr)
        return 2
    setup_logging(config.log_level, config.log_format)
    return run_command("serve", lambda: asyncio.run(serve_forever(
        config, reload_config=lambda: _serve_config(args), config_file=args.config or "")))


# Options whose value may be a negative relative time (``--time -1m``, ``--start -5m``).
TIME_OPTIONS = ("--time", "--start", "--end")
_NEGATIVE_VALUE = re.compile(r"-\d")


def join_negative_values(argv: Sequence[str]) -> list[str]:
    """``--time -1m`` -> ``--time=-1m``: argparse takes a value starting with ``-`` (other than a plain
    number) for an option, so relative times in the past are joined to their option before parsing."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out.extend(argv[i:])
            break
        if arg in TIME_OPTIONS and i + 1 < len(argv) and _NEGATIVE_VALUE.match(argv[i + 1]):
            out.append(f"{arg}={argv[i + 1]}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tsdb`` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(join_negative_values(sys.argv[1:] if argv is None else argv))
    if args.command == "serve":
        return _serve(args)
    if args.command == "query":
        return _query(args)
    if args.command == "repl":
        return _repl(args)
    if args.command == "check" and args.check_command == "chunks":
        return _check_chunks(args.files)
    if args.command == "check" and args.check_command == "rules":
        return _check_rules(args.files)
    if args.command == "check" and args.check_command == "config":
        from tsdb.cli.check import main as check_config

        return check_config(args.files)
    if args.command == "check" and args.check_command == "slo":
        from tsdb.cli.slo import check as check_slo

        return check_slo(args.files)
    if args.command == "slo" and args.slo_command == "generate":
        from tsdb.cli.slo import generate as slo_generate

        return slo_generate(args)
    if args.command == "slo" and args.slo_command == "report":
        from tsdb.cli.slo_report import report as slo_report

        return slo_report(args)
    if args.command == "snapshot":
        from tsdb.cli.snapshot import run as snapshot

        return snapshot(args)
    if args.command == "test-rules":
        from tsdb.rules.unittest import main as test_rules

        return test_rules(args.files)
    if args.command == "bench" and args.bench_command:
        from tsdb.bench import commands

        return int(getattr(commands, args.bench_command)(args))
    parser.print_help()
    return 2 if args.command is None else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
