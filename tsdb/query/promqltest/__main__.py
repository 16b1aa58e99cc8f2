"""``python -m tsdb.query.promqltest FILES... [--json] [-v]``: run ``.test`` scripts, print a summary."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from tsdb.query.promqltest.runner import run_files, summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tsdb.query.promqltest", description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--json", action="store_true", help="print one JSON object per eval case")
    parser.add_argument("-v", "--verbose", action="store_true", help="print failing cases with reasons")
    args = parser.parse_args(argv)
    results = run_files(args.files, args.verbose)
    if args.json:
        for r in results:
            print(json.dumps({"file": r.file, "line": r.line, "query": r.query, "status": r.status,
                              "reason": r.reason}))
    run = sum(1 for r in results if r.status != "skipped")
    passed = sum(1 for r in results if r.status == "passed")
    if run:
        print(f"pass rate over cases not skipped (native histograms, experimental syntax): {passed / run:.1%}")
    print(summary(results))
    return 0 if all(r.status != "failed" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
