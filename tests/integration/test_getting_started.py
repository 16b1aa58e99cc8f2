"""docs/getting-started.md, run as written: every code block of the page, in order, against real processes.

- ``yaml`` blocks are files: the first line (``# <path>``) names the file, written in the scenario's
  working directory.
- ``sh`` blocks are commands, one a line. ``pip install .`` runs in a copy of the checkout and installs
  into a scratch directory (``--target``, ``--no-deps``: the test environment is left alone); the ``tsdb``
  command of every later line is the console script that install produced (see :func:`_install`).
  ``tsdb serve ...`` starts the
  server (:class:`ServeProcess`, with free ports), ``prometheus-node-exporter ...`` Debian's node
  exporter; every other line runs in bash and must exit 0 and print what :data:`EXPECT` names (polled,
  since the page's later lines depend on scrapes, rule evaluations and notifications happening).
- The webhook endpoint is a real aiohttp receiver on 127.0.0.1 (:class:`AiohttpThread`).

The page's ports and intervals are substituted (:func:`substitutions`): free ports instead of 9201, 9202,
9100 and 5001, one-second intervals instead of 15 s and a 2 s ``for`` instead of 5 minutes. Every
command of the page must have an entry in :data:`EXPECT` or be one of the started processes, and every
entry must be on the page, so the page and this test cannot drift apart.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.aiohttp_thread import AiohttpThread
from tests.integration.serve import ROOT, ServeProcess, free_port

PAGE = ROOT / "docs" / "getting-started.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
EXPORTER = shutil.which("prometheus-node-exporter")
AMTOOL = shutil.which("amtool")
POLL_S = 60.0

# command on the page -> what its output must contain (all of them; polled until it does)
EXPECT: dict[str, list[str]] = {
    "curl -s http://127.0.0.1:9201/-/ready": ["Ready"],
    "curl -sG http://127.0.0.1:9201/api/v1/query --data-urlencode 'query=node_load1'":
        ['"__name__":"node_load1"', '"job":"tsdb-host"'],
    "tsdb query --url http://127.0.0.1:9201 'node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes'":
        ['job="tsdb-host"'],
    "curl -s http://127.0.0.1:9201/api/v1/query --data-urlencode 'query=1+1'": ['"resultType":"scalar"', '"2"]'],
    "curl -s http://127.0.0.1:9201/api/v1/status/buildinfo": ['"status":"success"', '"version"'],
    "curl -s http://127.0.0.1:9201/api/v1/label/job/values": ['"tsdb-host"', '"tsdb"'],
    "tsdb check rules rules/cpu.yml": ["SUCCESS"],
    "curl -sG http://127.0.0.1:9201/api/v1/query --data-urlencode 'query=up{job=\"node-exporter\"}'":
        ['"job":"node-exporter"', '"1"]'],
    "curl -s http://127.0.0.1:9201/api/v1/targets": ['"job":"node-exporter"', '"health":"up"'],
    # inactive unless the machine is busy (the page says so): only that the rule is loaded and healthy
    "curl -s 'http://127.0.0.1:9201/api/v1/rules?type=alert'": ['"name":"HighCPU"', '"health":"ok"'],
    "sed -i 's/> 90/> 0/' rules/cpu.yml": [],
    "curl -s -X POST http://127.0.0.1:9201/-/reload": [],
    "curl -s http://127.0.0.1:9201/api/v1/alerts": ['"alertname":"HighCPU"', '"state":"firing"'],
    "amtool --alertmanager.url=http://127.0.0.1:9201 alert query": ["HighCPU"],
    "curl -s http://127.0.0.1:9201/api/v1/notifications": ['"integration":"webhook"', '"ok":true'],
    'amtool --alertmanager.url=http://127.0.0.1:9201 silence add alertname=HighCPU --duration=2h '
    '--comment="CPU test"': [],
    "amtool --alertmanager.url=http://127.0.0.1:9201 silence query": ['alertname="HighCPU"', "CPU test"],
    "amtool --alertmanager.url=http://127.0.0.1:9201 alert query --silenced": ["HighCPU"],
    "amtool --alertmanager.url=http://127.0.0.1:9201 silence expire "
    "$(amtool --alertmanager.url=http://127.0.0.1:9201 silence query -q)": [],
    "sed -i 's/> 0/> 90/' rules/cpu.yml": [],
}
STARTED = {"pip install .", "tsdb serve", "tsdb serve --config tsdb.yml --web.enable-lifecycle",
           "prometheus-node-exporter --web.listen-address=127.0.0.1:9100"}


def page_steps() -> list[tuple[str, str]]:
    """The page's steps in order: ("file", text) for a yaml block, ("run", line) for each command."""
    steps: list[tuple[str, str]] = []
    for lang, body in BLOCK.findall(PAGE.read_text()):
        if lang == "yaml":
            steps.append(("file", body))
        elif lang == "sh":
            steps.extend(("run", line.strip()) for line in body.splitlines() if line.strip())
    return steps


def substitutions(http: int, grpc: int, exporter: int, webhook: int) -> list[tuple[str, str]]:
    return [("127.0.0.1:9201", f"127.0.0.1:{http}"), ("127.0.0.1:9100", f"127.0.0.1:{exporter}"),
            ("127.0.0.1:5001", f"127.0.0.1:{webhook}"), ("interval: 15s", "interval: 1s"),
            ("for: 5m", "for: 2s"), ("group_wait: 10s", "group_wait: 1s"), ("group_interval: 1m", "group_interval: 2s"),
            ("tsdb serve", f"tsdb serve --http-listen 127.0.0.1:{http} --grpc-listen 127.0.0.1:{grpc}")]


