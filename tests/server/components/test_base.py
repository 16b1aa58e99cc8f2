"""The component package's boundary and the server's two-phase reload across components (in-process):
one bad section fails the whole reload and changes nothing, the gauges report it, a good file recovers."""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import logging
from pathlib import Path

import pytest

from tsdb.config import ServerConfig
from tsdb.server.app import Server

PACKAGE = Path(__file__).resolve().parents[3] / "tsdb" / "server" / "components"
EDGE = ("tsdb.server.app", "tsdb.server.http_api", "tsdb.server.grpc_service", "tsdb.server.remote_write")


def test_components_do_not_import_the_http_edge() -> None:
    offenders = []
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {n}" for n in names if n.startswith(EDGE)]
    assert not offenders
    assert (PACKAGE / "__init__.py").read_text().startswith('"""Server components')


def _gauges(server: Server) -> tuple[float, float]:
    text = server.metrics.exposition().decode()
    values = {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
              if line.startswith("tsdb_config_last_reload")}
    return values["tsdb_config_last_reload_successful"], values["tsdb_config_last_reload_success_timestamp_seconds"]


def test_reload_is_all_or_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text("groups: [{name: g, rules: [{record: a, expr: vector(1)}]}]\n")
    start = ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                         rules={"files": [str(rules)]})
    current = {"config": start}

    async def scenario() -> None:
        server = Server(start, reload_config=lambda: current["config"])
        await server.start()
        try:
            ok, started_at = _gauges(server)
            assert ok == 1 and started_at > 0
            rules_component = next(c for c in server.components if c.name == "rules")
            manager = rules_component.manager  # type: ignore[attr-defined]
            # a good rules change next to a bad scrape section: nothing applies
            rules.write_text("groups: [{name: g, rules: [{record: b, expr: vector(2)}]}]\n")
            current["config"] = dataclasses.replace(start, scrape={"scrape_configs": [{"job_name": "x",
                                                                                      "scrape_interval": "often"}]})
            with caplog.at_level(logging.INFO, logger="tsdb.server"), pytest.raises(Exception, match="often"):
                await server.reload()
            assert [r.rule.name for r in manager.groups[0].rules] == ["a"]
            assert _gauges(server) == (0, started_at) and server.config.scrape == {}
            failed = next(r for r in caplog.records if r.getMessage() == "reload failed")
            assert "often" in failed.error  # type: ignore[attr-defined]
            # escalation always runs (acknowledgement needs no configuration): on-call users apply in place
            current["config"] = dataclasses.replace(start, notifications={"oncall": {"users": {"a": {}}}})
            await server.reload()
            escalation = next(c for c in server.components if c.name == "escalation")
            assert "a" in escalation.oncall.users  # type: ignore[attr-defined]
            # fixed: everything applies; a restart-only change is logged, not applied
            current["config"] = dataclasses.replace(start, max_body_bytes=1, collect={"self": True})
            caplog.clear()
            with caplog.at_level(logging.INFO, logger="tsdb.server"):
                await server.reload()
            assert [r.rule.name for r in manager.groups[0].rules] == ["b"]
            assert _gauges(server)[0] == 1 and _gauges(server)[1] >= started_at
            assert server.config.collect == {"self": True} and server.config.max_body_bytes == start.max_body_bytes
            messages = {r.getMessage(): r for r in caplog.records}
            assert "max_body_bytes" in messages["configuration changes need a restart"].fields  # type: ignore[attr-defined]
            assert "rules" in messages["configuration reloaded"].changed  # type: ignore[attr-defined]
        finally:
            await server.stop()

    asyncio.run(scenario())
