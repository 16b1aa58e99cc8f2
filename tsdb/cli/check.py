"""``tsdb check config FILE``: validate a whole tsdb.yml and every file it names, as ``tsdb serve`` would.

Nothing is re-implemented here: the file is read by :func:`tsdb.config.load_server_config`, the listen
addresses by the server's own parser, storage options by opening a throwaway data directory with them,
and every component section (``rules`` and its rule files, ``slos`` and its SLO specs, ``notifications`` and
its Alertmanager ``config_file``, ``scrape`` and its Prometheus ``config_file``, ``collect``, escalation,
correlation) by building the server's own components (:data:`tsdb.server.components.COMPONENT_FACTORIES`)
against that throwaway directory, without starting them. So the errors are the server's, word for word.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tsdb.config import ServerConfig, load_server_config
from tsdb.errors import TsdbError


def named_files(config: ServerConfig) -> list[str]:
    """The files (or globs) a config names, for the report."""
    files: list[str] = []
    rules = config.rules if isinstance(config.rules, dict) else {}
    raw_files = rules.get("files") or []
    if isinstance(raw_files, list):
        files.extend(f"rule files {name}" for name in raw_files)
    slos = config.slos if isinstance(config.slos, dict) else {}
    raw_specs = slos.get("files") or []
    if isinstance(raw_specs, list):
        files.extend(f"SLO specs {name}" for name in raw_specs)
    if config.web_config_file:
        files.append(f"web_config_file {config.web_config_file}")
    for section, what in ((config.notifications, "notifications.config_file"), (config.scrape, "scrape.config_file")):
        if isinstance(section, dict) and section.get("config_file"):
            files.append(f"{what} {section['config_file']}")
    return files


async def _build_components(config: ServerConfig, data_dir: str, config_file: str = "") -> list[str]:
    """Build (never start) every server component over a throwaway DB; returns the names of those built."""
    from tsdb.server.app import split_address
    from tsdb.server.backend import Backend
    from tsdb.server.components.base import Component, ServerContext, load_factories
    from tsdb.server.self_metrics import SelfMetrics
    from tsdb.server.webconfig import load_web_config
    from tsdb.storage.db import DB

    host, port = split_address(config.http_listen)
    split_address(config.grpc_listen)
    if config.web_config_file:
        load_web_config(config.web_config_file)
    db = DB.open(data_dir, config.storage)
    executor = ThreadPoolExecutor(max_workers=1)
    built: list[Component] = []
    try:
        def no_query(*_: Any) -> Any:
            raise TsdbError("tsdb check config does not evaluate queries")

        backend = Backend(queryable=db, appendable=db, engine=None,  # type: ignore[arg-type]
                          parse_matchers=lambda _: [], format_query=str)
        context = ServerContext(config=config, db=db, backend=backend, query=no_query, executor=executor,
                                metrics=SelfMetrics(),
                                external_url=config.external_url or f"http://{host}:{port}",
                                config_file=config_file)
        for factory in load_factories():
            component = factory(context)
            if component is not None:
                built.append(component)
        return [component.name for component in built]
    finally:
        for component in reversed(built):
            with contextlib.suppress(Exception):
                await component.stop()
        executor.shutdown(wait=True)
        db.close()


def check_config(path: str) -> tuple[bool, str]:
    """(ok, message): the server's error if ``tsdb serve --config path`` would refuse to start."""
    try:
        config = load_server_config(path)
        with tempfile.TemporaryDirectory(prefix="tsdb-check-config-") as tmp:
            components = asyncio.run(_build_components(config, tmp, path))
    except (TsdbError, OSError, ValueError) as err:
        return False, str(err)
    named = named_files(config)
    lines = [f"components: {', '.join(components) or 'none'}"]
    lines.extend(f"checked {name}" for name in named)
    return True, "\n  ".join(lines)


def main(files: list[str]) -> int:
    """Check each config file; print SUCCESS/FAILED per file as promtool does; 1 if any failed."""
    failed = False
    for name in files:
        print(f"Checking {name}")
        ok, message = check_config(name)
        if ok:
            print(f"  SUCCESS: {message}\n")
        else:
            failed = True
            print(f"  FAILED:\n{message}\n", file=sys.stderr)
    return 1 if failed else 0
