"""Alertmanager configuration (alertmanager.yml): the route tree, receivers, inhibition rules.

Parsed into frozen values with errors naming the key path. Receivers stay raw dicts for
``tsdb.alerting.receivers``; route defaults are inherited from the parent route as Alertmanager does
(``group_wait`` 30s, ``group_interval`` 5m, ``repeat_interval`` 4h at the root).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tsdb.alerting.matchers import matchers_from_config
from tsdb.alerting.timeintervals import parse_intervals
from tsdb.config import config_list, config_mapping, parse_duration_ms
from tsdb.errors import ConfigError, TsdbError
from tsdb.labels import Matcher
from tsdb.secrets import yaml_error_text

_ROUTE_KEYS = {"receiver", "group_by", "group_wait", "group_interval", "repeat_interval", "matchers", "match",
               "match_re", "continue", "routes", "mute_time_intervals", "active_time_intervals"}
_TOP_KEYS = {"global", "route", "receivers", "inhibit_rules", "templates", "time_intervals",
             "mute_time_intervals"}


@dataclass(frozen=True)
class Route:
    """A node of the routing tree (settings already inherited from its parents)."""

    receiver: str
    matchers: tuple[Matcher, ...] = ()
    group_by: tuple[str, ...] | None = ()  # None = '...' (group by all labels)
    group_wait_ms: int = 30_000
    group_interval_ms: int = 300_000
    repeat_interval_ms: int = 4 * 3_600_000
    continue_: bool = False
    routes: tuple[Route, ...] = ()
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()
    path: str = "route"
    key: str = "{}"
    """Alertmanager's route key (``{}`` for the root, then ``/{matchers}`` per level) used in group keys."""

    def match(self, labels: dict[str, str]) -> list[Route]:
        """The routes an alert with ``labels`` goes to (Alertmanager's depth-first match with ``continue``)."""
        if not all(m.matches(labels.get(m.name, "")) for m in self.matchers):
            return []
        found: list[Route] = []
        for child in self.routes:
            hits = child.match(labels)
            found.extend(hits)
            if hits and not child.continue_:
                break
        return found or [self]


@dataclass(frozen=True)
class InhibitRule:
    """Alerts matching ``target`` are muted while an alert matching ``source`` with equal ``equal`` labels fires."""

    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()


@dataclass(frozen=True)
class AlertingConfig:
    """A parsed alertmanager.yml."""

    route: Route
    receivers: tuple[dict[str, Any], ...]
    inhibit_rules: tuple[InhibitRule, ...] = ()
    global_config: dict[str, Any] = field(default_factory=dict)
    templates: tuple[str, ...] = ()
    time_intervals: dict[str, Any] = field(default_factory=dict)

    @property
    def receiver_names(self) -> set[str]:
        return {str(r.get("name")) for r in self.receivers}


DEFAULT_CONFIG = "route: {receiver: default}\nreceivers: [{name: default}]\n"


def _duration(value: Any, where: str) -> int:
    try:
        return parse_duration_ms(value, where)
    except TsdbError as err:
        raise ConfigError(str(err)) from err


def _route(raw: Any, parent: Route | None, path: str, index: int = 0) -> Route:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping")
    unknown = sorted(set(map(str, raw)) - _ROUTE_KEYS)
    if unknown:
        raise ConfigError(f"{path}: field {unknown[0]} not found in a route")
    receiver = raw.get("receiver") or (parent.receiver if parent else None)
    if not receiver:
        raise ConfigError(f"{path}: root route must specify a default receiver")
    group_by: tuple[str, ...] | None
    if "group_by" in raw:
        names = [str(n) for n in config_list(raw.get("group_by") or None, f"{path}.group_by")]
        group_by = None if "..." in names else tuple(names)
        if group_by is None and len(names) > 1:
            raise ConfigError(f"{path}: cannot have wildcard group_by (`...`) and other labels at the same time")
    else:
        group_by = parent.group_by if parent else ()
    base = parent or Route(receiver=str(receiver))
    route = Route(
        receiver=str(receiver), matchers=tuple(matchers_from_config(raw, path)), group_by=group_by,
        group_wait_ms=_duration(raw["group_wait"], f"{path}.group_wait") if "group_wait" in raw else base.group_wait_ms,
        group_interval_ms=(_duration(raw["group_interval"], f"{path}.group_interval") if "group_interval" in raw
                           else base.group_interval_ms),
        repeat_interval_ms=(_duration(raw["repeat_interval"], f"{path}.repeat_interval") if "repeat_interval" in raw
                            else base.repeat_interval_ms),
        continue_=bool(raw.get("continue", False)),
        mute_time_intervals=tuple(map(str, config_list(raw.get("mute_time_intervals") or None,
                                                       f"{path}.mute_time_intervals"))),
        active_time_intervals=tuple(map(str, config_list(raw.get("active_time_intervals") or None,
                                                         f"{path}.active_time_intervals"))), path=path,
        key="{}" if parent is None else f"{parent.key}/{{{','.join(str(m) for m in matchers_from_config(raw, path))}}}"
        + (f"/{index}" if parent.routes else ""))
    if parent is None and route.matchers:
        raise ConfigError(f"{path}: root route must not have any matchers")
    raw_routes = config_list(raw.get("routes") or None, f"{path}.routes")
    children = tuple(_route(child, route, f"{path}.routes[{i}]", i) for i, child in enumerate(raw_routes))
    return Route(**{**route.__dict__, "routes": children})


