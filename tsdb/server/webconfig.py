"""The web configuration file (``--web.config.file``) in Prometheus's format: TLS, HTTP headers, basic auth.

The keys are exporter-toolkit's (``tls_server_config``, ``http_server_config``, ``basic_auth_users``), so
the files people already have (and that ``promtool check web-config`` accepts) work unchanged. What
Python's ``ssl`` cannot do is refused with an error naming the key, never silently dropped. Relative file
paths resolve against the web config file's directory, as in Prometheus.

:class:`WebConfigWatcher` re-reads the file when its modification time or size changes (looked at no more
than once a second, on requests and on new TLS connections), so users, headers and certificates change
without a restart. A file that became invalid fails closed: requests get 500 and TLS handshakes fail
until it is fixed. Turning TLS on or off needs a restart.
"""

from __future__ import annotations

import logging
import os
import re
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tsdb.errors import ConfigError
from tsdb.secrets import yaml_error_text

log = logging.getLogger("tsdb.server.webconfig")

CLIENT_AUTH_TYPES = ("NoClientCert", "RequestClientCert", "RequireAnyClientCert", "RequireClientCert",
                     "VerifyClientCertIfGiven", "RequireAndVerifyClientCert")
TLS_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1,
                "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
# Go's names of the TLS 1.2 suites it offers -> OpenSSL's names.
CIPHERS_TLS12 = {
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
}
# TLS 1.3 suites are accepted by name and not configurable (Go and OpenSSL's defaults alike).
CIPHERS_TLS13 = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
CURVES = {"CurveP256": "prime256v1", "CurveP384": "secp384r1", "CurveP521": "secp521r1", "X25519": "X25519"}
# Headers Prometheus lets the file set, with the values allowed where they are an enumeration.
ALLOWED_HEADERS: dict[str, tuple[str, ...]] = {
    "Strict-Transport-Security": (), "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"), "X-XSS-Protection": (), "Content-Security-Policy": (),
}
_TOP = ("tls_server_config", "http_server_config", "basic_auth_users")
_TLS_KEYS = ("cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version", "max_version",
             "cipher_suites", "prefer_server_cipher_suites", "curve_preferences")
# Keys of newer exporter-toolkit versions that tsdb does not implement: refused by name.
_TLS_UNSUPPORTED = ("cert", "key", "client_ca", "client_allowed_sans")
_HTTP_KEYS = ("http2", "headers")
_BCRYPT = re.compile(r"^\$2[abxy]?\$(\d\d)\$[./A-Za-z0-9]{53}$")


@dataclass(frozen=True)
class TlsServerConfig:
    """``tls_server_config`` with paths made absolute."""

    cert_file: str
    key_file: str
    client_ca_file: str = ""
    client_auth_type: str = "NoClientCert"
    min_version: str = "TLS12"
    max_version: str = "TLS13"
    cipher_suites: tuple[str, ...] = ()
    prefer_server_cipher_suites: bool = True
    curve_preferences: tuple[str, ...] = ()


@dataclass(frozen=True)
class WebConfig:
    """One parsed web config file. ``tls`` is None for plain HTTP; ``users`` maps user -> bcrypt hash."""

    path: str = ""
    tls: TlsServerConfig | None = None
    http2: bool = True
    headers: dict[str, str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


def _unknown(raw: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    extra = sorted(k for k in raw if k not in known)
    if extra:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(extra)} (known: {', '.join(known)})")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of strings")
    return tuple(value)


