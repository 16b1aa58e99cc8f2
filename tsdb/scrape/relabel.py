"""Prometheus relabeling: ``relabel_configs`` / ``metric_relabel_configs`` over label dicts.

Semantics as Prometheus: ``source_labels`` joined by ``separator`` (default ``;``), ``regex`` in RE2 syntax, fully
anchored (default ``(.*)``), ``replacement`` with ``$1``/``${1}``/``$name`` (default ``$1``), actions
``replace`` (default), ``keep``, ``drop``, ``keepequal``, ``dropequal``, ``hashmod`` (``modulus``),
``labelmap``, ``labeldrop``, ``labelkeep``, ``lowercase``, ``uppercase``. A label set that ends up
without a value for a label drops that label.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from tsdb.errors import ConfigError, InvalidMatcherError
from tsdb.regex import AnchoredRegex, compile_anchored

ACTIONS = ("replace", "keep", "drop", "keepequal", "dropequal", "hashmod", "labelmap", "labeldrop", "labelkeep",
           "lowercase", "uppercase")
_KEYS = {"source_labels", "separator", "regex", "modulus", "target_label", "replacement", "action"}
_GROUP_REF = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass(frozen=True)
class RelabelRule:
    action: str
    source_labels: tuple[str, ...]
    separator: str
    regex: AnchoredRegex
    target_label: str
    replacement: str
    modulus: int


def parse_rules(raw: Any, where: str) -> tuple[RelabelRule, ...]:
    """Parse a list of relabel configs; ConfigError naming ``where[i].key``."""
    rules = []
    if raw and not isinstance(raw, list):
        raise ConfigError(f"{where}: expected a list, got {type(raw).__name__}")
    for i, item in enumerate(raw or []):
        w = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{w}: expected a mapping")
        unknown = sorted(set(map(str, item)) - _KEYS)
        if unknown:
            raise ConfigError(f"{w}: field {unknown[0]} not found in a relabel config")
        action = str(item.get("action") or "replace").lower()
        if action not in ACTIONS:
            raise ConfigError(f"{w}.action: unknown relabel action {action!r}")
        try:
            regex = compile_anchored(str(item.get("regex", "(.*)")))
        except InvalidMatcherError as err:
            raise ConfigError(f"{w}.regex: {err}") from err
        target = str(item.get("target_label") or "")
        if action in ("replace", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal") and not target:
            raise ConfigError(f"{w}: relabel configuration for {action} action requires 'target_label' value")
        modulus = item.get("modulus") or 0
        if isinstance(modulus, bool) or not isinstance(modulus, int):
            raise ConfigError(f"{w}.modulus: expected a whole number, got {modulus!r}")
        if action == "hashmod" and modulus <= 0:
            raise ConfigError(f"{w}: relabel configuration for hashmod requires non-zero modulus")
        rules.append(RelabelRule(action, tuple(map(str, item.get("source_labels") or [])),
                                 str(item.get("separator", ";")), regex, target,
                                 str(item.get("replacement", "$1")), modulus))
    return tuple(rules)


def _expand(template: str, match: re.Match[str]) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        try:
            value = match.group(int(name)) if name.isdigit() else match.group(name)
        except IndexError:  # no such group: Prometheus expands it to nothing
            return ""
        return value or ""

    return _GROUP_REF.sub(sub, template)


def relabel(labels: dict[str, str], rules: tuple[RelabelRule, ...]) -> dict[str, str] | None:
    """Apply ``rules`` in order; None when the target/sample is dropped."""
    out = dict(labels)
    for rule in rules:
        value = rule.separator.join(out.get(name, "") for name in rule.source_labels)
        action = rule.action
        if action == "drop":
            if rule.regex.fullmatch(value):
                return None
        elif action == "keep":
            if not rule.regex.fullmatch(value):
                return None
        elif action == "dropequal":
            if out.get(rule.target_label, "") == value:
                return None
        elif action == "keepequal":
            if out.get(rule.target_label, "") != value:
                return None
        elif action == "replace":
            match = rule.regex.fullmatch(value)
            if match is None:
                continue
            target = _expand(rule.target_label, match)
            result = _expand(rule.replacement, match)
            if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", target):
                continue
            if result:
                out[target] = result
            else:
                out.pop(target, None)
        elif action in ("lowercase", "uppercase"):
            out[rule.target_label] = value.lower() if action == "lowercase" else value.upper()
        elif action == "hashmod":
            digest = hashlib.md5(value.encode(), usedforsecurity=False).digest()
            out[rule.target_label] = str(int.from_bytes(digest[8:], "big") % rule.modulus)
        elif action == "labelmap":
            for name, v in list(out.items()):
                match = rule.regex.fullmatch(name)
                if match is not None:
                    out[_expand(rule.replacement, match)] = v
        elif action == "labeldrop":
            out = {k: v for k, v in out.items() if not rule.regex.fullmatch(k)}
        elif action == "labelkeep":
            out = {k: v for k, v in out.items() if rule.regex.fullmatch(k)}
    return {k: v for k, v in out.items() if v != ""}
