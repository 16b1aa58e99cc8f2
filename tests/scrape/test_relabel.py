"""Relabeling as Prometheus documents it, action by action."""

from __future__ import annotations

import pytest

from tsdb.errors import ConfigError
from tsdb.scrape.relabel import parse_rules, relabel

BASE = {"__address__": "host-1:9100", "job": "node", "env": "Prod", "__meta_team": "db"}


def _one(**rule: object) -> dict[str, str] | None:
    return relabel(dict(BASE), parse_rules([rule], "r"))


@pytest.mark.parametrize(("rule", "expected"), [
    ({"source_labels": ["__address__"], "regex": "(.*):.*", "target_label": "host"}, {"host": "host-1"}),
    ({"source_labels": ["job", "env"], "separator": "/", "target_label": "key", "replacement": "x-${1}"},
     {"key": "x-node/Prod"}),
    ({"source_labels": ["env"], "regex": "nomatch", "target_label": "gone"}, {}),
    ({"source_labels": ["env"], "target_label": "env_lower", "action": "lowercase"}, {"env_lower": "prod"}),
    ({"source_labels": ["env"], "target_label": "env_upper", "action": "uppercase"}, {"env_upper": "PROD"}),
    ({"regex": "__meta_(.+)", "action": "labelmap"}, {"team": "db"}),
    ({"source_labels": ["__address__"], "modulus": 4, "target_label": "shard", "action": "hashmod"},
     {"shard": "0"}),
])
def test_rewrites(rule: dict[str, object], expected: dict[str, str]) -> None:
    out = _one(**rule)
    assert out is not None
    for k, v in expected.items():
        if k == "shard":
            assert out[k] in {"0", "1", "2", "3"}
        else:
            assert out[k] == v
    if "gone" in str(rule):
        assert "gone" not in out


def test_keep_drop_and_label_sets() -> None:
    assert _one(source_labels=["env"], regex="Prod", action="keep") is not None
    assert _one(source_labels=["env"], regex="prod", action="keep") is None  # anchored, case sensitive
    assert _one(source_labels=["job"], regex="node", action="drop") is None
    assert "env" not in (_one(regex="env", action="labeldrop") or {})
    assert set(_one(regex="job|__address__", action="labelkeep") or {}) == {"job", "__address__"}
    assert _one(source_labels=["job"], target_label="job", action="keepequal") is not None
    assert _one(source_labels=["env"], target_label="job", action="dropequal") is not None
    assert _one(source_labels=["job"], target_label="job", action="dropequal") is None
    empty = relabel({"a": "1"}, parse_rules([{"source_labels": ["a"], "target_label": "a", "replacement": ""}], "r"))
    assert empty == {}


@pytest.mark.parametrize(("rule", "message"), [
    ({"action": "explode"}, "unknown relabel action"),
    ({"action": "hashmod", "target_label": "x"}, "non-zero modulus"),
    ({"action": "replace"}, "requires 'target_label'"),
    ({"regex": "(", "target_label": "x"}, "regex"),
    ({"colour": "red"}, "field colour not found"),
])
def test_errors(rule: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_rules([rule], "relabel_configs")
