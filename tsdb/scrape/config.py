"""The ``scrape:`` server config section: a subset of prometheus.yml's ``scrape_configs``.

``scrape: {global: {scrape_interval, scrape_timeout}, scrape_configs: [...]}`` or
``scrape: {config_file: prometheus.yml}`` (its ``global`` and ``scrape_configs`` are used). Unknown
fields are reported with their path, never ignored silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tsdb.config import config_int, config_list, config_mapping, parse_duration_ms
from tsdb.errors import ConfigError, TsdbError
from tsdb.scrape.relabel import RelabelRule, parse_rules
from tsdb.secrets import yaml_error_text

_JOB_KEYS = {"job_name", "scrape_interval", "scrape_timeout", "metrics_path", "scheme", "params", "basic_auth",
             "authorization", "tls_config", "honor_labels", "honor_timestamps", "static_configs", "file_sd_configs",
             "relabel_configs", "metric_relabel_configs", "sample_limit", "label_limit", "label_name_length_limit",
             "label_value_length_limit", "body_size_limit"}


@dataclass(frozen=True)
class StaticGroup:
    targets: tuple[str, ...]
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JobConfig:
    """One scrape job."""

    job_name: str
    interval_ms: int = 60_000
    timeout_ms: int = 10_000
    metrics_path: str = "/metrics"
    scheme: str = "http"
    params: dict[str, list[str]] = field(default_factory=dict)
    basic_auth: tuple[str, str] | None = None
    bearer_token: str = ""
    verify_tls: bool = True
    ca_file: str = ""
    honor_labels: bool = False
    honor_timestamps: bool = True
    static: tuple[StaticGroup, ...] = ()
    file_sd: tuple[str, ...] = ()
    file_sd_refresh_ms: int = 300_000
    relabel: tuple[RelabelRule, ...] = ()
    metric_relabel: tuple[RelabelRule, ...] = ()
    sample_limit: int = 0
    label_limit: int = 0
    label_name_length_limit: int = 0
    label_value_length_limit: int = 0
    body_size_limit: int = 0  # bytes of (uncompressed) response body; 0 = no limit


_SIZE_UNITS = {"": 1, "B": 1, "KB": 1 << 10, "KIB": 1 << 10, "MB": 1 << 20, "MIB": 1 << 20, "GB": 1 << 30,
               "GIB": 1 << 30, "TB": 1 << 40, "TIB": 1 << 40}


def parse_size_bytes(value: Any, where: str) -> int:
    """A size as Prometheus writes it (``"10MB"``, ``"512KiB"``, base 2; or plain bytes) -> bytes."""
    text = str(value).strip()
    digits = text.rstrip("BbKkMmGgTtIi")
    unit = text[len(digits):].upper()
    try:
        number = int(digits)
    except ValueError:
        number = -1
    if number < 0 or unit not in _SIZE_UNITS:
        raise ConfigError(f"{where}: invalid size {value!r} (expected e.g. 10MB, 512KiB or a number of bytes)")
    return number * _SIZE_UNITS[unit]


def _dur(value: Any, where: str) -> int:
    try:
        return parse_duration_ms(value, where)
    except TsdbError as err:
        raise ConfigError(str(err)) from err


def parse_job(raw: Any, defaults: dict[str, int], where: str) -> JobConfig:
    if not isinstance(raw, dict) or not raw.get("job_name"):
        raise ConfigError(f"{where}: job_name is required")
    where = f"{where}[{raw['job_name']}]"
    unknown = sorted(set(map(str, raw)) - _JOB_KEYS)
    if unknown:
        raise ConfigError(f"{where}: field {unknown[0]} not found (or not supported) in a scrape config")
    interval = _dur(raw["scrape_interval"], f"{where}.scrape_interval") if raw.get("scrape_interval") \
        else defaults["interval"]
    timeout = _dur(raw["scrape_timeout"], f"{where}.scrape_timeout") if raw.get("scrape_timeout") \
        else min(defaults["timeout"], interval)
    if timeout > interval:
        raise ConfigError(f"{where}: scrape timeout greater than scrape interval")
    body_limit = parse_size_bytes(raw["body_size_limit"], f"{where}.body_size_limit") \
        if raw.get("body_size_limit") else defaults["body_size_limit"]
    static = []
    for i, group in enumerate(config_list(raw.get("static_configs"), f"{where}.static_configs")):
        group = config_mapping(group, f"{where}.static_configs[{i}]")
        targets = tuple(str(t) for t in config_list(group.get("targets"), f"{where}.static_configs[{i}].targets"))
        labels = config_mapping(group.get("labels"), f"{where}.static_configs[{i}].labels")
        static.append(StaticGroup(targets, {str(k): str(v) for k, v in labels.items()}))
    files: list[str] = []
    refresh = 300_000
    for i, sd in enumerate(config_list(raw.get("file_sd_configs"), f"{where}.file_sd_configs")):
        sd = config_mapping(sd, f"{where}.file_sd_configs[{i}]")
        files.extend(str(f) for f in config_list(sd.get("files"), f"{where}.file_sd_configs[{i}].files"))
        if sd.get("refresh_interval"):
            refresh = _dur(sd["refresh_interval"], f"{where}.file_sd_configs[{i}].refresh_interval")
    basic = config_mapping(raw.get("basic_auth") or None, f"{where}.basic_auth")
    auth = (str(basic.get("username") or ""), str(basic.get("password") or "")) if basic else None
    bearer = str(config_mapping(raw.get("authorization") or None, f"{where}.authorization").get("credentials") or "")
    tls = config_mapping(raw.get("tls_config") or None, f"{where}.tls_config")
    scheme = str(raw.get("scheme") or "http")
    if scheme not in ("http", "https"):
        raise ConfigError(f"{where}.scheme: must be http or https")
    params = {str(k): [str(x) for x in (v if isinstance(v, list) else [v])]
              for k, v in config_mapping(raw.get("params") or None, f"{where}.params").items()}
    limits = [config_int(raw.get(key), f"{where}.{key}") for key in (
        "sample_limit", "label_limit", "label_name_length_limit", "label_value_length_limit")]
    return JobConfig(str(raw["job_name"]), interval, timeout, str(raw.get("metrics_path") or "/metrics"), scheme,
                     params, auth, bearer, not bool(tls.get("insecure_skip_verify")), str(tls.get("ca_file") or ""),
                     bool(raw.get("honor_labels", False)), bool(raw.get("honor_timestamps", True)), tuple(static),
                     tuple(files), refresh, parse_rules(raw.get("relabel_configs"), f"{where}.relabel_configs"),
                     parse_rules(raw.get("metric_relabel_configs"), f"{where}.metric_relabel_configs"),
                     limits[0], limits[1], limits[2], limits[3],
                     body_limit)


def parse_scrape_section(section: dict[str, Any] | None) -> list[JobConfig]:
    """Jobs of the ``scrape`` section (see module docstring)."""
    section = dict(config_mapping(section or None, "scrape"))
    if section.get("config_file"):
        path = Path(section.pop("config_file"))
        try:
            prom = yaml.safe_load(path.read_text()) or {}
        except OSError as err:
            raise ConfigError(f"scrape.config_file {path}: {err}") from err
        except RecursionError:  # PyYAML composes nested collections recursively
            raise ConfigError(f"scrape.config_file {path}: invalid YAML: collections nested too deeply") from None
        except yaml.YAMLError as err:
            raise ConfigError(f"scrape.config_file {path}: invalid YAML: {yaml_error_text(err)}") from None
        section = {"global": prom.get("global") or {}, "scrape_configs": prom.get("scrape_configs") or [], **section}
    unknown = sorted(set(map(str, section)) - {"global", "scrape_configs"})
    if unknown:
        raise ConfigError(f"scrape: unknown key {unknown[0]!r} (known: config_file, global, scrape_configs)")
    glob = config_mapping(section.get("global") or None, "scrape.global")
    defaults = {"interval": _dur(glob.get("scrape_interval") or "1m", "scrape.global.scrape_interval"),
                "timeout": _dur(glob.get("scrape_timeout") or "10s", "scrape.global.scrape_timeout"),
                "body_size_limit": parse_size_bytes(glob.get("body_size_limit") or 0, "scrape.global.body_size_limit")}
    raw_jobs = config_list(section.get("scrape_configs") or None, "scrape.scrape_configs")
    jobs = [parse_job(raw, defaults, "scrape.scrape_configs") for raw in raw_jobs]
    names = [j.job_name for j in jobs]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise ConfigError(f"scrape.scrape_configs: found multiple scrape configs with job name {dup!r}")
    return jobs
