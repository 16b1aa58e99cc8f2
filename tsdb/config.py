"""Frozen option dataclasses (storage, query, server) and their YAML loading.

Durations in YAML use Prometheus syntax (``90d``, ``2h``, ``15s``) or plain seconds; inside, everything
is milliseconds. Unknown keys are an error naming the file and key, never silently ignored.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tsdb.errors import ConfigError
from tsdb.secrets import yaml_error_text
from tsdb.timefmt import try_parse_duration

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS



def parse_duration_ms(value: str | int | float, where: str = "duration") -> int:
    """``"90d"``/``"1h30m"``/``"0"`` or a number of seconds -> milliseconds."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a duration, got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) >= 9.2e15:  # beyond int64 milliseconds
            raise ConfigError(f"{where}: invalid duration {value!r} (not a finite number of seconds)")
        return int(value * 1000)
    ms = try_parse_duration(str(value).strip())
    if ms is None:
        raise ConfigError(f"{where}: invalid duration {value!r} (use e.g. 90d, 2h, 15s, 500ms)")
    return ms


def config_list(value: Any, where: str) -> list[Any]:
    """``value`` when it is a list, ``[]`` when absent (None); else ConfigError naming ``where``."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def config_mapping(value: Any, where: str) -> dict[Any, Any]:
    """``value`` when it is a mapping, ``{}`` when absent (None); else ConfigError naming ``where``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def config_int(value: Any, where: str) -> int:
    """A whole number (``0`` when absent); ConfigError naming ``where`` for anything else."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(f"{where}: expected a whole number, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{where}: expected a whole number, got {value!r}") from None


@dataclass(frozen=True)
class StorageOptions:
    """Storage options: retention, WAL, head chunks, compaction and downsampled tiers. All times in ms."""

    retention_ms: int = 90 * DAY_MS
    retention_bytes: int = 0
    """0 = no size-based retention."""
    block_range_ms: int = 2 * HOUR_MS
    out_of_order_window_ms: int = 10 * 60_000
    """How far behind the newest sample of a series a late sample is still stored: parallel senders
    (vmagent queues, OpenTelemetry collectors) deliver batches out of order. 0 refuses them as Prometheus does."""
    wal_segment_bytes: int = 128 << 20
    wal_fsync: str = "always"
    """"always" (fsync before a write is acknowledged), "never" (leave it to the OS), or a duration string
    like "1s" for periodic fsync."""
    wal_compression: str = "snappy"
    """"snappy" (records compressed as Prometheus's default ``--storage.tsdb.wal-compression`` does) or
    "none". Either way both kinds of record are read."""
    chunk_target_samples: int = 120
    compaction_interval_ms: int = 60_000
    max_block_range_ms: int = 31 * DAY_MS
    tiers_enabled: bool = True
    """Downsample old blocks into Parquet tiers (5m, 1h) and answer long-range queries from them."""
    tier_5m_after_ms: int = 40 * HOUR_MS
    tier_1h_after_ms: int = 10 * DAY_MS
    tier_retention_ms: int = 730 * DAY_MS

    def __post_init__(self) -> None:
        if self.block_range_ms <= 0 or self.block_range_ms % 1000:
            raise ConfigError(f"storage.block_range must be a positive whole number of seconds, got "
                              f"{self.block_range_ms} ms")
        if self.retention_ms <= 0:
            raise ConfigError("storage.retention must be positive")
        if min(self.tier_5m_after_ms, self.tier_1h_after_ms, self.tier_retention_ms) <= 0:
            raise ConfigError("storage.tier_5m_after, tier_1h_after and tier_retention must be positive")
        if self.out_of_order_window_ms < 0:
            raise ConfigError("storage.out_of_order_window must not be negative")
        if self.wal_fsync not in ("always", "never"):
            parse_duration_ms(self.wal_fsync, "storage.wal_fsync")
        if self.wal_compression not in ("snappy", "none"):
            raise ConfigError(f"storage.wal_compression: expected snappy or none, got {self.wal_compression!r}")

    def block_ranges(self) -> list[int]:
        """Compaction ranges: block range x 3^n up to min(max_block_range, 10% of retention)."""
        limit = min(self.max_block_range_ms, max(self.block_range_ms, self.retention_ms // 10))
        ranges = [self.block_range_ms]
        while ranges[-1] * 3 <= limit:
            ranges.append(ranges[-1] * 3)
        return ranges


@dataclass(frozen=True)
class QueryOptions:
    """PromQL engine limits and defaults."""

    lookback_delta_ms: int = 300_000
    timeout_ms: int = 120_000
    max_samples: int = 50_000_000
    max_points_per_series: int = 11_000
    default_subquery_step_ms: int = 60_000
    max_series: int = 500_000
    """Series one query may select (all its selectors together); past it the query fails (422). 0 = no limit."""
    max_concurrency: int = 0
    """Queries evaluated at once (HTTP and gRPC) on the query threads; more wait in line. 0 = the number of
    CPUs: queries are CPU-bound, and running more than the cores at once only makes each one slower."""
    max_queue: int = 100
    """Queries waiting for a slot; past it a query is refused at once (503), and one still waiting when its
    timeout ends is refused too. 0 = none wait."""
    thread_niceness: int = 19
    """How much lower the CPU priority of the query threads is than the rest of the server (Linux ``nice``,
    0-19): on a busy machine ingestion gets the cores first. 0 = the same priority."""
    write_share: float = 0.25
    """While remote-write requests are in flight, the share of one core's time the running queries get
    together (their threads pause at checkpoints for the rest), so that ingestion keeps its pace under heavy
    queries; 1 = queries never pause. Between 0.01 and 1."""
    result_cache_max_bytes: int = 128 << 20
    """Memory for cached range query results (steps older than 5 minutes, reused when a dashboard is opened
    again or refreshed); 0 disables the cache."""
    stores: tuple[StoreSpec, ...] = ()
    """Other nodes this one queries too (docs/global-view.md): URLs or mappings, see :class:`StoreSpec`."""
    replica_labels: tuple[str, ...] = ()
    """Labels telling replicas apart: series differing only in them are deduplicated into one. Empty = off."""
    partial_response: bool = True
    """A store that fails is skipped with a warning (True) or fails the query (False)."""
    store_timeout_ms: int = 30_000
    """Time one request to one store may take."""

    def __post_init__(self) -> None:
        _check_global_view(self)
        for name in ("max_series", "max_concurrency", "max_queue", "thread_niceness"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"query.{name}: expected a whole number >= 0, got {value!r}")
        if self.thread_niceness > 19:
            raise ConfigError(f"query.thread_niceness: expected 0 to 19, got {self.thread_niceness}")
        share = self.write_share
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0.01 <= share <= 1:
            raise ConfigError(f"query.write_share: expected a number from 0.01 to 1, got {share!r}")


@dataclass(frozen=True)
class IngestOptions:
    """Write limits (docs/ingest.md, "Limits"): requests and bytes in flight, and series limits.

    The in-flight limits answer 429 with ``Retry-After`` when passed; the series limits (0 = off) reject
    the samples of refused series as Prometheus rejects invalid samples: 400 after storing the rest.
    """

    max_inflight_requests: int = 64
    """Remote-write requests being read, decoded or stored at once; 0 = no limit."""
    max_inflight_bytes: int = 256 << 20
    """Compressed plus decompressed bytes of the remote-write requests in flight; 0 = no limit."""
    retry_after_ms: int = 5_000
    """What the ``Retry-After`` header of a 429 answer asks a sender to wait (whole seconds, at least 1)."""
    max_series: int = 0
    """Series in the head; new series past it are refused (existing ones keep ingesting). 0 = no limit."""
    max_series_per_metric: int = 0
    """Series of one metric name in the head; new series past it are refused. 0 = no limit."""
    max_label_names_per_series: int = 0
    max_label_name_length: int = 0
    """In UTF-8 bytes; 0 = no limit (as max_label_value_length)."""
    max_label_value_length: int = 0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"ingest.{f.name.removesuffix('_ms')}: expected a whole number >= 0, "
                                  f"got {value!r}")


def _check_listen(value: Any, where: str) -> None:
    """``""`` (off) or ``host:port``; ConfigError naming ``where`` otherwise."""
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected host:port, got {value!r}")
    if value:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or int(port) > 65535:
            raise ConfigError(f"{where}: expected host:port, got {value!r}")


@dataclass(frozen=True)
class InfluxOptions:
    """Listeners for InfluxDB line protocol over plain TCP and UDP (docs/integrations.md); "" = off. The HTTP
    endpoints ``/write`` and ``/api/v2/write`` are always on."""

    tcp_listen: str = ""
    udp_listen: str = ""

    def __post_init__(self) -> None:
        _check_listen(self.tcp_listen, "influx.tcp_listen")
        _check_listen(self.udp_listen, "influx.udp_listen")


@dataclass(frozen=True)
class GraphiteOptions:
    """Graphite plaintext listener (docs/integrations.md): TCP and UDP on ``listen``; "" = off."""

    listen: str = ""

    def __post_init__(self) -> None:
        _check_listen(self.listen, "graphite.listen")


TRANSLATION_STRATEGIES = ("UnderscoreEscapingWithSuffixes", "UnderscoreEscapingWithoutSuffixes")


@dataclass(frozen=True)
class OtlpOptions:
    """OTLP metrics ingestion (docs/integrations.md, "OpenTelemetry"), Prometheus's ``otlp`` section.

    ``promote_resource_attributes`` become labels of every series of their resource (the others only of
    ``target_info``); ``keep_identifying_resource_attributes`` keeps ``service.name``, ``service.namespace``
    and ``service.instance.id`` on ``target_info`` too; ``promote_scope_metadata`` adds ``otel_scope_*``
    labels; ``convert_delta_to_cumulative`` accumulates delta sums and histograms per series in memory
    (off: they are rejected, as Prometheus does without its delta feature flags).
    """

    promote_resource_attributes: tuple[str, ...] = ()
    keep_identifying_resource_attributes: bool = False
    promote_scope_metadata: bool = False
    translation_strategy: str = "UnderscoreEscapingWithSuffixes"
    convert_delta_to_cumulative: bool = True

    def __post_init__(self) -> None:
        attrs = self.promote_resource_attributes
        if isinstance(attrs, str) or not isinstance(attrs, list | tuple):
            raise ConfigError(f"otlp.promote_resource_attributes: expected a list of attribute names, got {attrs!r}")
        cleaned: list[str] = []
        for item in attrs:
            if not isinstance(item, str) or not item.strip():
                raise ConfigError(f"otlp.promote_resource_attributes: expected attribute names, got {item!r}")
            if item.strip() in cleaned:
                raise ConfigError(f"otlp.promote_resource_attributes: duplicated attribute {item.strip()!r}")
            cleaned.append(item.strip())
        object.__setattr__(self, "promote_resource_attributes", tuple(cleaned))
        for name in ("keep_identifying_resource_attributes", "promote_scope_metadata", "convert_delta_to_cumulative"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"otlp.{name}: expected true or false, got {getattr(self, name)!r}")
        if self.translation_strategy not in TRANSLATION_STRATEGIES:
            raise ConfigError(f"otlp.translation_strategy: unsupported {self.translation_strategy!r} "
                              f"(one of {', '.join(TRANSLATION_STRATEGIES)})")


@dataclass(frozen=True)
class StatsdOptions:
    """The StatsD / DogStatsD listener (docs/integrations.md); off unless ``listen`` or ``unix_socket`` is set.
    Changing it needs a restart."""

    listen: str = ""
    """UDP ``host:port`` to receive on (e.g. ``127.0.0.1:8125``); "" = no UDP listener."""
    unix_socket: str = ""
    """Path of a Unix datagram socket to receive on as well; "" = none."""
    flush_interval_ms: int = 10_000
    """How often aggregated values are written (each sample is stamped with the flush time)."""
    quantiles: list[float] = field(default_factory=lambda: [0.5, 0.9, 0.99])
    """Quantiles of the summaries timers, histograms and distributions become."""

    def __post_init__(self) -> None:
        for key in ("listen", "unix_socket"):
            if not isinstance(getattr(self, key), str):
                raise ConfigError(f"statsd.{key}: expected a string, got {getattr(self, key)!r}")
        _check_listen(self.listen, "statsd.listen")
        if isinstance(self.flush_interval_ms, bool) or not isinstance(self.flush_interval_ms, int) \
                or self.flush_interval_ms <= 0:
            raise ConfigError(f"statsd.flush_interval: expected a positive duration, got {self.flush_interval_ms!r}")
        quantiles = config_list(self.quantiles, "statsd.quantiles")
        for q in quantiles:
            if isinstance(q, bool) or not isinstance(q, int | float) or not 0 <= q <= 1:
                raise ConfigError(f"statsd.quantiles: expected numbers from 0 to 1, got {q!r}")
        object.__setattr__(self, "quantiles", [float(q) for q in quantiles])

    @property
    def enabled(self) -> bool:
        return bool(self.listen or self.unix_socket)


@dataclass(frozen=True)
class DatadogOptions:
    """DataDog HTTP ingestion (docs/integrations.md, "DataDog"): how metric names and tags become series.
    Read per request (a reload applies it)."""

    dots_to_underscores: bool = True
    """``system.load.1`` -> ``system_load_1``, as the DogStatsD listener names metrics; false keeps the dots
    (the other characters outside ``[a-zA-Z0-9_.]`` still become ``_``)."""
    extra_labels: dict[str, str] = field(default_factory=dict)
    """Labels added to every series ingested over DataDog's endpoints (a tag of the same name becomes
    ``exported_<name>``)."""

    def __post_init__(self) -> None:
        if not isinstance(self.dots_to_underscores, bool):
            raise ConfigError(f"datadog.dots_to_underscores: expected true or false, got {self.dots_to_underscores!r}")
        if not isinstance(self.extra_labels, dict):
            raise ConfigError(f"datadog.extra_labels: expected a mapping of label names to values, "
                              f"got {self.extra_labels!r}")
        for name, value in self.extra_labels.items():
            if not isinstance(name, str) or not (name.isascii() and name.isidentifier()) or name.startswith("__") \
                    or not isinstance(value, str):
                raise ConfigError(f"datadog.extra_labels: expected label names and string values, "
                                  f"got {name!r}: {value!r}")


@dataclass(frozen=True)
class ServerConfig:
    """Everything ``tsdb serve`` needs."""

    data_dir: str = "./tsdb-data"
    http_listen: str = "127.0.0.1:9201"
    grpc_listen: str = "127.0.0.1:9202"
    max_body_bytes: int = 64 << 20
    log_level: str = "info"
    log_format: str = "json"
    storage: StorageOptions = field(default_factory=StorageOptions)
    query: QueryOptions = field(default_factory=QueryOptions)
    ingest: IngestOptions = field(default_factory=IngestOptions)
    influx: InfluxOptions = field(default_factory=InfluxOptions)
    graphite: GraphiteOptions = field(default_factory=GraphiteOptions)
    otlp: OtlpOptions = field(default_factory=OtlpOptions)
    statsd: StatsdOptions = field(default_factory=StatsdOptions)
    datadog: DatadogOptions = field(default_factory=DatadogOptions)
    # URL under which users reach this server (alert links, generatorURL); default http://<http_listen>.
    external_url: str = ""
    # Labels added to alerts and remote-sent data, as Prometheus's global.external_labels.
    external_labels: dict[str, str] = field(default_factory=dict)
    # Component sections, kept raw here and validated by their owners when the server builds them:
    # ``rules`` (tsdb/rules) and ``slos``, ``notifications`` (tsdb/alerting), ``scrape`` and ``collect`` (tsdb/scrape),
    # ``dashboards`` (tsdb/ui).
    rules: dict[str, Any] = field(default_factory=dict)
    notifications: dict[str, Any] = field(default_factory=dict)
    scrape: dict[str, Any] = field(default_factory=dict)
    collect: dict[str, Any] = field(default_factory=dict)
    dashboards: dict[str, Any] = field(default_factory=dict)
    # ``slos`` (tsdb/slo/config.py): SLO specs whose generated rules the rule engine runs.
    slos: dict[str, Any] = field(default_factory=dict)
    # ``cluster`` (tsdb/server/components/cluster.py): the notification cluster through etcd (docs/scaling.md).
    cluster: dict[str, Any] = field(default_factory=dict)
    # ``remote_write`` (tsdb/remote/config.py): remotes every stored sample is forwarded to, as Prometheus's.
    remote_write: list[Any] = field(default_factory=list)
    # Web security (docs/security.md): the web config file in Prometheus's format (TLS, basic auth, headers),
    # roles of its users (a tsdb extension: user -> read|write|admin), and Prometheus's --web.* flags.
    web_config_file: str = ""
    web_roles: dict[str, str] = field(default_factory=dict)
    web_enable_lifecycle: bool = False
    web_enable_admin_api: bool = False
    web_cors_origin: str = ".*"
    # The config file's directory (set by load_server_config, not a YAML key): relative file globs of
    # component sections that say so (``dashboards.paths``) are resolved against it; "" = the working directory.
    config_dir: str = ""
    # Object storage (docs/object-storage.md): ``bucket`` ships blocks and tier files, ``store`` serves them.
    bucket: BucketOptions = field(default_factory=lambda: BucketOptions())
    store: StoreOptions = field(default_factory=lambda: StoreOptions())


    def __post_init__(self) -> None:
        if self.store.enabled and not self.bucket.enabled:
            raise ConfigError("store.enabled: serving from object storage needs a bucket section (bucket.bucket)")
        roles = ("read", "write", "admin")
        if not isinstance(self.web_roles, dict):
            raise ConfigError("web_roles: expected a mapping of user to read, write or admin")
        for user, role in self.web_roles.items():
            if role not in roles:
                raise ConfigError(f"web_roles.{user}: unknown role {role!r} (one of {', '.join(roles)})")


_SECTIONS = {"storage": StorageOptions, "query": QueryOptions, "ingest": IngestOptions, "influx": InfluxOptions,
             "graphite": GraphiteOptions, "otlp": OtlpOptions, "statsd": StatsdOptions,
             "datadog": DatadogOptions}
_NOT_YAML = {"config_dir"}  # fields set by the loader, never read from the file
_DURATION_SUFFIX = "_ms"


def _build(cls: type, raw: dict[str, Any], where: str) -> Any:
    """Build a dataclass from YAML keys; ``foo`` maps to field ``foo_ms`` with a duration value."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        name = str(key)
        if name in _SECTIONS and name in fields and cls is ServerConfig:
            kwargs[name] = _build(_SECTIONS[name], value or {}, f"{where}.{name}")
        elif f"{name}{_DURATION_SUFFIX}" in fields:
            kwargs[f"{name}{_DURATION_SUFFIX}"] = parse_duration_ms(value, f"{where}.{name}")
        elif name in fields and not name.endswith(_DURATION_SUFFIX) and name not in _NOT_YAML:
            kwargs[name] = value
        else:
            known = sorted(n.removesuffix(_DURATION_SUFFIX) for n in fields if n not in _NOT_YAML)
            raise ConfigError(f"{where}: unknown key {name!r} (known: {', '.join(known)})")
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ConfigError(f"{where}: {err}") from err


