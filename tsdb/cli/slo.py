"""``tsdb slo generate`` and ``tsdb check slo``: Sloth ``prometheus/v1`` and OpenSLO specs to Prometheus rules;
``tsdb slo report`` (compliance reports) lives in :mod:`tsdb.cli.slo_report`."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from tsdb import __version__
from tsdb.cli.failures import run_command
from tsdb.errors import TsdbError
from tsdb.slo.render import render_documents, render_file, sloth_header, tsdb_header
from tsdb.slo.sloth import SLOTH_VERSION, Group, Options, generate_all
from tsdb.slo.spec import ServiceSpec, SpecError, parse_sources
from tsdb.slo.windows import parse_period


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``tsdb slo generate`` and ``tsdb slo report``."""
    from tsdb.cli.slo_report import add_parser as add_report_parser

    slo = sub.add_parser("slo", help="service level objectives: Sloth specs to Prometheus rules, compliance "
                         "reports (docs/slo.md)")
    slo_sub = slo.add_subparsers(dest="slo_command", metavar="WHAT")
    gen = slo_sub.add_parser(
        "generate", help="write the recording and alerting rules of Sloth prometheus/v1 SLO specs",
        description=f"Generate the rules Sloth {SLOTH_VERSION} generates for prometheus/v1 specs: SLI error "
        "ratios, SLO metadata and multiwindow multi-burn-rate alerts, in one rule file for `rules.files`.")
    gen.add_argument("specs", nargs="+", metavar="SPEC",
                     help="Sloth prometheus/v1 or OpenSLO (openslo/v1, openslo/v1alpha) spec files")
    gen.add_argument("-o", "--out", metavar="FILE", default="-", help="rule file to write (default - : stdout)")
    gen.add_argument("--period", default="30d", help="SLO period: 30d (default) or 28d")
    gen.add_argument("-l", "--extra-labels", action="append", default=[], metavar="KEY=VALUE",
                     help="label added to every rule (repeatable)")
    gen.add_argument("--disable-recordings", action="store_true", help="leave out the recording rules")
    gen.add_argument("--disable-alerts", action="store_true", help="leave out the alerting rules")
    gen.add_argument("--sloth-version", metavar="VERSION",
                     help="write Sloth's exact file layout as that Sloth version does (its header and "
                     "sloth_version label, one YAML document per spec document; Prometheus reads only the "
                     "first document of a rule file)")
    add_report_parser(slo_sub)


def _options(args: argparse.Namespace) -> Options:
    extra: dict[str, str] = {}
    for item in args.extra_labels:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SpecError(f"--extra-labels: expected KEY=VALUE, got {item!r}")
        extra[key] = value
    try:
        period_s = parse_period(args.period)
    except ValueError as err:
        raise SpecError(f"--period: {err}") from err
    return Options(period_s=period_s, extra_labels=extra, version=args.sloth_version or f"tsdb-{__version__}",
                   disable_recordings=args.disable_recordings, disable_alerts=args.disable_alerts)


def read_specs(paths: list[str]) -> list[tuple[str, str]]:
    """Each file's text with its path; SpecError naming the file if one cannot be read."""
    files = []
    for path in paths:
        try:
            files.append((Path(path).read_text(), path))
        except OSError as err:
            raise SpecError(f"{path}: cannot read SLO spec: {err.strerror or err}") from err
    return files


def load_specs(paths: list[str]) -> list[ServiceSpec]:
    """Every spec (Sloth or OpenSLO) of the files, in order; SpecError naming the file on any problem."""
    return parse_sources(read_specs(paths))


def generate_text(args: argparse.Namespace) -> str:
    """The rule file text for the parsed ``tsdb slo generate`` arguments."""
    options = _options(args)
    documents = generate_all(load_specs(args.specs), options)
    if args.sloth_version:
        return render_documents(documents, sloth_header(args.sloth_version))
    groups: list[Group] = [group for doc in documents for group in doc]
    return render_file(groups, tsdb_header(__version__, SLOTH_VERSION))


def generate(args: argparse.Namespace) -> int:
    """``tsdb slo generate``: 0, or 1 with the error on stderr."""
    def write() -> None:
        text = generate_text(args)
        if args.out == "-":
            sys.stdout.write(text)
        else:
            Path(args.out).write_text(text)

    return run_command("slo generate", write, args.out)


def check(paths: list[str]) -> int:
    """``tsdb check slo``: validate each spec file and load its rules as tsdb would; 1 if any failed."""
    from tsdb.rules.loader import parse_rule_text

    failed = False
    readable = []
    for path in paths:
        with contextlib.suppress(SpecError):  # reported below
            readable.extend(read_specs([path]))
    for path in paths:
        print(f"Checking {path}")
        try:
            specs = parse_sources(read_specs([path]), [f for f in readable if f[1] != path],
                                  require_slo=False)
            groups = [group for doc in generate_all(specs) for group in doc]
            rules = parse_rule_text(render_file(groups, ""), f"{path} (generated rules)")
        except TsdbError as err:
            failed = True
            print(f"  FAILED:\n{err}\n", file=sys.stderr)
            continue
        slos = sum(len(spec.slos) for spec in specs)
        print(f"  SUCCESS: {slos} SLOs, {sum(len(g.rules) for g in rules)} rules\n")
    return 1 if failed else 0