def _parse_tls(raw: dict[str, Any], base: Path, where: str) -> TlsServerConfig | None:
    for key in _TLS_UNSUPPORTED:
        if key in raw:
            raise ConfigError(f"{where}.{key}: not supported by tsdb (use cert_file, key_file, client_ca_file)")
    _unknown(raw, _TLS_KEYS, where)
    if not any(raw.get(k) for k in ("cert_file", "key_file", "client_ca_file", "client_auth_type")):
        return None  # as exporter-toolkit: no TLS settings means plain HTTP
    for key in ("cert_file", "key_file"):
        if not raw.get(key):
            raise ConfigError(f"{where}: missing {key}")

    def path(key: str) -> str:
        value = str(raw.get(key) or "")
        return str(base / value) if value else ""

    auth = str(raw.get("client_auth_type") or "NoClientCert")
    if auth not in CLIENT_AUTH_TYPES:
        raise ConfigError(f"{where}.client_auth_type: invalid {auth!r} (one of {', '.join(CLIENT_AUTH_TYPES)})")
    if auth in ("RequestClientCert", "RequireAnyClientCert", "RequireClientCert"):
        raise ConfigError(f"{where}.client_auth_type: {auth} (a client certificate taken without verifying it) "
                          "is not possible with Python's ssl; use VerifyClientCertIfGiven or "
                          "RequireAndVerifyClientCert with client_ca_file")
    ca = path("client_ca_file")
    if ca and auth == "NoClientCert":
        raise ConfigError(f"{where}: client_ca_file is set but client_auth_type is NoClientCert")
    if not ca and auth != "NoClientCert":
        raise ConfigError(f"{where}.client_auth_type: {auth} needs client_ca_file")
    versions = {}
    for key, default in (("min_version", "TLS12"), ("max_version", "TLS13")):
        version = str(raw.get(key) or default)
        if version not in TLS_VERSIONS:
            raise ConfigError(f"{where}.{key}: unknown TLS version {version!r} (one of {', '.join(TLS_VERSIONS)})")
        versions[key] = version
    ciphers = _strings(raw.get("cipher_suites"), f"{where}.cipher_suites")
    for name in ciphers:
        if name not in CIPHERS_TLS12 and name not in CIPHERS_TLS13:
            raise ConfigError(f"{where}.cipher_suites: unknown cipher {name!r}")
    curves = _strings(raw.get("curve_preferences"), f"{where}.curve_preferences")
    for name in curves:
        if name not in CURVES:
            raise ConfigError(f"{where}.curve_preferences: unknown curve {name!r} (one of {', '.join(CURVES)})")
    if len(curves) > 1:
        raise ConfigError(f"{where}.curve_preferences: Python's ssl sets a single curve; list only one")
    prefer = raw.get("prefer_server_cipher_suites", True)
    if not isinstance(prefer, bool):
        raise ConfigError(f"{where}.prefer_server_cipher_suites: expected true or false")
    return TlsServerConfig(cert_file=path("cert_file"), key_file=path("key_file"), client_ca_file=ca,
                           client_auth_type=auth, min_version=versions["min_version"],
                           max_version=versions["max_version"], cipher_suites=ciphers,
                           prefer_server_cipher_suites=prefer, curve_preferences=curves)


def _parse_headers(raw: dict[str, Any], where: str) -> dict[str, str]:
    headers = {}
    for name, value in raw.items():
        if name not in ALLOWED_HEADERS:
            raise ConfigError(f"{where}: HTTP header {name!r} can not be configured "
                              f"(allowed: {', '.join(ALLOWED_HEADERS)})")
        allowed = ALLOWED_HEADERS[name]
        if allowed and value not in allowed:
            raise ConfigError(f"{where}.{name}: invalid value {value!r} (one of {', '.join(allowed)})")
        headers[name] = str(value)
    return headers


def _parse_users(raw: dict[str, Any], where: str) -> dict[str, str]:
    users = {}
    for user, hashed in raw.items():
        text = str(hashed or "")
        match = _BCRYPT.match(text)
        if match is None or not 4 <= int(match.group(1)) <= 31:
            # the value itself is a secret: never in the message
            raise ConfigError(f"{where}.{user}: not a bcrypt hash (expected $2y$<cost>$<53 characters>)")
        users[user] = text
    return users


def parse_web_config(text: str, path: str) -> WebConfig:
    """Parse and validate the file's ``text``; raises :class:`ConfigError` naming ``path`` and the key."""
    try:
        raw = _mapping(yaml.safe_load(text), path)
    except RecursionError:  # PyYAML composes nested collections recursively
        raise ConfigError(f"{path}: invalid YAML: collections nested too deeply") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {yaml_error_text(err)}") from None
    _unknown(raw, _TOP, path)
    base = Path(path).resolve().parent
    tls = _parse_tls(_mapping(raw.get("tls_server_config"), f"{path}: tls_server_config"), base,
                     f"{path}: tls_server_config")
    http = _mapping(raw.get("http_server_config"), f"{path}: http_server_config")
    _unknown(http, _HTTP_KEYS, f"{path}: http_server_config")
    http2 = http.get("http2", True)
    if not isinstance(http2, bool):
        raise ConfigError(f"{path}: http_server_config.http2: expected true or false")
    headers = _parse_headers(_mapping(http.get("headers"), f"{path}: http_server_config.headers"),
                             f"{path}: http_server_config.headers")
    users = _parse_users(_mapping(raw.get("basic_auth_users"), f"{path}: basic_auth_users"),
                         f"{path}: basic_auth_users")
    config = WebConfig(path=path, tls=tls, http2=http2, headers=headers, users=users)
    if tls is not None:
        server_ssl_context(tls, path)  # certificates and keys must load now, not at the first handshake
    return config


