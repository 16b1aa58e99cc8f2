"""``tsdb snapshot``: ask a running server for a TSDB snapshot (``POST /api/v1/admin/tsdb/snapshot``) and print
the snapshot directory's path on the server (docs/backup.md). The server needs ``--web.enable-admin-api``."""

from __future__ import annotations

import argparse
import os
import urllib.parse

from tsdb.cli.failures import api_data, run_command
from tsdb.errors import TsdbError

DEFAULT_URL = "http://127.0.0.1:9201"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    snap = sub.add_parser("snapshot", help="snapshot a running server's data (needs --web.enable-admin-api)",
                          description="Ask a running tsdb (or Prometheus) for a snapshot of its data directory "
                          "and print the snapshot's path on the server: hard links of every block and tier file "
                          "plus the head written as a block. Restore: copy it and run `tsdb serve --data-dir "
                          "<copy>` (docs/backup.md).")
    snap.add_argument("--url", default=DEFAULT_URL, help=f"the server's HTTP API (default {DEFAULT_URL})")
    snap.add_argument("--skip-head", action="store_true", help="leave out the head (data not yet in a block)")
    snap.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the answer (default 600)")


def _data_dir(base: str, timeout_s: float) -> str | None:
    """The server's data directory as an absolute path (None when it does not say)."""
    try:
        flags = api_data(base + "/api/v1/status/flags", timeout_s=timeout_s)
        runtime = api_data(base + "/api/v1/status/runtimeinfo", timeout_s=timeout_s)
    except TsdbError:
        return None
    path = flags.get("storage.tsdb.path") if isinstance(flags, dict) else None
    cwd = runtime.get("CWD") if isinstance(runtime, dict) else None
    if not path:
        return None
    return os.path.join(cwd, path) if cwd else str(path)


def run(args: argparse.Namespace) -> int:
    """Create the snapshot; print its path (its name when the server does not tell its data directory)."""
    base = args.url.rstrip("/")
    query = "?" + urllib.parse.urlencode({"skip_head": "true"}) if args.skip_head else ""

    def snapshot() -> None:
        data = api_data(base + "/api/v1/admin/tsdb/snapshot" + query, "POST", args.timeout)
        if not isinstance(data, dict) or "name" not in data:
            raise TsdbError(f"{base}: the snapshot answer names no snapshot: {data!r}")
        data_dir = _data_dir(base, args.timeout)
        name = str(data["name"])
        print(os.path.join(data_dir, "snapshots", name) if data_dir else name)

    return run_command("snapshot", snapshot)
