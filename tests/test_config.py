"""Option dataclasses and YAML loading: durations, validation, unknown keys named."""

from __future__ import annotations

from pathlib import Path

import pytest

from tsdb.config import (
    DAY_MS,
    HOUR_MS,
    GraphiteOptions,
    InfluxOptions,
    IngestOptions,
    ServerConfig,
    StorageOptions,
    load_server_config,
    parse_duration_ms,
)
from tsdb.errors import ConfigError


@pytest.mark.parametrize(("value", "ms"), [("90d", 90 * DAY_MS), ("1h30m", 90 * 60_000), ("0", 0), (15, 15000),
                                           (0.5, 500), ("2w", 14 * DAY_MS), ("1y", 365 * DAY_MS)])
def test_durations(value: str | int | float, ms: int) -> None:
    assert parse_duration_ms(value) == ms


@pytest.mark.parametrize("value", ["", "1x", "h", True, "-5m"])
def test_bad_durations_name_the_key(value: object) -> None:
    with pytest.raises(ConfigError, match=r"storage\.retention"):
        parse_duration_ms(value, "storage.retention")  # type: ignore[arg-type]


def test_block_ranges_follow_retention() -> None:
    assert StorageOptions().block_ranges()[:4] == [2 * HOUR_MS, 6 * HOUR_MS, 18 * HOUR_MS, 54 * HOUR_MS]
    assert max(StorageOptions().block_ranges()) <= 9 * DAY_MS
    assert StorageOptions(retention_ms=DAY_MS).block_ranges() == [2 * HOUR_MS]


@pytest.mark.parametrize(("kwargs", "message"), [({"block_range_ms": 0}, "block_range"),
                                                 ({"retention_ms": 0}, "retention"),
                                                 ({"out_of_order_window_ms": -1}, "out_of_order_window"),
                                                 ({"wal_fsync": "sometimes"}, "wal_fsync")])
def test_invalid_storage_options(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        StorageOptions(**kwargs)  # type: ignore[arg-type]


def test_load_yaml_with_sections_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "tsdb.yml"
    path.write_text("data_dir: /var/lib/x\nstorage:\n  retention: 30d\n  wal_fsync: 1s\nquery:\n  lookback_delta: 2m\n")
    config = load_server_config(path, {"http_listen": "127.0.0.1:0"})
    assert config.data_dir == "/var/lib/x" and config.http_listen == "127.0.0.1:0"
    assert config.storage.retention_ms == 30 * DAY_MS and config.storage.wal_fsync == "1s"
    assert config.query.lookback_delta_ms == 120_000
    assert ServerConfig().grpc_listen == "127.0.0.1:9202"


@pytest.mark.parametrize(("text", "message"), [("nope: 1\n", "unknown key 'nope'"),
                                               ("storage:\n  retention_ms: 5\n", "unknown key 'retention_ms'"),
                                               ("storage: [1]\n", "expected a mapping"),
                                               ("a: [\n", "invalid YAML"),
                                               ("query:\n  timeout: xx\n", "query.timeout")])
def test_bad_files_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as exc:
        load_server_config(path)
    assert "bad.yml" in str(exc.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_server_config(tmp_path / "absent.yml")


def test_influx_and_graphite_sections(tmp_path: Path) -> None:
    path = tmp_path / "tsdb.yml"
    path.write_text("influx:\n  tcp_listen: 127.0.0.1:8089\ngraphite:\n  listen: '[::1]:2003'\n")
    config = load_server_config(path)
    assert config.influx == InfluxOptions(tcp_listen="127.0.0.1:8089")
    assert config.graphite == GraphiteOptions(listen="[::1]:2003")
    assert ServerConfig().influx == InfluxOptions() and not ServerConfig().graphite.listen  # off by default
    for text, error in [("influx:\n  udp_listen: nowhere\n", r"influx\.udp_listen: expected host:port"),
                        ("graphite:\n  listen: 5\n", r"graphite\.listen: expected host:port"),
                        ("graphite:\n  port: 1\n", "unknown key 'port'")]:
        path.write_text(text)
        with pytest.raises(ConfigError, match=error):
            load_server_config(path)


def test_ingest_section(tmp_path: Path) -> None:
    path = tmp_path / "tsdb.yml"
    path.write_text("ingest:\n  max_inflight_requests: 8\n  retry_after: 30s\n  max_series_per_metric: 1000\n")
    ingest = load_server_config(path).ingest
    assert ingest == IngestOptions(max_inflight_requests=8, retry_after_ms=30_000, max_series_per_metric=1000)
    assert ServerConfig().ingest == IngestOptions(max_inflight_requests=64, max_inflight_bytes=256 << 20)
    path.write_text("ingest:\n  max_series: -1\n")
    with pytest.raises(ConfigError, match=r"ingest\.max_series: expected a whole number >= 0"):
        load_server_config(path)
    path.write_text("ingest:\n  max_serie: 1\n")
    with pytest.raises(ConfigError, match="unknown key 'max_serie'"):
        load_server_config(path)
