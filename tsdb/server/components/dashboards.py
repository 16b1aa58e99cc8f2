"""The dashboards web UI as a server component (docs/dashboards.md): the ``/api/v1/dashboards`` API over
``<data-dir>/ui/dashboards.sqlite``, the static UI bundle under ``/ui/``, the built-in dashboards and the
provisioned ones (``dashboards.paths``). Always built. A reload re-reads the provisioned files (a bad one
fails the reload and changes nothing) and applies new ``frame_ancestors`` and ``builtin`` settings."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from tsdb.config import ServerConfig
from tsdb.errors import ConfigError
from tsdb.server.components.base import Reload, ServerContext
from tsdb.ui.provisioning import ReadOnlyDashboard, load_builtin, load_paths
from tsdb.ui.routes import DashboardApi
from tsdb.ui.static import DEFAULT_ROOT, StaticUi
from tsdb.ui.store import DashboardStore

_KEYS = {"paths", "frame_ancestors", "builtin"}


@dataclass(frozen=True)
class DashboardsConfig:
    """The ``dashboards:`` section."""

    paths: tuple[str, ...] = ()
    frame_ancestors: tuple[str, ...] = ("'self'",)
    builtin: bool = True

    @classmethod
    def parse(cls, section: Any) -> DashboardsConfig:
        if not isinstance(section, dict):
            raise ConfigError(f"dashboards: expected a mapping, got {type(section).__name__}")
        unknown = sorted(set(map(str, section)) - _KEYS)
        if unknown:
            raise ConfigError(f"dashboards: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
        values: dict[str, Any] = {}
        for key in ("paths", "frame_ancestors"):
            if section.get(key) is not None:
                items = section[key]
                if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
                    raise ConfigError(f"dashboards.{key}: expected a list of strings, got {items!r}")
                values[key] = tuple(items)
        if section.get("builtin") is not None:
            if not isinstance(section["builtin"], bool):
                raise ConfigError(f"dashboards.builtin: expected true or false, got {section['builtin']!r}")
            values["builtin"] = section["builtin"]
        return cls(**values)


def _load(config: DashboardsConfig, base_dir: Path | None) -> dict[str, ReadOnlyDashboard]:
    """Built-in plus provisioned dashboards by uid (raises ConfigError naming a bad file)."""
    found = load_builtin() if config.builtin else {}
    for uid, item in load_paths(config.paths, base_dir).items():
        if uid in found:
            raise ConfigError(f"{item.path}: uid {uid!r} is taken by the built-in dashboard "
                              f"{found[uid].dashboard['title']!r} (set dashboards.builtin: false or change the uid)")
        found[uid] = item
    return found


def _base_dir(config: ServerConfig) -> Path | None:
    return Path(config.config_dir) if config.config_dir else None


class DashboardsComponent:
    name = "dashboards"

    def __init__(self, context: ServerContext, config: DashboardsConfig, static_root: Path = DEFAULT_ROOT) -> None:
        self.context = context
        self.config = config
        read_only = _load(config, _base_dir(context.config))
        # the opened DB's directory, not config.data_dir: `tsdb check config` builds components over a throwaway one
        self.store = DashboardStore(Path(context.db.path) / "ui" / "dashboards.sqlite")
        self.api = DashboardApi(self.store, context.executor)
        self.api.read_only = read_only
        self.static = StaticUi(static_root, config.frame_ancestors)

    def routes(self) -> list[web.AbstractRouteDef]:
        return [*self.api.routes(), *self.static.routes()]

    async def start(self) -> None:
        return None

    async def prepare_reload(self, config: ServerConfig) -> Reload:
        new = DashboardsConfig.parse(config.dashboards or {})
        read_only = await asyncio.get_running_loop().run_in_executor(
            self.context.executor, _load, new, _base_dir(config))
        current = self.api.read_only
        changed = new != self.config or read_only.keys() != current.keys() or \
            any(not item.same_content(current[uid]) for uid, item in read_only.items())

        async def apply() -> None:
            self.config = new
            self.api.read_only = read_only
            self.static.frame_ancestors = list(new.frame_ancestors)

        return Reload(apply, changed=changed)

    async def stop(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self.context.executor, self.store.close)


def build(context: ServerContext) -> Any:
    return DashboardsComponent(context, DashboardsConfig.parse(context.config.dashboards or {}))