def load_web_config(path: str) -> WebConfig:
    """Read and validate a web config file."""
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read web config: {err.strerror}") from err
    return parse_web_config(text, path)


def server_ssl_context(tls: TlsServerConfig, path: str = "") -> ssl.SSLContext:
    """An SSL server context from ``tls``; errors name the web config file and the key."""
    where = f"{path}: tls_server_config" if path else "tls_server_config"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[tls.min_version]
    context.maximum_version = TLS_VERSIONS[tls.max_version]
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError(f"{where}: cannot load cert_file {tls.cert_file} / key_file {tls.key_file}: "
                          f"{getattr(err, 'strerror', None) or err}") from None
    if tls.client_ca_file:
        try:
            context.load_verify_locations(cafile=tls.client_ca_file)
        except (OSError, ssl.SSLError) as err:
            raise ConfigError(f"{where}: cannot load client_ca_file {tls.client_ca_file}: "
                              f"{getattr(err, 'strerror', None) or err}") from None
        context.verify_mode = ssl.CERT_REQUIRED if tls.client_auth_type == "RequireAndVerifyClientCert" \
            else ssl.CERT_OPTIONAL
    tls12 = [CIPHERS_TLS12[c] for c in tls.cipher_suites if c in CIPHERS_TLS12]
    if tls12:
        try:
            context.set_ciphers(":".join(tls12))
        except ssl.SSLError as err:
            raise ConfigError(f"{where}.cipher_suites: {err}") from None
    if tls.prefer_server_cipher_suites:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    if tls.curve_preferences:
        try:
            context.set_ecdh_curve(CURVES[tls.curve_preferences[0]])
        except (ValueError, ssl.SSLError) as err:
            raise ConfigError(f"{where}.curve_preferences: {err}") from None
    context.set_alpn_protocols(["http/1.1"])  # aiohttp speaks HTTP/1.1; http2: true is accepted, not used
    return context


class WebConfigWatcher:
    """The current :class:`WebConfig` of one file, re-read when the file changes (see the module doc)."""

    CHECK_INTERVAL_S = 1.0

    def __init__(self, path: str) -> None:
        """Loads the file now; raises :class:`ConfigError` when it is invalid."""
        self.path = path
        self._lock = threading.Lock()
        self._stamp = self._stat()
        self._config: WebConfig | None = load_web_config(path)
        self._error = ""
        self._checked = time.monotonic()
        self._ssl: ssl.SSLContext | None = None
        self.tls_enabled = self._config.tls is not None

    def _stat(self) -> tuple[int, int]:
        try:
            st = os.stat(self.path)
        except OSError:
            return (-1, -1)
        return (st.st_mtime_ns, st.st_size)

    def current(self) -> WebConfig | None:
        """The config in force, or None while the file is invalid (callers fail closed)."""
        now = time.monotonic()
        if now - self._checked < self.CHECK_INTERVAL_S:
            return self._config
        with self._lock:
            self._checked = now
            stamp = self._stat()
            if stamp == self._stamp:
                return self._config
            self._stamp = stamp
            try:
                self._config = load_web_config(self.path)
                self._ssl = None
                self._error = ""
                log.info("web config reloaded", extra={"file": self.path})
            except ConfigError as err:
                self._config = None
                if str(err) != self._error:
                    self._error = str(err)
                    log.error("web config invalid: requests are refused until it is fixed",
                              extra={"error": self._error})
            return self._config

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server context of the current file (cached until the file changes); None while invalid."""
        config = self.current()
        if config is None or config.tls is None:
            return None
        with self._lock:
            if self._ssl is None:
                self._ssl = server_ssl_context(config.tls, self.path)
                self._ssl.sni_callback = self._swap_context
            return self._ssl

    def _swap_context(self, sslobj: ssl.SSLObject | ssl.SSLSocket, server_name: str | None,
                      context: ssl.SSLContext) -> int | None:
        """Called by OpenSSL on each new handshake: moves it to the newest context (new certs, CAs, users)."""
        try:
            newest = self.ssl_context()
        except ConfigError:
            newest = None
        if newest is None:
            return ssl.ALERT_DESCRIPTION_INTERNAL_ERROR
        if newest is not context:
            sslobj.context = newest
        return None