def load_server_config(path: str | Path, overrides: dict[str, Any] | None = None) -> ServerConfig:
    """Read a YAML server config; ``overrides`` (from command-line flags) win over the file."""
    source = Path(path)
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise ConfigError(f"{source}: cannot read config: {err}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"{source}: not UTF-8 text (byte {err.start})") from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise ConfigError(f"{source}: invalid YAML: collections nested too deeply") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{source}: invalid YAML: {yaml_error_text(err)}") from None
    config: ServerConfig = _build(ServerConfig, prometheus_global(raw, str(source)), str(source))
    config = dataclasses.replace(config, config_dir=str(source.resolve().parent))
    return dataclasses.replace(config, **(overrides or {}))


def prometheus_global(raw: Any, where: str) -> Any:
    """``raw`` with Prometheus's ``global.external_labels`` moved to tsdb's top-level ``external_labels`` (the
    spelling ``/api/v1/status/config`` prints, so its YAML loads back); ``global`` may hold nothing else."""
    if not isinstance(raw, dict) or "global" not in raw:
        return raw
    section = raw["global"] or {}
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: global: expected a mapping, got {type(section).__name__}")
    unknown = sorted(str(k) for k in section if k != "external_labels")
    if unknown:
        raise ConfigError(f"{where}: global: unknown key {unknown[0]!r} (known: external_labels)")
    if "external_labels" in section and "external_labels" in raw:
        raise ConfigError(f"{where}: external_labels given twice (top level and global.external_labels)")
    out = {k: v for k, v in raw.items() if k != "global"}
    if "external_labels" in section:
        out["external_labels"] = section["external_labels"]
    return out