def parse_config(text: str, source: str = "alertmanager.yml") -> AlertingConfig:
    """Parse alertmanager.yml text; ConfigError names ``source`` and the key path."""
    try:
        raw = yaml.safe_load(text) or {}
    except RecursionError:  # PyYAML composes nested collections recursively
        raise ConfigError(f"{source}: invalid YAML: collections nested too deeply") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{source}: invalid YAML: {yaml_error_text(err)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping")
    unknown = sorted(set(map(str, raw)) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"{source}: field {unknown[0]} not found in the configuration")
    if "route" not in raw:
        raise ConfigError(f"{source}: no route provided in config")
    route = _route(raw["route"], None, f"{source}: route")
    receivers = config_list(raw.get("receivers") or None, f"{source}: receivers")
    names: set[str] = set()
    for i, r in enumerate(receivers):
        if not isinstance(r, dict) or not r.get("name"):
            raise ConfigError(f"{source}: receivers[{i}]: missing name of receiver")
        if str(r["name"]) in names:
            raise ConfigError(f"{source}: notification config name {r['name']!r} is not unique")
        names.add(str(r["name"]))
    _check_receivers(route, names, source)
    inhibit = []
    for i, rule in enumerate(config_list(raw.get("inhibit_rules") or None, f"{source}: inhibit_rules")):
        where = f"{source}: inhibit_rules[{i}]"
        rule = config_mapping(rule, where)
        inhibit.append(InhibitRule(tuple(matchers_from_config(rule, where, "source_")),
                                   tuple(matchers_from_config(rule, where, "target_")),
                                   tuple(map(str, config_list(rule.get("equal") or None, f"{where}.equal")))))
    named = {str(t.get("name")): t.get("time_intervals") for i, t in enumerate(
        config_list(raw.get("time_intervals") or None, f"{source}: time_intervals")
        + config_list(raw.get("mute_time_intervals") or None, f"{source}: mute_time_intervals"))
        if config_mapping(t, f"{source}: time_intervals[{i}]") is not None}
    intervals = parse_intervals(named, f"{source}: time_intervals")
    _check_intervals(route, set(intervals), source)
    return AlertingConfig(route, tuple(receivers), tuple(inhibit),
                          dict(config_mapping(raw.get("global") or None, f"{source}: global")),
                          tuple(map(str, config_list(raw.get("templates") or None, f"{source}: templates"))),
                          intervals)


def _check_intervals(route: Route, names: set[str], source: str) -> None:
    for name in route.mute_time_intervals + route.active_time_intervals:
        if name not in names:
            raise ConfigError(f"{source}: undefined time interval {name!r} used in {route.path.split(': ')[-1]}")
    for child in route.routes:
        _check_intervals(child, names, source)


def _check_receivers(route: Route, names: set[str], source: str) -> None:
    if route.receiver not in names:
        raise ConfigError(f"{source}: undefined receiver {route.receiver!r} used in {route.path.split(': ')[-1]}")
    for child in route.routes:
        _check_receivers(child, names, source)


def load_config(path: str | Path) -> AlertingConfig:
    source = Path(path)
    try:
        text = source.read_text()
    except OSError as err:
        raise ConfigError(f"{source}: cannot read: {err}") from err
    return parse_config(text, str(source))
