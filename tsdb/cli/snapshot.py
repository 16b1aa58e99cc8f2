"""``tsdb snapshot``: ask a running server for a TSDB snapshot (``POST /api/v1/admin/tsdb/snapshot``) and print
the snapshot directory's path on the server (docs/backup.md). The server needs ``--web.enable-admin-api``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

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


def _request(url: str, method: str, timeout_s: float) -> Any:
    """The ``data`` of a Prometheus API answer; raises RuntimeError with the server's error."""
    request = urllib.request.Request(url, method=method, data=b"" if method != "GET" else None)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return json.loads(response.read())["data"]
    except urllib.error.HTTPError as err:
        text = err.read().decode("utf-8", "replace")
        try:
            message = json.loads(text)["error"]
        except (ValueError, KeyError, TypeError):
            message = text.strip() or err.reason
        raise RuntimeError(f"HTTP {err.code}: {message}") from err
    except (urllib.error.URLError, OSError, ValueError, KeyError) as err:
        raise RuntimeError(f"cannot reach {url}: {err}") from err


def _data_dir(base: str, timeout_s: float) -> str | None:
    """The server's data directory as an absolute path (None when it does not say)."""
    try:
        flags = _request(base + "/api/v1/status/flags", "GET", timeout_s)
        runtime = _request(base + "/api/v1/status/runtimeinfo", "GET", timeout_s)
    except RuntimeError:
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
    try:
        data = _request(base + "/api/v1/admin/tsdb/snapshot" + query, "POST", args.timeout)
        name = str(data["name"])
    except (RuntimeError, KeyError, TypeError) as err:
        print(f"tsdb snapshot: {err}", file=sys.stderr)
        return 1
    data_dir = _data_dir(base, args.timeout)
    print(os.path.join(data_dir, "snapshots", name) if data_dir else name)
    return 0