@dataclass(frozen=True)
class BasicAuth:
    """HTTP basic authentication of a store."""

    username: str
    password: str = ""


@dataclass(frozen=True)
class Authorization:
    """An ``Authorization: <type> <credentials>`` header sent to a store."""

    credentials: str
    type: str = "Bearer"


@dataclass(frozen=True)
class StoreTls:
    """TLS settings for an ``https://`` store, as Prometheus's ``tls_config``."""

    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    insecure_skip_verify: bool = False


@dataclass(frozen=True)
class StoreSpec:
    """One entry of ``query.stores``: a node's base URL and how to reach it. ``name`` (default: the URL
    without credentials) names the store in warnings, errors and metrics."""

    url: str
    name: str = ""
    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    tls_config: StoreTls | None = None


_STORE_KEYS = ("url", "name", "basic_auth", "authorization", "tls_config")
_TLS_KEYS = ("ca_file", "cert_file", "key_file", "insecure_skip_verify")


def parse_store(raw: Any, where: str) -> StoreSpec:
    """A ``query.stores`` entry (a URL string or a mapping of :data:`_STORE_KEYS`) as a :class:`StoreSpec`;
    ConfigError naming ``where`` and the offending key."""
    if isinstance(raw, StoreSpec):
        return raw
    entry = {"url": raw} if isinstance(raw, str) else raw
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a URL or a mapping with url, got {type(raw).__name__}")
    unknown = sorted(str(k) for k in entry if k not in _STORE_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(_STORE_KEYS)})")
    url = entry.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url.split("://", 1)[1]) == 0:
        raise ConfigError(f"{where}: expected a URL (http:// or https://) of a tsdb or Prometheus node, got {url!r}")
    name = entry.get("name") or ""
    if not isinstance(name, str):
        raise ConfigError(f"{where}.name: expected a string, got {type(name).__name__}")
    basic_auth = authorization = tls = None
    if entry.get("basic_auth") is not None:
        basic = config_mapping(entry["basic_auth"], f"{where}.basic_auth")
        user, password = basic.get("username"), basic.get("password", "")
        if set(basic) - {"username", "password"} or not isinstance(user, str) or not user or \
                not isinstance(password, str):
            raise ConfigError(f"{where}.basic_auth: expected username and password strings")
        basic_auth = BasicAuth(user, password)
    if entry.get("authorization") is not None:
        auth = config_mapping(entry["authorization"], f"{where}.authorization")
        kind, credentials = auth.get("type", "Bearer"), auth.get("credentials")
        if set(auth) - {"type", "credentials"} or not isinstance(kind, str) or not isinstance(credentials, str) \
                or not credentials:
            raise ConfigError(f"{where}.authorization: expected credentials (and an optional type) as strings")
        authorization = Authorization(credentials, kind)
    if basic_auth and authorization:
        raise ConfigError(f"{where}: at most one of basic_auth and authorization")
    if entry.get("tls_config") is not None:
        tls_raw = config_mapping(entry["tls_config"], f"{where}.tls_config")
        for key, value in tls_raw.items():
            if key not in _TLS_KEYS:
                raise ConfigError(f"{where}.tls_config: unknown key {key!r} (known: {', '.join(_TLS_KEYS)})")
            if not isinstance(value, bool if key == "insecure_skip_verify" else str):
                raise ConfigError(f"{where}.tls_config.{key}: expected a "
                                  f"{'boolean' if key == 'insecure_skip_verify' else 'string'}, got {value!r}")
        tls = StoreTls(**tls_raw)
    return StoreSpec(url.rstrip("/"), name or _without_credentials(url.rstrip("/")), basic_auth, authorization, tls)


