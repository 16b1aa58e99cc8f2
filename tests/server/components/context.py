"""A real :class:`ServerContext` (DB on disk, engine, metrics, executor) for component unit tests, without
the HTTP edge: components are built by their factories and reloaded through ``prepare_reload``."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tsdb.config import ServerConfig
from tsdb.query.engine.engine import Engine
from tsdb.query.parser.parser import parse, parse_matchers
from tsdb.server.backend import Backend
from tsdb.server.components.base import ServerContext
from tsdb.server.self_metrics import SelfMetrics
from tsdb.storage.db import DB


@contextmanager
def server_context(tmp_path: Path, **sections: Any) -> Iterator[ServerContext]:
    """A context over a fresh DB in ``tmp_path``; ``sections`` are ServerConfig fields (rules=..., ...)."""
    config = ServerConfig(data_dir=str(tmp_path / "data"), **sections)
    db = DB.open(config.data_dir, config.storage)
    engine = Engine(db)
    executor = ThreadPoolExecutor(max_workers=4)
    backend = Backend(queryable=db, appendable=db, engine=engine, parse_matchers=parse_matchers,
                      format_query=lambda text: str(parse(text)))
    try:
        yield ServerContext(config=config, db=db, backend=backend, query=engine.instant, executor=executor,
                            metrics=SelfMetrics(), external_url="http://tsdb.example:9201")
    finally:
        executor.shutdown(wait=True)
        db.close()


def with_sections(context: ServerContext, **sections: Any) -> ServerConfig:
    """The context's config with some sections replaced (what a reload would read)."""
    return dataclasses.replace(context.config, **sections)
