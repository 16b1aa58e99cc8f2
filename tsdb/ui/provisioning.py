"""Read-only dashboards: the built-in ones (JSON files shipped in ``tsdb/ui/builtin/``) and the provisioned
ones (files named by ``dashboards.paths``, globs relative to the config file's directory; each file a tsdb
model or Grafana JSON, told apart automatically). Loading is all or nothing: a bad file raises
:class:`ConfigError` naming the file and the offending part, so a reload with a bad file changes nothing."""

from __future__ import annotations

import glob
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tsdb.errors import ConfigError, DashboardError
from tsdb.ui.grafana import import_grafana, is_tsdb_model
from tsdb.ui.model import normalise
from tsdb.ui.store import now_rfc3339

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"


@dataclass(frozen=True)
class ReadOnlyDashboard:
    """A built-in or provisioned dashboard: its model (``version`` 1), where it came from and when."""

    dashboard: dict[str, Any]
    source: str
    """``builtin`` or ``provisioned``."""
    path: str
    loaded: str
    """When it was read (RFC 3339), reported as its created and updated time."""
    warnings: list[str] = field(default_factory=list)
    """What a Grafana file's import could not convert."""

    def same_content(self, other: ReadOnlyDashboard) -> bool:
        return (self.dashboard, self.source, self.path) == (other.dashboard, other.source, other.path)


def load_file(path: Path, source: str = "provisioned") -> ReadOnlyDashboard:
    """One dashboard file; raises ConfigError naming the file (and the part of it) when it is bad."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"{path}: cannot read dashboard file: {err}") from err
    except (ValueError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: invalid JSON: {err}") from err
    warnings: list[str] = []
    try:
        if isinstance(raw, dict) and is_tsdb_model(raw):
            model = normalise(raw)
        else:
            model, warnings = import_grafana(raw)
    except DashboardError as err:
        raise ConfigError(f"{path}: {err}") from err
    if model["uid"] != _given_uid(raw):
        # a generated uid would change on every reload and break links: derive it from the file name
        model["uid"] = _uid_from_name(path)
    model["version"] = 1
    return ReadOnlyDashboard(model, source, str(path), now_rfc3339(), warnings)


def _given_uid(raw: dict[str, Any]) -> Any:
    """The uid a file gives its dashboard (bare, wrapped, or as resource metadata), if any."""
    wrapped, metadata = raw.get("dashboard"), raw.get("metadata")
    inner: dict[str, Any] = wrapped if isinstance(wrapped, dict) else raw
    return inner.get("uid") or (metadata.get("name") if isinstance(metadata, dict) else None)


def _uid_from_name(path: Path) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in path.stem)
    return cleaned[:40] or "dashboard"


def _collect(found: dict[str, ReadOnlyDashboard], item: ReadOnlyDashboard) -> None:
    uid = item.dashboard["uid"]
    if uid in found:
        raise ConfigError(f"{item.path}: uid {uid!r} is already used by {found[uid].path}")
    found[uid] = item


def load_paths(patterns: Sequence[str], base_dir: Path | None) -> dict[str, ReadOnlyDashboard]:
    """Every dashboard file matching ``patterns`` (globs; relative ones resolved against ``base_dir``),
    by uid; two files with the same uid are an error."""
    found: dict[str, ReadOnlyDashboard] = {}
    for pattern in patterns:
        full = Path(pattern) if base_dir is None or Path(pattern).is_absolute() else base_dir / pattern
        for name in sorted(glob.glob(str(full), recursive=True)):
            if Path(name).is_file():
                _collect(found, load_file(Path(name)))
    return found


def load_builtin() -> dict[str, ReadOnlyDashboard]:
    """The built-in dashboards shipped with tsdb, by uid."""
    found: dict[str, ReadOnlyDashboard] = {}
    for path in sorted(BUILTIN_DIR.glob("*.json")):
        _collect(found, load_file(path, "builtin"))
    return found
