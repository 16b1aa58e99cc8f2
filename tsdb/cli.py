"""The ``tsdb`` command line: argument parsing only; each subcommand calls into the package."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tsdb import __version__


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="tsdb", description="tsdb: time-series database and monitoring")
    parser.add_argument("--version", action="version", version=f"tsdb {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = sub.add_parser("check", help="validate data or configuration")
    check_sub = check.add_subparsers(dest="check_command", metavar="WHAT")
    chunks = check_sub.add_parser("chunks", help="decode every chunk of chunk segment files, report corruption")
    chunks.add_argument("files", nargs="+", help="chunk segment files (a block's chunks/000001 ...)")
    return parser


def _check_chunks(files: Sequence[str]) -> int:
    from tsdb.storage.chunks import read_segment_file

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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tsdb`` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "check" and args.check_command == "chunks":
        return _check_chunks(args.files)
    parser.print_help()
    return 2 if args.command is None else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
