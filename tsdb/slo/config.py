"""The ``slos:`` section of the server configuration: SLO specs whose rules the rule engine runs.

``slos: {files: [glob, ...], period: 30d, extra_labels: {...}, reports: [...]}`` (``reports``: the monthly
compliance reports the server delivers, :mod:`tsdb.slo.report_schedule`). The files are Sloth ``prometheus/v1`` or
OpenSLO specs (globs relative to the working directory, as ``rules.files``); their rules are generated as
``tsdb slo generate`` writes them and run alongside the rule files, each group attributed to its spec file.
A reload (``/-/reload``, SIGHUP) reads the specs again.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tsdb.errors import ConfigError
from tsdb.rules.loader import RuleGroup, parse_rule_text
from tsdb.slo.render import render_file
from tsdb.slo.report_schedule import ReportSchedule, parse_reports
from tsdb.slo.sloth import Options, generate_all
from tsdb.slo.spec import LABEL_NAME_RE, ServiceSpec, parse_sources
from tsdb.slo.windows import DAY, parse_period

_KEYS = {"files", "period", "extra_labels", "reports"}


@dataclass(frozen=True)
class SLOsConfig:
    """SLO spec files (globs), the default SLO period and labels added to every generated rule."""

    files: tuple[str, ...] = ()
    period_s: int = 30 * DAY
    extra_labels: dict[str, str] = field(default_factory=dict)
    reports: tuple[ReportSchedule, ...] = ()

    @classmethod
    def from_raw(cls, raw: Any) -> SLOsConfig:
        raw = raw or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"slos: expected a mapping, got {type(raw).__name__}")
        unknown = sorted(set(map(str, raw)) - _KEYS)
        if unknown:
            raise ConfigError(f"slos: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
        files = raw.get("files") or []
        if isinstance(files, str) or not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise ConfigError("slos.files: expected a list of SLO spec file names or globs")
        try:
            period_s = parse_period(str(raw.get("period") or "30d"))
        except ValueError as err:
            raise ConfigError(f"slos.period: {err}") from err
        labels = raw.get("extra_labels") or {}
        if not isinstance(labels, dict):
            raise ConfigError("slos.extra_labels: expected a mapping of label name to value")
        for key in labels:
            if not LABEL_NAME_RE.match(str(key)):
                raise ConfigError(f"slos.extra_labels: invalid label name {str(key)!r}")
        return cls(tuple(files), period_s, {str(k): str(v) for k, v in labels.items()},
                   parse_reports(raw.get("reports")))

    def paths(self) -> list[str]:
        """The spec files the globs match, in order (a name without glob characters is kept as is)."""
        out: list[str] = []
        for pattern in self.files:
            for path in sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]:
                if path not in out:
                    out.append(path)
        return out


def load_slo_specs(config: SLOsConfig) -> list[ServiceSpec]:
    """The specs of the files, in order; ConfigError naming the file and field."""
    files: list[tuple[str, str]] = []
    for path in config.paths():
        try:
            files.append((Path(path).read_text(), path))
        except OSError as err:
            raise ConfigError(f"slos.files: {path}: cannot read SLO spec: {err.strerror or err}") from err
    return parse_sources(files, require_slo=False) if files else []


def load_slo_groups(config: SLOsConfig, version: str = "dev") -> list[RuleGroup]:
    """The rule groups generated from the spec files, per file; ConfigError naming the file and field.

    ``version`` is the ``sloth_version`` label of the ``sloth_slo_info`` series."""
    specs = load_slo_specs(config)
    if not specs:
        return []
    options = Options(period_s=config.period_s, extra_labels=dict(config.extra_labels),
                      version=version)
    documents = generate_all(specs, options)  # also refuses an SLO id defined twice
    groups: list[RuleGroup] = []
    for path in config.paths():
        mine = [g for spec, doc in zip(specs, documents, strict=True)
                if spec.source == path or spec.source.startswith(f"{path} (document ") for g in doc]
        if mine:
            groups.extend(parse_rule_text(render_file(mine, ""), path))
    return groups
