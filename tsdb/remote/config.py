"""The ``remote_write:`` section: Prometheus's remote-write options, validated into frozen dataclasses.

:func:`parse_remote_write` turns the raw YAML list into :class:`RemoteWriteConfig` items; every error names
its field (``remote_write[1].queue_config.max_shards: must be >= 1``). ``send_exemplars``,
``send_native_histograms`` and ``metadata_config`` are accepted and ignored (tsdb stores neither exemplars
nor native histograms, and sends no metadata), as are ``follow_redirects``, ``enable_http2``,
``round_robin_dns`` and ``queue_config.sample_age_limit`` (queued samples are sent whatever their age).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tsdb.config import config_mapping, parse_duration_ms
from tsdb.errors import ConfigError
from tsdb.scrape.relabel import RelabelRule, parse_rules
from tsdb.secrets import redact_url

DEFAULT_MAX_DISK_BYTES = 1 << 30
_IGNORED = {"send_exemplars", "send_native_histograms", "metadata_config", "round_robin_dns", "follow_redirects",
            "enable_http2"}
_KEYS = {"url", "name", "remote_timeout", "headers", "write_relabel_configs", "basic_auth", "authorization",
         "bearer_token", "bearer_token_file", "tls_config", "queue_config", "max_disk_bytes", *_IGNORED}
_QUEUE_KEYS = {"capacity", "max_shards", "min_shards", "max_samples_per_send", "batch_send_deadline",
               "min_backoff", "max_backoff", "retry_on_http_429", "sample_age_limit"}
_TLS_KEYS = {"ca_file", "cert_file", "key_file", "insecure_skip_verify", "server_name", "min_version"}
# headers Prometheus refuses in ``headers`` (the sender sets them)
_RESERVED_HEADERS = {"authorization", "host", "content-encoding", "content-length", "content-type", "user-agent",
                     "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "www-authenticate",
                     "retry-after", "x-prometheus-remote-write-version"}
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class QueueConfig:
    """Prometheus's ``queue_config``; durations in milliseconds."""

    capacity: int = 10_000
    max_shards: int = 50
    min_shards: int = 1
    max_samples_per_send: int = 2_000
    batch_send_deadline_ms: int = 5_000
    min_backoff_ms: int = 30
    max_backoff_ms: int = 5_000
    retry_on_http_429: bool = True


@dataclass(frozen=True)
class TLSConfig:
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    server_name: str = ""
    insecure_skip_verify: bool = False


@dataclass(frozen=True)
class RemoteWriteConfig:
    """One ``remote_write`` entry. ``queue_dir`` names its queue directory under ``<data dir>/remote_write``."""

    url: str
    name: str = ""
    remote_timeout_ms: int = 30_000
    headers: tuple[tuple[str, str], ...] = ()
    write_relabel_configs: tuple[RelabelRule, ...] = ()
    basic_auth: tuple[str, str] | None = None
    """(username, password); the password already read from ``password_file`` when given."""
    authorization: tuple[str, str] | None = None
    """(type, credentials), ``bearer_token`` included as ``("Bearer", token)``."""
    tls: TLSConfig = field(default_factory=TLSConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)
    max_disk_bytes: int = DEFAULT_MAX_DISK_BYTES
    """A tsdb extension: the most bytes the remote's on-disk queue holds; past it the oldest data is dropped."""
    raw: tuple[tuple[str, Any], ...] = ()
    """The entry as written (to compare configurations on reload)."""

    @property
    def remote_name(self) -> str:
        """``name``, or the first 6 hex digits of the URL's hash (Prometheus's label for an unnamed remote)."""
        return self.name or url_hash(self.url)[:6]

    @property
    def queue_dir(self) -> str:
        return self.name or url_hash(self.url)