def _without_credentials(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"


def _check_global_view(options: QueryOptions) -> None:
    """Validate and normalise the ``query.stores`` family of :class:`QueryOptions` in place."""
    stores = config_list(list(options.stores) if isinstance(options.stores, tuple) else options.stores,
                         "query.stores")
    specs = tuple(parse_store(raw, f"query.stores[{i}]") for i, raw in enumerate(stores))
    names = [s.name for s in specs]
    for i, n in enumerate(names):
        if n in names[:i]:
            raise ConfigError(f"query.stores[{i}]: duplicate store {n!r} (give each a distinct name)")
    object.__setattr__(options, "stores", specs)
    replicas = config_list(list(options.replica_labels) if isinstance(options.replica_labels, tuple)
                           else options.replica_labels, "query.replica_labels")
    for i, label in enumerate(replicas):
        if not isinstance(label, str) or not label or label == "__name__":
            raise ConfigError(f"query.replica_labels[{i}]: expected a label name, got {label!r}")
    object.__setattr__(options, "replica_labels", tuple(replicas))
    if not isinstance(options.partial_response, bool):
        raise ConfigError(f"query.partial_response: expected true or false, got {options.partial_response!r}")
    if isinstance(options.store_timeout_ms, bool) or not isinstance(options.store_timeout_ms, int) or \
            options.store_timeout_ms <= 0:
        raise ConfigError(f"query.store_timeout: expected a positive duration, got {options.store_timeout_ms!r}")


_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class BucketOptions:
    """S3-compatible object storage for long-term storage (docs/object-storage.md); off while ``bucket`` is "".

    ``endpoint`` is ``http(s)://host[:port]`` or ``host[:port]`` (HTTPS unless ``insecure``); plain HTTP needs
    ``insecure: true``. Without ``access_key``/``secret_key`` the AWS default credentials are used.
    ``local_retention`` is how long a shipped block stays on local disk (0 = kept until retention)."""

    endpoint: str = ""
    bucket: str = ""
    prefix: str = ""
    region: str = "us-east-1"
    access_key: str = ""
    secret_key: str = ""
    insecure: bool = False
    upload_interval_ms: int = 30_000
    local_retention_ms: int = 0

    def __post_init__(self) -> None:
        for name in ("endpoint", "bucket", "prefix", "region", "access_key", "secret_key"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(f"bucket.{name}: expected a string, got {type(getattr(self, name)).__name__}")
        if not isinstance(self.insecure, bool):
            raise ConfigError(f"bucket.insecure: expected true or false, got {self.insecure!r}")
        if self.bucket and not _BUCKET_NAME.match(self.bucket):
            raise ConfigError(f"bucket.bucket: invalid bucket name {self.bucket!r} (3-63 lowercase letters, "
                              "digits, dots and hyphens)")
        if self.endpoint:
            scheme, _, rest = self.endpoint.rpartition("://")
            host, _, port = rest.rstrip("/").partition(":")
            if scheme not in ("", "http", "https") or not host or "/" in rest.rstrip("/") \
                    or (port and (not port.isdigit() or not 0 < int(port) < 65536)):
                raise ConfigError(f"bucket.endpoint: expected http(s)://host[:port], got {self.endpoint!r}")
            if scheme == "http" and not self.insecure:
                raise ConfigError("bucket.insecure: the endpoint uses plain http://; set insecure: true to allow it")
        if bool(self.access_key) != bool(self.secret_key):
            missing = "secret_key" if self.access_key else "access_key"
            raise ConfigError(f"bucket.{missing}: access_key and secret_key go together")
        if any(part in ("", ".", "..") for part in self.prefix.split("/")) and self.prefix:
            raise ConfigError(f"bucket.prefix: expected path segments without empty, '.' or '..' parts "
                              f"(no leading or trailing '/'), got {self.prefix!r}")
        if self.upload_interval_ms <= 0:
            raise ConfigError("bucket.upload_interval: must be positive")
        if self.local_retention_ms < 0:
            raise ConfigError("bucket.local_retention: must not be negative (0 keeps shipped blocks)")
        if self.bucket and not self.endpoint and self.insecure:
            raise ConfigError("bucket.insecure: needs an endpoint")

    @property
    def enabled(self) -> bool:
        return bool(self.bucket)

    @property
    def scheme(self) -> str:
        """``http`` or ``https``: from the endpoint, else HTTPS unless ``insecure``."""
        scheme = self.endpoint.rpartition("://")[0]
        return scheme or ("http" if self.insecure else "https")

    @property
    def host(self) -> str:
        """The endpoint's ``host[:port]`` ("" = AWS's endpoint for the region)."""
        return self.endpoint.rpartition("://")[2].rstrip("/")


@dataclass(frozen=True)
class StoreOptions:
    """Serving blocks and tier files straight from the bucket (docs/object-storage.md, "Store mode").

    ``only`` (``tsdb serve --store-only``) serves the bucket alone: no local ingestion. ``cache_dir`` (default
    ``<data dir>/bucket-cache``) holds downloaded blocks, at most ``cache_max_bytes`` (least recently used
    blocks go first); ``refresh_interval`` is how often the bucket is listed for new blocks."""

    enabled: bool = False
    only: bool = False
    cache_dir: str = ""
    cache_max_bytes: int = 1 << 30
    refresh_interval_ms: int = 60_000

    def __post_init__(self) -> None:
        for name in ("enabled", "only"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"store.{name}: expected true or false, got {getattr(self, name)!r}")
        if not isinstance(self.cache_dir, str):
            raise ConfigError(f"store.cache_dir: expected a directory path, got {self.cache_dir!r}")
        if isinstance(self.cache_max_bytes, bool) or not isinstance(self.cache_max_bytes, int) \
                or self.cache_max_bytes <= 0:
            raise ConfigError(f"store.cache_max_bytes: expected a positive whole number, got {self.cache_max_bytes!r}")
        if self.refresh_interval_ms <= 0:
            raise ConfigError("store.refresh_interval: must be positive")
        if self.only and not self.enabled:
            raise ConfigError("store.only: needs store.enabled: true")


_SECTIONS["bucket"] = BucketOptions
_SECTIONS["store"] = StoreOptions