def test_page_and_test_agree() -> None:
    commands = [text for kind, text in page_steps() if kind == "run"]
    assert sorted(set(commands)) == sorted(set(EXPECT) | STARTED)
    files = [text.splitlines()[0] for kind, text in page_steps() if kind == "file"]
    assert files == ["# tsdb.yml", "# rules/cpu.yml", "# alertmanager.yml"]


class PageServe(ServeProcess):
    """``tsdb serve`` as the page runs it: the installed console script, in the scenario's directory."""

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str], http_port: int) -> None:
        self.data_dir = cwd / "tsdb-data"
        self.http_port = http_port
        self.url = f"http://127.0.0.1:{http_port}"
        self.log = cwd.parent / f"serve-{http_port}.log"
        self._args = command
        self._cwd, self._env = cwd, env
        self._log_file = self.log.open("a")
        self._launch()

    def _launch(self) -> None:
        self.proc = subprocess.Popen(self._args, cwd=self._cwd, env=self._env, stdout=self._log_file,
                                     stderr=subprocess.STDOUT)
        self.wait_ready()


class Webhook:
    """The receiver the page's ``alertmanager.yml`` posts to."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        app = web.Application()
        app.router.add_post("/alerts", self._receive)
        self.thread = AiohttpThread(app)

    async def _receive(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        return web.Response(text="ok")


def _wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "node exporter exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError("node exporter did not start")


def _poll(run: Callable[[], subprocess.CompletedProcess[str]], expect: list[str], command: str) -> str:
    deadline = time.monotonic() + POLL_S
    while True:
        done = run()
        compact = done.stdout.replace('": ', '":').replace(", ", ",")  # JSON with or without spaces
        if done.returncode == 0 and all(e in compact for e in expect):
            return done.stdout
        if time.monotonic() > deadline:
            raise AssertionError(f"{command!r}: exit {done.returncode}, expected {expect} in:\n"
                                 f"{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
        time.sleep(0.5)


def _install(tmp_path: Path) -> dict[str, str]:
    """``pip install .`` in a copy of the checkout, into a scratch target; returns the environment in which
    ``tsdb`` is the console script that install wrote. It imports this checkout's modules (the same source),
    whose numba kernels are already compiled and cached: the fresh copy would first spend tens of seconds
    compiling them, which is the page's "first start" note, not what this test is about."""
    src, site = tmp_path / "src", tmp_path / "site"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "tsdb", src / "tsdb", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(site), "."], cwd=src, check=True, capture_output=True, timeout=300)
    assert (site / "tsdb" / "cli.py").exists() or (site / "tsdb" / "cli").is_dir()
    script = site / "bin" / "tsdb"
    assert "main" in script.read_text()
    return {**os.environ, "PATH": f"{site / 'bin'}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1"}


@pytest.mark.external
@pytest.mark.skipif(EXPORTER is None or AMTOOL is None or shutil.which("curl") is None,
                    reason="needs prometheus-node-exporter, amtool (prometheus-alertmanager) and curl")
def test_getting_started_page(tmp_path: Path) -> None:
    http, grpc, exporter_port = free_port(), free_port(), free_port()
    webhook = Webhook()
    subs = substitutions(http, grpc, exporter_port, webhook.thread.port)
    work = tmp_path / "work"
    work.mkdir()
    env: dict[str, str] = dict(os.environ)
    server: PageServe | None = None
    exporter: subprocess.Popen[bytes] | None = None

    def substitute(text: str) -> str:
        for old, new in subs:
            text = text.replace(old, new)
        return text

    try:
        for kind, text in page_steps():
            if kind == "file":
                name = text.splitlines()[0].removeprefix("# ").strip()
                (work / name).parent.mkdir(parents=True, exist_ok=True)
                (work / name).write_text(substitute(text))
            elif text == "pip install .":
                env = _install(tmp_path)
            elif text.startswith("tsdb serve"):
                if server is not None:  # the page: stop the first server with Ctrl-C
                    server.proc.send_signal(signal.SIGINT)
                    server.proc.wait(timeout=60)
                    server._log_file.close()
                server = PageServe(substitute(text).split(), work, env, http)
            elif text.startswith("prometheus-node-exporter"):
                exporter = subprocess.Popen(substitute(text).split(), stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL)
                _wait_port(exporter_port, exporter)
            else:
                command = substitute(text)

                def run(command: str = command, env: dict[str, str] = env) -> subprocess.CompletedProcess[str]:
                    return subprocess.run(["bash", "-c", command], cwd=work, env=env, capture_output=True,
                                          text=True, timeout=60)

                _poll(run, EXPECT[text], text)
                if text == "curl -s http://127.0.0.1:9201/api/v1/notifications":
                    # the webhook got Alertmanager's JSON for the firing alert
                    assert any(body["status"] == "firing" and body["groupLabels"] == {"alertname": "HighCPU"}
                               for body in webhook.bodies), webhook.bodies
                if text.endswith("alert query --silenced"):
                    # the notification system holds the rule's alerts as suppressed by the silence
                    _, alerts = server.get("/api/v2/alerts") if server else (0, [])
                    high = [a for a in alerts if a["labels"]["alertname"] == "HighCPU"]
                    assert high and all(a["status"]["state"] == "suppressed" for a in high), alerts
        assert server is not None
        _, silences = server.get("/api/v2/silences")
        assert [s["status"]["state"] for s in silences] == ["expired"]
        assert "> 90" in (work / "rules" / "cpu.yml").read_text()
    finally:
        if server is not None:
            server.stop()
        if exporter is not None:
            exporter.kill()
            exporter.wait(timeout=10)
        webhook.thread.close()
