"""The status endpoints in the shapes Prometheus prints (and Thanos reads): ``global.external_labels`` in the
config YAML, which loads back; sizes as ``0B``/``10GiB``; the deprecated ``storage.tsdb.retention`` flag."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tsdb.config import ServerConfig, StorageOptions, load_server_config, prometheus_global
from tsdb.errors import ConfigError
from tsdb.server.status import config_yaml, flags, retention_text, size_text


def test_config_yaml_prints_global_external_labels(tmp_path: Path) -> None:
    config = ServerConfig(external_labels={"cluster": "eu-1"})
    parsed = yaml.safe_load(config_yaml(config))
    assert next(iter(parsed)) == "global" and parsed["global"] == {"external_labels": {"cluster": "eu-1"}}
    assert "external_labels" not in parsed
    path = tmp_path / "tsdb.yml"
    path.write_text(config_yaml(config))
    assert load_server_config(path).external_labels == {"cluster": "eu-1"}


def test_global_section_spellings(tmp_path: Path) -> None:
    path = tmp_path / "tsdb.yml"
    path.write_text("global:\n  external_labels: {replica: a}\n")
    assert load_server_config(path).external_labels == {"replica": "a"}
    path.write_text("global:\n")
    assert load_server_config(path).external_labels == {}
    assert prometheus_global(["not", "a", "mapping"], "x") == ["not", "a", "mapping"]
    assert prometheus_global({"external_labels": {"a": "1"}}, "x") == {"external_labels": {"a": "1"}}


@pytest.mark.parametrize(("text", "message"), [
    ("global: [1]\n", "global: expected a mapping, got list"),
    ("global:\n  scrape_interval: 1m\n", "global: unknown key 'scrape_interval' (known: external_labels)"),
    ("external_labels: {a: '1'}\nglobal:\n  external_labels: {a: '2'}\n",
     "external_labels given twice (top level and global.external_labels)"),
])
def test_bad_global_section_is_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "tsdb.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="tsdb.yml: " + message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[")):
        load_server_config(path)


def test_sizes_and_retention_flags() -> None:
    assert [size_text(n) for n in (0, 512, 1024, 3 << 20, 10 << 30, 2 << 40, 1536)] == \
        ["0B", "512B", "1KiB", "3MiB", "10GiB", "2TiB", "1536B"]
    config = ServerConfig(storage=StorageOptions(retention_bytes=10 << 30))
    assert retention_text(config) == "12w6d or 10GiB"
    values = flags(config, "tsdb.yml")
    assert values["storage.tsdb.retention"] == "0s" and values["storage.tsdb.retention.size"] == "10GiB"
    assert values["storage.tsdb.min-block-duration"] == "2h"
