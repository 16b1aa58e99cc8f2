"""The web config file, basic auth, roles, TLS/mTLS, lifecycle and admin gates and CORS over real HTTP."""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.needs import require_binary
from tests.server_thread import ServerThread
from tests.tls_certs import Certs, bcrypt_hash, make_certs
from tsdb.config import ServerConfig
from tsdb.errors import ConfigError
from tsdb.server.auth import Authenticator, parse_basic, required_role
from tsdb.server.webconfig import WebConfigWatcher, load_web_config, parse_web_config

Answer = tuple[int, dict[str, str], str]


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def fetch(url: str, method: str = "GET", auth: tuple[str, str] | None = None, context: ssl.SSLContext | None = None,
          headers: dict[str, str] | None = None, body: bytes | None = None) -> Answer:
    """One request; the status, headers and body (error statuses included)."""
    request = urllib.request.Request(url, method=method, data=body, headers=dict(headers or {}))
    if auth is not None:
        request.add_header("Authorization", _basic(*auth))
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            return int(response.status), dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as err:
        return int(err.code), dict(err.headers), err.read().decode()


def _web_yml(path: Path, certs: Certs | None, users: dict[str, str], client_auth: str = "",
             headers: str = "") -> Path:
    lines = []
    if certs is not None:
        lines += ["tls_server_config:", f"  cert_file: {certs.server_cert.name}",
                  f"  key_file: {certs.server_key.name}"]
        if client_auth:
            lines += [f"  client_auth_type: {client_auth}", f"  client_ca_file: {certs.ca.name}"]
    if headers:
        lines += ["http_server_config:", "  headers:", *[f"    {h}" for h in headers.splitlines()]]
    if users:
        lines += ["basic_auth_users:", *[f"  {u}: {bcrypt_hash(p)}" for u, p in users.items()]]
    path.write_text("\n".join(lines) + "\n")
    return path


def _config(tmp_path: Path, web: Path | None, **kw: object) -> ServerConfig:
    return ServerConfig(data_dir=str(tmp_path / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                        web_config_file=str(web) if web else "", **kw)  # type: ignore[arg-type]


USERS = {"reader": "r-pass", "writer": "w-pass", "root": "a-pass"}
ROLES = {"reader": "read", "writer": "write", "root": "admin"}


# ---- the file -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("tls_server_config: {cert_file: a.pem}\n", "missing key_file"),
    ("tsdb_roles: {a: read}\n", "unknown key(s) tsdb_roles"),
    ("tls_server_config: {cert_file: a, key_file: b, ciphers: []}\n", "unknown key(s) ciphers"),
    ("http_server_config: {headers: {Server: x}}\n", "HTTP header 'Server' can not be configured"),
    ("http_server_config: {headers: {X-Frame-Options: allow}}\n", "X-Frame-Options: invalid value"),
    ("http_server_config: {http3: true}\n", "unknown key(s) http3"),
    ("basic_auth_users: {alice: plain-password}\n", "basic_auth_users.alice: not a bcrypt hash"),
    ("tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequestClientCert, client_ca_file: c}\n",
     "not possible with Python's ssl"),
    ("tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAnyClientCert}\n",
     "not possible with Python's ssl"),
    ("tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAndVerifyClientCert}\n",
     "needs client_ca_file"),
    ("tls_server_config: {cert_file: a, key_file: b, client_ca_file: c}\n", "client_auth_type is NoClientCert"),
    ("tls_server_config: {cert_file: a, key_file: b, min_version: TLS14}\n", "unknown TLS version 'TLS14'"),
    ("tls_server_config: {cert_file: a, key_file: b, cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]}\n",
     "unknown cipher"),
    ("tls_server_config: {cert_file: a, key_file: b, curve_preferences: [CurveP256, X25519]}\n",
     "a single curve"),
    ("tls_server_config: {cert_file: a, key_file: b, cert: x}\n", "cert: not supported"),
    ("tls_server_config: {cert_file: a, key_file: b}\n", "cannot load cert_file"),
])
def test_invalid_files_are_refused_naming_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "web.yml"
    with pytest.raises(ConfigError) as err:
        parse_web_config(text, str(path))
    assert message in str(err.value) and str(path) in str(err.value)
    assert "plain-password" not in str(err.value)