def url_label(url: str) -> str:
    """The ``url`` label and log field: the URL without its user information (which may hold a password)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def _read_file(path: Any, where: str) -> str:
    try:
        with open(str(path), encoding="utf-8") as f:
            return f.read().strip()
    except OSError as err:
        raise ConfigError(f"{where}: cannot read {path}: {err.strerror}") from None


def _positive_int(value: Any, where: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: expected a whole number, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{where}: must be >= {minimum}")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    return value


def _unknown(raw: dict[Any, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(map(str, raw)) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")


def _queue(raw: Any, where: str) -> QueueConfig:
    raw = config_mapping(raw, where)
    _unknown(raw, _QUEUE_KEYS, where)
    defaults = QueueConfig()
    ints = {key: _positive_int(raw[key], f"{where}.{key}", 1) if key in raw else getattr(defaults, key)
            for key in ("capacity", "max_shards", "min_shards", "max_samples_per_send")}
    durations = {}
    for key in ("batch_send_deadline", "min_backoff", "max_backoff"):
        ms = parse_duration_ms(raw[key], f"{where}.{key}") if key in raw else getattr(defaults, f"{key}_ms")
        if ms <= 0:
            raise ConfigError(f"{where}.{key}: must be positive")
        durations[f"{key}_ms"] = ms
    if ints["min_shards"] > ints["max_shards"]:
        raise ConfigError(f"{where}.min_shards: must be <= max_shards ({ints['max_shards']})")
    if durations["min_backoff_ms"] > durations["max_backoff_ms"]:
        raise ConfigError(f"{where}.min_backoff: must be <= max_backoff")
    retry = _bool(raw.get("retry_on_http_429", True), f"{where}.retry_on_http_429")
    return QueueConfig(retry_on_http_429=retry, **ints, **durations)


def _tls(raw: Any, where: str) -> TLSConfig:
    raw = config_mapping(raw, where)
    _unknown(raw, _TLS_KEYS, where)
    for key in ("ca_file", "cert_file", "key_file"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise ConfigError(f"{where}.{key}: expected a file name, got {raw[key]!r}")
    if bool(raw.get("cert_file")) != bool(raw.get("key_file")):
        raise ConfigError(f"{where}: cert_file and key_file must be given together")
    return TLSConfig(ca_file=raw.get("ca_file") or "", cert_file=raw.get("cert_file") or "",
                     key_file=raw.get("key_file") or "", server_name=str(raw.get("server_name") or ""),
                     insecure_skip_verify=_bool(raw.get("insecure_skip_verify", False),
                                                f"{where}.insecure_skip_verify"))


def _auth(raw: dict[Any, Any], where: str) -> tuple[tuple[str, str] | None, tuple[str, str] | None]:
    given = [key for key in ("basic_auth", "authorization", "bearer_token", "bearer_token_file") if raw.get(key)]
    if len(given) > 1:
        raise ConfigError(f"{where}: at most one of basic_auth, authorization, bearer_token and bearer_token_file "
                          f"may be set (got {', '.join(given)})")
    basic = authorization = None
    if raw.get("basic_auth"):
        w = f"{where}.basic_auth"
        ba = config_mapping(raw["basic_auth"], w)
        _unknown(ba, {"username", "password", "password_file", "username_file"}, w)
        if ba.get("password") and ba.get("password_file"):
            raise ConfigError(f"{w}: at most one of password and password_file may be set")
        user = _read_file(ba["username_file"], f"{w}.username_file") if ba.get("username_file") \
            else str(ba.get("username") or "")
        password = _read_file(ba["password_file"], f"{w}.password_file") if ba.get("password_file") \
            else str(ba.get("password") or "")
        basic = (user, password)
    elif raw.get("authorization"):
        w = f"{where}.authorization"
        au = config_mapping(raw["authorization"], w)
        _unknown(au, {"type", "credentials", "credentials_file"}, w)
        kind = str(au.get("type") or "Bearer")
        if kind.lower() == "basic":
            raise ConfigError(f"{w}.type: authorization type cannot be set to \"basic\", use \"basic_auth\" instead")
        creds = _read_file(au["credentials_file"], f"{w}.credentials_file") if au.get("credentials_file") \
            else str(au.get("credentials") or "")
        authorization = (kind, creds)
    elif raw.get("bearer_token"):
        authorization = ("Bearer", str(raw["bearer_token"]))
    elif raw.get("bearer_token_file"):
        authorization = ("Bearer", _read_file(raw["bearer_token_file"], f"{where}.bearer_token_file"))
    return basic, authorization


def _headers(raw: Any, where: str) -> tuple[tuple[str, str], ...]:
    headers = config_mapping(raw, where)
    out = []
    for key, value in headers.items():
        if str(key).lower() in _RESERVED_HEADERS:
            raise ConfigError(f"{where}.{key}: {key} is a reserved header; it cannot be changed")
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ConfigError(f"{where}.{key}: expected a string, got {value!r}")
        out.append((str(key), str(value)))
    return tuple(out)


def _entry(raw: Any, where: str) -> RemoteWriteConfig:
    raw = config_mapping(raw, where)
    _unknown(raw, _KEYS, where)
    url = raw.get("url")
    if not isinstance(url, str) or not url:
        raise ConfigError(f"{where}.url: a URL is required")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}.url: expected an http:// or https:// URL")
    name = raw.get("name") or ""
    if not isinstance(name, str) or (name and not _NAME.match(name)):
        raise ConfigError(f"{where}.name: expected letters, digits, '_', '.' or '-', got {name!r}")
    timeout = parse_duration_ms(raw.get("remote_timeout", "30s"), f"{where}.remote_timeout")
    if timeout <= 0:
        raise ConfigError(f"{where}.remote_timeout: must be positive")
    max_disk = raw.get("max_disk_bytes", DEFAULT_MAX_DISK_BYTES)
    basic, authorization = _auth(raw, where)
    return RemoteWriteConfig(
        url=url, name=name, remote_timeout_ms=timeout, headers=_headers(raw.get("headers"), f"{where}.headers"),
        write_relabel_configs=parse_rules(raw.get("write_relabel_configs"), f"{where}.write_relabel_configs"),
        basic_auth=basic, authorization=authorization, tls=_tls(raw.get("tls_config"), f"{where}.tls_config"),
        queue=_queue(raw.get("queue_config"), f"{where}.queue_config"),
        max_disk_bytes=_positive_int(max_disk, f"{where}.max_disk_bytes", 1 << 20),
        raw=tuple(sorted((str(k), repr(v)) for k, v in raw.items())))


def parse_remote_write(raw: Any, where: str = "remote_write") -> tuple[RemoteWriteConfig, ...]:
    """Validate the ``remote_write`` list; ConfigError naming the field (``remote_write[1].url: ...``).
    Names and queue directories must be unique (two unnamed entries must have different URLs)."""
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple):
        raise ConfigError(f"{where}: expected a list, got {type(raw).__name__}")
    entries = [_entry(item, f"{where}[{i}]") for i, item in enumerate(raw)]
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        if entry.queue_dir in seen:
            what = f"name {entry.name!r}" if entry.name else f"url {redact_url(entry.url)!r}"
            raise ConfigError(f"{where}[{i}]: duplicate remote write {what} (also {where}[{seen[entry.queue_dir]}])")
        seen[entry.queue_dir] = i
    return tuple(entries)
