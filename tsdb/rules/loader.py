"""Prometheus rule files: YAML ``groups`` of recording and alerting rules, parsed and validated once.

Errors are :class:`~tsdb.errors.ConfigError` naming the file, the group, the rule (index and name) and,
for PromQL, the position in the expression, as ``promtool check rules`` reports them.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tsdb.config import config_list, parse_duration_ms
from tsdb.errors import ConfigError, TsdbError
from tsdb.query.parser.parser import parse
from tsdb.rules.templates import parse_error

METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_GROUP_KEYS = {"name", "interval", "limit", "query_offset", "labels", "rules"}
_RULE_KEYS = {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations",
              # tsdb extensions (docs/rules.md)
              "recovery_expr", "no_data"}
NO_DATA_POLICIES = ("", "alerting", "ok", "keep_last")


@dataclass(frozen=True)
class Rule:
    """One rule: ``record`` or ``alert`` set (the other empty); ``expr`` parsed once."""

    name: str
    kind: str  # "recording" | "alerting"
    expr_text: str
    expr: Any
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    for_ms: int = 0
    keep_firing_for_ms: int = 0
    recovery_expr_text: str = ""
    recovery_expr: Any = None
    no_data: str = ""

    def key(self) -> tuple[str, ...]:
        """Identity across reloads: a rule whose definition did not change keeps its alert state."""
        return (self.kind, self.name, self.expr_text, repr(sorted(self.labels.items())), str(self.for_ms),
                str(self.keep_firing_for_ms), self.recovery_expr_text, self.no_data)


@dataclass(frozen=True)
class RuleGroup:
    """A group: its rules run in order at one timestamp every ``interval_ms`` (0 = the global default)."""

    name: str
    file: str
    rules: tuple[Rule, ...]
    interval_ms: int = 0
    limit: int = 0
    query_offset_ms: int = 0
    labels: dict[str, str] = field(default_factory=dict)


def _where(file: str, group: str | None = None, index: int | None = None, rule: str = "") -> str:
    out = file
    if group is not None:
        out += f": group {group!r}"
    if index is not None:
        out += f", rule {index}" + (f" ({rule})" if rule else "")
    return out


def _str_map(value: Any, what: str, where: str, label_names: bool = True) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {what} must be a mapping, got {type(value).__name__}")
    out = {}
    for k, v in value.items():
        name = str(k)
        if label_names and not LABEL_NAME_RE.match(name):
            raise ConfigError(f"{where}: invalid {what[:-1] if what.endswith('s') else what} name {name!r}")
        out[name] = "" if v is None else str(v)
    return out


def _duration(value: Any, where: str) -> int:
    try:
        return parse_duration_ms(value, where)
    except TsdbError as err:
        raise ConfigError(str(err)) from err


def _parse_expr(text: Any, where: str) -> Any:
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{where}: field 'expr' must be a non-empty PromQL expression")
    try:
        return parse(text)
    except TsdbError as err:
        raise ConfigError(f"{where}: could not parse expression: {err}") from err


def _parse_rule(raw: Any, file: str, group: str, index: int) -> Rule:
    where = _where(file, group, index)
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a rule must be a mapping")
    unknown = sorted(set(map(str, raw)) - _RULE_KEYS)
    if unknown:
        raise ConfigError(f"{where}: field {unknown[0]!r} not found in a rule")
    record, alert = raw.get("record"), raw.get("alert")
    if bool(record) == bool(alert):
        raise ConfigError(f"{where}: one of 'record' or 'alert' must be set")
    name = str(record or alert)
    where = _where(file, group, index, name)
    expr = _parse_expr(raw.get("expr"), where)
    labels = _str_map(raw.get("labels"), "labels", where)
    if record:
        if not METRIC_NAME_RE.match(name):
            raise ConfigError(f"{where}: invalid recording rule name {name!r}")
        for key in ("for", "keep_firing_for", "annotations", "recovery_expr", "no_data"):
            if raw.get(key) is not None:
                raise ConfigError(f"{where}: invalid field {key!r} in recording rule")
        return Rule(name, "recording", str(raw["expr"]), expr, labels)
    no_data = str(raw.get("no_data") or "")
    if no_data not in NO_DATA_POLICIES:
        raise ConfigError(f"{where}: no_data must be one of alerting, ok, keep_last; got {no_data!r}")
    recovery_text = str(raw.get("recovery_expr") or "")
    annotations = _str_map(raw.get("annotations"), "annotations", where, label_names=False)
    for what, templates in (("label", labels), ("annotation", annotations)):
        for key, text in templates.items():
            problem = parse_error(text, name)
            if problem is not None:  # Prometheus refuses the file too, with this wording
                raise ConfigError(f"{where}: {what} {key!r}: {problem}")
    return Rule(name, "alerting", str(raw["expr"]), expr, labels, annotations,
                _duration(raw.get("for") or 0, f"{where}: for"),
                _duration(raw.get("keep_firing_for") or 0, f"{where}: keep_firing_for"),
                recovery_text, _parse_expr(recovery_text, f"{where}: recovery_expr") if recovery_text else None,
                no_data)


def parse_rule_text(text: str, file: str) -> list[RuleGroup]:
    """Groups of one rule file's YAML text (``file`` names it in errors)."""
    try:
        doc = yaml.safe_load(text)
    except RecursionError:  # PyYAML composes nested collections recursively
        raise ConfigError(f"{file}: invalid YAML: collections nested too deeply") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{file}: invalid YAML: {err}") from err
    if doc is None:
        return []
    if not isinstance(doc, dict) or set(map(str, doc)) - {"groups"}:
        raise ConfigError(f"{file}: a rule file is a mapping with one key, 'groups'")
    groups: list[RuleGroup] = []
    seen: set[str] = set()
    for gi, raw in enumerate(config_list(doc.get("groups"), f"{file}: groups")):
        if not isinstance(raw, dict) or not raw.get("name"):
            raise ConfigError(f"{file}: group {gi}: 'name' is required")
        name = str(raw["name"])
        if name in seen:
            raise ConfigError(f"{file}: {name!r}: repeated in the same file")
        seen.add(name)
        unknown = sorted(set(map(str, raw)) - _GROUP_KEYS)
        if unknown:
            raise ConfigError(f"{_where(file, name)}: field {unknown[0]!r} not found in a rule group")
        where = _where(file, name)
        limit = raw.get("limit") or 0
        if not isinstance(limit, int) or limit < 0:
            raise ConfigError(f"{where}: limit must be a non-negative integer")
        raw_rules = config_list(raw.get("rules"), f"{where}: rules")
        rules = tuple(_parse_rule(r, file, name, ri) for ri, r in enumerate(raw_rules))
        groups.append(RuleGroup(name, file, rules,
                                _duration(raw.get("interval") or 0, f"{where}: interval"), limit,
                                _duration(raw.get("query_offset") or 0, f"{where}: query_offset"),
                                _str_map(raw.get("labels"), "labels", where)))
    return groups


def load_rule_files(patterns: list[str], base_dir: Path | None = None) -> list[RuleGroup]:
    """Groups of every file matching ``patterns`` (globs, relative to ``base_dir``), in file order."""
    groups: list[RuleGroup] = []
    for pattern in patterns:
        full = str((base_dir / pattern) if base_dir is not None and not Path(pattern).is_absolute() else pattern)
        paths = sorted(glob.glob(full)) if glob.has_magic(full) else [full]
        for path in paths:
            try:
                text = Path(path).read_text()
            except OSError as err:
                raise ConfigError(f"{path}: cannot read rule file: {err}") from err
            groups.extend(parse_rule_text(text, path))
    return groups
