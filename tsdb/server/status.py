"""What ``/api/v1/status/config``, ``/status/flags`` and ``/status/runtimeinfo`` report: the running
server's real values, in Prometheus's shapes.

The effective configuration is the :class:`ServerConfig` in effect (file, flags and defaults merged), written
back as the YAML a ``tsdb.yml`` would hold, with secrets (passwords, tokens, keys, webhook URLs) replaced by
``<secret>`` as Prometheus and Alertmanager print them.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
from typing import Any

import yaml

from tsdb.config import ServerConfig
from tsdb.secrets import mask_secrets
from tsdb.timefmt import ZERO_TIME, format_duration, format_rfc3339


def config_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as tsdb.yml keys: ``*_ms`` fields become durations under their plain name."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            out[f.name] = config_dict(value)
        elif isinstance(value, tuple) and any(dataclasses.is_dataclass(v) for v in value):
            out[f.name] = [config_dict(v) if dataclasses.is_dataclass(v) else v for v in value]
        elif f.name.endswith("_ms") and isinstance(value, int):
            out[f.name.removesuffix("_ms")] = format_duration(value)
        else:
            out[f.name] = value
    return out


def config_yaml(config: ServerConfig) -> str:
    """The effective configuration as YAML, secrets masked. The external labels are printed where Prometheus
    prints them, ``global.external_labels`` (what a Thanos sidecar reads), first."""
    values = config_dict(config)
    values.pop("config_dir")  # where the file was read from, not a setting
    values = {"global": {"external_labels": values.pop("external_labels")}, **values}
    return str(yaml.safe_dump(mask_secrets(values), sort_keys=False, default_flow_style=False))


def size_text(size: int) -> str:
    """A byte count as Prometheus prints sizes: the largest binary unit dividing it (``0B``, ``10GiB``)."""
    unit = next((u for u, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10))
                 if size >= 1 << shift and size % (1 << shift) == 0), "B")
    return f"{size >> {'TiB': 40, 'GiB': 30, 'MiB': 20, 'KiB': 10, 'B': 0}[unit]}{unit}"


def retention_text(config: ServerConfig) -> str:
    """Retention as Prometheus's runtimeinfo prints it (``90d``, ``90d or 10GiB``)."""
    text = format_duration(config.storage.retention_ms)
    if config.storage.retention_bytes:
        text += f" or {size_text(config.storage.retention_bytes)}"
    return text


def flags(config: ServerConfig, config_file: str) -> dict[str, str]:
    """The server's settings under Prometheus's flag names (and tsdb's own where Prometheus has none)."""
    s, q = config.storage, config.query
    return {name: mask_secrets(value) for name, value in {
        "config.file": config_file,
        "storage.tsdb.path": config.data_dir,
        "storage.tsdb.retention.time": format_duration(s.retention_ms),
        "storage.tsdb.retention": "0s",  # Prometheus's deprecated flag, still printed (and read by Thanos)
        "storage.tsdb.retention.size": size_text(s.retention_bytes),
        "storage.tsdb.min-block-duration": format_duration(s.block_range_ms),
        "storage.tsdb.max-block-duration": format_duration(s.max_block_range_ms),
        "storage.tsdb.out-of-order-time-window": format_duration(s.out_of_order_window_ms),
        "storage.tsdb.wal-segment-size": str(s.wal_segment_bytes),
        "storage.tsdb.wal-fsync": s.wal_fsync,
        "storage.tsdb.wal-compression": str(s.wal_compression == "snappy").lower(),
        "query.lookback-delta": format_duration(q.lookback_delta_ms),
        "query.timeout": format_duration(q.timeout_ms),
        "query.max-samples": str(q.max_samples),
        "query.max-points-per-series": str(q.max_points_per_series),
        "query.max-concurrency": str(q.max_concurrency or os.cpu_count() or 1),
        "query.max-queue": str(q.max_queue),
        "query.max-series": str(q.max_series),
        "web.listen-address": config.http_listen,
        "web.external-url": config.external_url,
        "web.max-body-bytes": str(config.max_body_bytes),
        "web.config.file": config.web_config_file,
        "web.enable-lifecycle": str(config.web_enable_lifecycle).lower(),
        "web.enable-admin-api": str(config.web_enable_admin_api).lower(),
        "web.cors.origin": config.web_cors_origin,
        "grpc.listen-address": config.grpc_listen,
        "log.level": config.log_level,
        "log.format": config.log_format,
    }.items()}  # a URL with a password (external URL) shows as <secret>


def runtime_info(config: ServerConfig, start_time: float, reload_ok: bool, last_config_time: float,
                 corruption_count: int) -> dict[str, Any]:
    """``/api/v1/status/runtimeinfo`` data with Prometheus's keys (times in Unix seconds; 0 = never); the
    thread count stands in for goroutines."""
    return {
        "startTime": format_rfc3339(start_time, "ms"),
        "CWD": os.getcwd(),
        "reloadConfigSuccess": reload_ok,
        "lastConfigTime": format_rfc3339(last_config_time, "s") if last_config_time else ZERO_TIME,
        "corruptionCount": corruption_count,
        "goroutineCount": threading.active_count(),
        "GOMAXPROCS": os.cpu_count() or 1,
        "GOMEMLIMIT": 0,
        "GOGC": "",
        "GODEBUG": "",
        "storageRetention": retention_text(config),
        "python": sys.version.split()[0],
    }
