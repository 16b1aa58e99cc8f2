"""How CLI commands fail: one message on stderr prefixed with the command, and one way to call a server's API.

:func:`run_command` turns the errors a command expects (tsdb's own, and the operating system's for the file
it writes) into that message and exit code 1; :func:`http_body` fetches an API answer and raises
:class:`~tsdb.errors.TsdbError` naming the URL and the server's error text.
"""

from __future__ import annotations

import contextlib
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable

from tsdb.errors import TsdbError


def run_command(command: str, action: Callable[[], object], path: str = "") -> int:
    """Run ``action``: 0 when it returns, 1 with ``tsdb <command>: <error>`` on stderr when it raises a
    :class:`TsdbError` or an ``OSError`` (its reason prefixed with ``path``, the file the command writes,
    when given)."""
    try:
        action()
    except TsdbError as err:
        print(f"tsdb {command}: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        text = f"{path}: {err.strerror or err}" if path and path != "-" else str(err)
        print(f"tsdb {command}: {text}", file=sys.stderr)
        return 1
    return 0


def http_body(url: str, data: bytes | None = None, method: str | None = None, timeout_s: float = 300.0) -> bytes:
    """The body of ``url``'s 2xx answer. TsdbError naming the URL (its query left out), the HTTP status and
    the server's ``error`` text, or why the server could not be reached."""
    where = url.split("?")[0]
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as err:
        text = err.read().decode("utf-8", "replace").strip()
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            text = str(json.loads(text).get("error", text))
        raise TsdbError(f"{where}: HTTP {err.code}: {text or err.reason}") from err
    except (urllib.error.URLError, OSError) as err:
        raise TsdbError(f"cannot reach {where}: {getattr(err, 'reason', err)}") from err


def api_data(url: str, method: str | None = None, timeout_s: float = 300.0) -> object:
    """The ``data`` of a Prometheus API answer at ``url``; TsdbError as :func:`http_body`, or when the answer
    is not such a document."""
    body = http_body(url, data=b"" if method not in (None, "GET") else None, method=method, timeout_s=timeout_s)
    try:
        return json.loads(body)["data"]
    except (ValueError, KeyError, TypeError) as err:
        raise TsdbError(f"{url.split('?')[0]}: not a Prometheus API answer: {body[:200]!r}") from err