def test_a_full_file_is_accepted_by_tsdb_and_promtool(tmp_path: Path) -> None:
    make_certs(tmp_path)
    path = tmp_path / "web.yml"
    path.write_text(f"""tls_server_config:
  cert_file: server.pem
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.pem
  min_version: TLS12
  max_version: TLS13
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]
  prefer_server_cipher_suites: true
  curve_preferences: [CurveP256]
http_server_config:
  http2: false
  headers:
    Strict-Transport-Security: max-age=31536000
    X-Content-Type-Options: nosniff
    X-Frame-Options: sameorigin
    X-XSS-Protection: "1; mode=block"
basic_auth_users:
  alice: {bcrypt_hash("secret")}
""")
    config = load_web_config(str(path))
    assert config.tls is not None and config.tls.cert_file == str(tmp_path / "server.pem")
    assert config.headers["X-Frame-Options"] == "sameorigin" and set(config.users) == {"alice"}
    promtool = require_binary("promtool", package="prometheus")
    done = subprocess.run([promtool, "check", "web-config", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_refuses_what_tsdb_refuses(tmp_path: Path) -> None:
    promtool = require_binary("promtool", package="prometheus")
    for text in ("tsdb_roles: {a: read}\n", "http_server_config: {headers: {Server: x}}\n",
                 "basic_auth_users: {alice: plain-password}\n"):
        path = tmp_path / "bad.yml"
        path.write_text(text)
        done = subprocess.run([promtool, "check", "web-config", str(path)], capture_output=True, timeout=60)
        assert done.returncode != 0, text
        with pytest.raises(ConfigError):
            load_web_config(str(path))


def test_roles_are_validated_in_tsdb_yml() -> None:
    with pytest.raises(ConfigError, match=r"web_roles\.bob: unknown role 'root'"):
        ServerConfig(web_roles={"bob": "root"})


def test_required_roles() -> None:
    assert required_role("GET", "/api/v1/query") == "read"
    assert required_role("POST", "/api/v1/query_range") == "read"
    assert required_role("POST", "/api/v1/write") == "write"
    assert required_role("POST", "/api/v1/read") == "read"  # remote read
    assert required_role("GET", "/federate") == "read"
    assert required_role("POST", "/api/v2/silences") == "write"
    assert required_role("DELETE", "/api/v2/silence/x") == "write"
    assert required_role("POST", "/api/v1/alerts/groups/abc/ack") == "write"
    assert required_role("GET", "/api/v1/alerts/groups/abc/ack") == "read"  # a GET never acknowledges
    assert required_role("POST", "/-/reload") == "admin"
    assert required_role("GET", "/api/v1/admin/tsdb/snapshot") == "admin"


def test_basic_header_parsing_and_cached_verification() -> None:
    assert parse_basic(_basic("a", "b:c")) == ("a", "b:c")
    assert parse_basic("Bearer x") is None and parse_basic("Basic !!!") is None and parse_basic("") is None
    users = {"alice": bcrypt_hash("pw")}
    auth = Authenticator()
    assert auth.cached(users, "alice", "pw") is None
    assert auth.verify(users, "alice", "pw") and auth.cached(users, "alice", "pw") is True
    assert not auth.verify(users, "alice", "nope") and auth.cached(users, "alice", "nope") is False
    assert not auth.verify(users, "mallory", "pw")


# ---- a running server --------------------------------------------------------------------------------------------


def test_basic_auth_roles_headers_and_gates_over_tls(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    web = _web_yml(tmp_path / "web.yml", certs, USERS, headers="X-Frame-Options: deny")
    context = ssl.create_default_context(cafile=str(certs.ca))
    with ServerThread(_config(tmp_path, web, web_roles=ROLES, web_enable_lifecycle=True)) as running:
        base = f"https://127.0.0.1:{running.server.http_port}"
        query = base + "/api/v1/query?query=1"
        status, headers, body = fetch(query, context=context)
        assert (status, headers.get("WWW-Authenticate"), body) == (401, "Basic", "Unauthorized\n")
        assert headers.get("X-Frame-Options") == "deny"  # on refusals too, as exporter-toolkit
        assert fetch(query, auth=("reader", "wrong"), context=context)[0] == 401
        assert fetch(query, auth=("nobody", "r-pass"), context=context)[0] == 401
        status, headers, body = fetch(query, auth=("reader", "r-pass"), context=context)
        assert status == 200 and json.loads(body)["status"] == "success" and headers["X-Frame-Options"] == "deny"
        status, _, body = fetch(base + "/api/v1/write", "POST", ("reader", "r-pass"), context, body=b"")
        assert status == 403 and "lacks the write role" in body
        status, _, body = fetch(base + "/-/reload", "POST", ("writer", "w-pass"), context)
        assert status == 403 and "lacks the admin role" in body
        assert fetch(base + "/-/reload", "POST", ("root", "a-pass"), context)[0] == 200
        status, _, body = fetch(base + "/api/v1/admin/tsdb/snapshot", "POST", ("root", "a-pass"), context)
        assert status == 500 and json.loads(body) == {"status": "error", "errorType": "unavailable",
                                                      "error": "admin APIs disabled"}
        with pytest.raises((urllib.error.URLError, ConnectionError)):  # plain HTTP to the TLS port is refused
            fetch(base.replace("https", "http") + "/-/healthy")
        with pytest.raises(urllib.error.URLError):  # a client that trusts another CA
            fetch(query, auth=("reader", "r-pass"), context=ssl.create_default_context(cafile=str(certs.other_ca)))


def test_lifecycle_off_by_default_and_cors(tmp_path: Path) -> None:
    with ServerThread(_config(tmp_path, None, web_cors_origin=r"https://grafana\.example\.com")) as running:
        base = f"http://127.0.0.1:{running.server.http_port}"
        assert fetch(base + "/-/reload", "POST") == (403, fetch(base + "/-/reload", "POST")[1],
                                                     "Lifecycle API is not enabled.")
        assert fetch(base + "/-/reload", "PUT")[0] == 403
        _, headers, _ = fetch(base + "/api/v1/query?query=1", headers={"Origin": "https://grafana.example.com"})
        assert headers["Access-Control-Allow-Origin"] == "https://grafana.example.com"
        _, headers, _ = fetch(base + "/api/v1/query?query=1", headers={"Origin": "https://evil.example.com"})
        assert "Access-Control-Allow-Origin" not in headers and headers["Vary"] == "Origin"
        assert "Access-Control-Allow-Methods" not in fetch(base + "/api/v1/query?query=1")[1]
        status, headers, _ = fetch(base + "/api/v1/query", "OPTIONS",
                                   headers={"Origin": "https://grafana.example.com"})
        assert status == 204 and "GET" in headers["Access-Control-Allow-Methods"]
    with ServerThread(_config(tmp_path, None)) as running:  # the default .* answers "*", as Prometheus
        _, headers, _ = fetch(f"http://127.0.0.1:{running.server.http_port}/api/v1/query?query=1",
                              headers={"Origin": "https://anywhere.example"})
        assert headers["Access-Control-Allow-Origin"] == "*"


def test_cross_site_changes_are_refused(tmp_path: Path) -> None:
    """A browser's POST from another site (a forged form) changes nothing; reads and non-browser clients pass."""
    silence = json.dumps({"matchers": [{"name": "a", "value": "b", "isRegex": False}],
                          "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2036-01-01T00:00:00Z", "createdBy": "t",
                          "comment": "c"}).encode()
    json_type = {"Content-Type": "application/json"}
    with ServerThread(_config(tmp_path, None, web_cors_origin=r"https://grafana\.example\.com")) as running:
        base = f"http://127.0.0.1:{running.server.http_port}"
        own = f"http://127.0.0.1:{running.server.http_port}"
        for forged in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"},
                       {"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-site"}):
            status, _, body = fetch(base + "/api/v2/silences", "POST", headers={**json_type, **forged}, body=silence)
            assert status == 403 and "another site" in body and "--web.cors.origin" in body, forged
        assert fetch(base + "/api/v2/silences")[2] == "[]"  # nothing was created
        for fine in ({}, {"Origin": own, "Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"},
                     {"Origin": "https://grafana.example.com"}):  # not a browser; the UI itself; a typed URL; allowed
            status, _, body = fetch(base + "/api/v2/silences", "POST", headers={**json_type, **fine}, body=silence)
            assert status == 200 and "silenceID" in body, (fine, body)
        status, _, _ = fetch(base + "/api/v1/query", "POST", body=b"query=1",
                             headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
        assert status == 200  # reads stay open to other sites (CORS decides what their scripts may see)
    with ServerThread(_config(tmp_path, None)) as running:  # the default .* allows no cross-site change
        status, _, _ = fetch(f"http://127.0.0.1:{running.server.http_port}/api/v2/silences", "POST",
                             headers={**json_type, "Origin": "https://anywhere.example"}, body=silence)
        assert status == 403


def test_mtls_required_refuses_a_client_without_certificate(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    web = _web_yml(tmp_path / "web.yml", certs, {}, client_auth="RequireAndVerifyClientCert")
    with ServerThread(_config(tmp_path, web)) as running:
        url = f"https://127.0.0.1:{running.server.http_port}/api/v1/query?query=1"
        without = ssl.create_default_context(cafile=str(certs.ca))
        with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
            fetch(url, context=without)
        with_cert = ssl.create_default_context(cafile=str(certs.ca))
        with_cert.load_cert_chain(str(certs.client_cert), str(certs.client_key))
        assert fetch(url, context=with_cert)[0] == 200


def test_file_changes_apply_without_restart_and_a_broken_file_fails_closed(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(WebConfigWatcher, "CHECK_INTERVAL_S", 0.0)
    certs = make_certs(tmp_path)
    web = _web_yml(tmp_path / "web.yml", certs, {"alice": "one"})
    with ServerThread(_config(tmp_path, web)) as running:
        url = f"https://127.0.0.1:{running.server.http_port}/api/v1/query?query=1"
        trust_old = ssl.create_default_context(cafile=str(certs.ca))
        assert fetch(url, auth=("alice", "one"), context=trust_old)[0] == 200
        # new users and a certificate from a new CA, picked up on the next request / connection
        fresh = make_certs(tmp_path / "fresh")
        text = _web_yml(tmp_path / "next.yml", fresh, {"alice": "two"}).read_text()
        web.write_text(text.replace("server.", "fresh/server."))
        os.utime(web, ns=(time.time_ns(), time.time_ns() + 10**9))
        trust_new = ssl.create_default_context(cafile=str(fresh.ca))
        assert fetch(url, auth=("alice", "two"), context=trust_new)[0] == 200
        with pytest.raises(urllib.error.URLError):
            fetch(url, auth=("alice", "two"), context=trust_old)
        web.write_text("basic_auth_users: {alice: not-a-hash}\n")
        os.utime(web, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
        with pytest.raises((urllib.error.URLError, ConnectionError)):  # handshakes refused while invalid
            fetch(url, auth=("alice", "two"), context=trust_new)
        web.write_text(text.replace("server.", "fresh/server."))
        os.utime(web, ns=(time.time_ns(), time.time_ns() + 3 * 10**9))
        assert fetch(url, auth=("alice", "two"), context=trust_new)[0] == 200


def test_plain_http_with_users_fails_closed_on_a_broken_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(WebConfigWatcher, "CHECK_INTERVAL_S", 0.0)
    web = _web_yml(tmp_path / "web.yml", None, {"alice": "one"})
    with ServerThread(_config(tmp_path, web)) as running:
        url = f"http://127.0.0.1:{running.server.http_port}/api/v1/query?query=1"
        assert fetch(url, auth=("alice", "one"))[0] == 200
        web.write_text("basic_auth_users: [\n")
        os.utime(web, ns=(time.time_ns(), time.time_ns() + 10**9))
        assert fetch(url, auth=("alice", "one"))[0] == 500


def test_a_bad_web_config_stops_the_start(tmp_path: Path) -> None:
    web = tmp_path / "web.yml"
    web.write_text("basic_auth_users: {alice: x}\n")
    with pytest.raises(ConfigError, match=r"basic_auth_users\.alice"):
        ServerThread(_config(tmp_path, web))


def test_curl_with_and_without_credentials(tmp_path: Path) -> None:
    curl = require_binary("curl", package="curl")
    certs = make_certs(tmp_path)
    web = _web_yml(tmp_path / "web.yml", certs, USERS, client_auth="VerifyClientCertIfGiven")
    with ServerThread(_config(tmp_path, web, web_roles=ROLES)) as running:
        url = f"https://127.0.0.1:{running.server.http_port}/api/v1/query?query=up"

        def code(*args: str) -> str:
            done = subprocess.run([curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20",
                                   "--cacert", str(certs.ca), *args, url], capture_output=True, text=True, timeout=60)
            return done.stdout

        assert code() == "401"
        assert code("-u", "reader:bad") == "401"
        assert code("-u", "reader:r-pass") == "200"
        assert code("-u", "reader:r-pass", "--cert", str(certs.client_cert), "--key", str(certs.client_key)) == "200"
        assert code("-u", "reader:r-pass", "-X", "DELETE") == "403"


def test_tsdb_check_config_checks_the_web_config_file(tmp_path: Path) -> None:
    from tsdb.cli.check import check_config

    web = _web_yml(tmp_path / "web.yml", None, {"alice": "pw"})
    config = tmp_path / "tsdb.yml"
    config.write_text(f"web_config_file: {web}\nweb_roles: {{alice: read}}\n")
    ok, message = check_config(str(config))
    assert ok and f"web_config_file {web}" in message
    web.write_text("basic_auth_users: {alice: pw}\n")
    ok, message = check_config(str(config))
    assert not ok and "basic_auth_users.alice: not a bcrypt hash" in message


def _handshake(port: int, ca: Path, max_version: ssl.TLSVersion | None = None,
               ciphers: str | None = None) -> tuple[str, str] | None:
    """(protocol, cipher) a client with these limits negotiates with the server, or None when refused."""
    context = ssl.create_default_context(cafile=str(ca))
    if max_version is not None:
        context.maximum_version = max_version
    if ciphers is not None:
        context.set_ciphers(ciphers)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            cipher = tls.cipher()
            return str(tls.version()), cipher[0] if cipher else ""
    except (ssl.SSLError, ConnectionError):
        return None


def test_tls_versions_and_ciphers_are_enforced_in_the_handshake(tmp_path: Path) -> None:
    """``min_version``, ``max_version`` and ``cipher_suites`` decide what a client can negotiate."""
    certs = make_certs(tmp_path)
    web = _web_yml(tmp_path / "web.yml", certs, {})
    web.write_text(web.read_text().replace("tls_server_config:\n", "tls_server_config:\n  min_version: TLS13\n"))
    with ServerThread(_config(tmp_path, web)) as running:
        port = running.server.http_port
        assert _handshake(port, certs.ca, max_version=ssl.TLSVersion.TLSv1_2) is None
        negotiated = _handshake(port, certs.ca)
        assert negotiated is not None and negotiated[0] == "TLSv1.3"
    web.write_text(web.read_text().replace("  min_version: TLS13\n", "  max_version: TLS12\n  cipher_suites: "
                                           "[TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n"))
    with ServerThread(_config(tmp_path, web)) as running:
        port = running.server.http_port
        assert _handshake(port, certs.ca) == ("TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256")
        assert _handshake(port, certs.ca, ciphers="ECDHE-ECDSA-AES256-GCM-SHA384") is None
