"""The REPL in a real terminal (tmux) against a running server, and its state machine directly."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.integration.serve import ROOT, ServeProcess
from tests.needs import needs_binary
from tsdb.cli.repl import PromqlCompleter, Shell, is_complete, parse_when
from tsdb.cli.sources import HttpSource
from tsdb.labels import Labels
from tsdb.server.remote_write import compress_snappy, encode_write_request

HEADERS = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}


@pytest.fixture(scope="module")
def now_ms() -> int:
    """When the data was written (the samples end here): taken when the module's tests start, not at
    collection, so the real-terminal test's live queries still find them within the lookback."""
    return int(time.time() * 1000) // 1000 * 1000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, now_ms: int) -> Iterator[ServeProcess]:
    proc = ServeProcess(tmp_path_factory.mktemp("repl") / "data")
    ts = now_ms - 600_000 + np.arange(41, dtype=np.int64) * 15_000
    series = [(Labels({"__name__": "node_load1", "instance": f"host{i}"}), ts, np.full(41, float(i))) for i in range(3)]
    status, text = proc.post("/api/v1/write", compress_snappy(encode_write_request(series)), HEADERS)
    assert status == 204, text
    yield proc
    proc.stop()


def test_shell_commands_and_queries(server: ServeProcess, now_ms: int) -> None:
    shell = Shell(HttpSource(server.url), clock=lambda: now_ms / 1000)
    assert "node_load1" in shell.handle("node_load1") and 'instance="host2"' in shell.handle("node_load1")
    assert shell.handle("sum(node_load1)").splitlines()[-1].endswith("3")
    assert "error:" in shell.handle("sum(") and "^" in shell.handle("sum(")
    assert shell.handle(".range -5m now 1m").startswith("range queries")
    assert "6 points" in shell.handle('node_load1{instance="host1"}')
    assert shell.handle(".at now").startswith("instant")
    assert shell.handle(".output csv") == "output: csv"
    assert shell.handle("node_load1").splitlines()[0] == "series,timestamp,value"
    assert shell.handle(".output json") == "output: json"
    assert shell.handle("vector(1)").startswith('{"resultType"')
    assert shell.handle(".instant").startswith("instant")
    assert "host0" in shell.handle(".labels instance")
    assert "__name__" in shell.handle(".labels")
    assert ".range" in shell.handle(".help")
    assert shell.handle(".bogus").startswith("error: unknown")
    assert shell.handle(".range x y z").startswith("error:")
    assert shell.handle("") == ""
    with pytest.raises(EOFError):
        shell.handle(".quit")


def test_completion_and_input_helpers(server: ServeProcess) -> None:
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    completer = PromqlCompleter(HttpSource(server.url))

    def complete(text: str) -> list[str]:
        return [c.text for c in completer.get_completions(Document(text), CompleteEvent())]

    assert "node_load1" in complete("node_lo")
    assert "rate" in complete("ra") and "sum" in complete("su")
    assert complete('node_load1{inst') == ["instance"]
    assert complete("sum by (inst") == ["instance"]
    assert complete("") == []
    assert is_complete("sum(x)") and not is_complete("sum(") and not is_complete("x \\")
    assert is_complete('x{a="("}') and not is_complete('x{a="')
    assert parse_when("-1h", 7_200_000) == 3_600_000 and parse_when("now", 5) == 5
    assert parse_when("10", 0) == 10_000


@needs_binary("tmux", package="tmux")
def test_repl_in_a_real_terminal(server: ServeProcess, tmp_path: Path) -> None:
    session = f"tsdb-repl-{server.http_port}"
    command = f"{sys.executable} -m tsdb.cli repl --url {server.url} --history {tmp_path / 'history'}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "50", "-c", str(ROOT), command],
                   check=True)

    def screen() -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True,
                              check=True).stdout

    def wait_for(text: str, timeout_s: float = 60) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            current = screen()
            if text in current:
                return current
            time.sleep(0.2)
        raise AssertionError(f"{text!r} not on screen:\n{screen()}")

    def send(*keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", session, *keys], check=True)

    try:
        wait_for("promql>")
        send("sum(node_load1)", "Enter")
        wait_for("SERIES")
        send("max(", "Enter")
        wait_for("...>")
        send("node_load1)", "Enter")
        wait_for("{}  2")
        send("sum(bad!", "Enter")
        send(")", "Enter")
        wait_for("error:")
        send(".help", "Enter")
        wait_for(".range START END STEP")
        send("C-d")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            alive = subprocess.run(["tmux", "has-session", "-t", session], capture_output=True).returncode == 0
            if not alive:
                break
            time.sleep(0.2)
        assert not alive, "the REPL did not exit on Ctrl-D"
        assert "sum(node_load1)" in (tmp_path / "history").read_text()
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
