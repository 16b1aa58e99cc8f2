"""Real Prometheus-ecosystem clients against tsdb over TLS with basic auth (docs/security.md).

- Prometheus scrapes tsdb's ``/metrics`` over HTTPS with ``basic_auth`` and remote-writes to tsdb with
  ``basic_auth`` and ``tls_config.ca_file``; the samples arrive.
- ``promtool query instant``: Debian's promtool 2.42 has no ``--http.config.file`` (it came later), so it
  gets the credentials in the URL and the CA by ``SSL_CERT_FILE``, both honoured by Go's HTTP client.
- ``amtool --http.config.file`` adds a silence as a writer and lists it as a reader; a reader cannot add one.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from tests.contracts.prometheus_peer import PrometheusPeer
from tests.needs import needs_binary, require_binary
from tests.server.test_webauth import ROLES, USERS, _config, _web_yml, fetch
from tests.server_thread import ServerThread
from tests.tls_certs import make_certs

ALERTMANAGER_YML = """route:
  receiver: nowhere
receivers:
  - name: nowhere
"""


def _query(base: str, ca: Path, expr: str) -> list[dict[str, object]]:
    import ssl
    import urllib.parse

    context = ssl.create_default_context(cafile=str(ca))
    status, _, body = fetch(f"{base}/api/v1/query?query={urllib.parse.quote(expr)}", auth=("reader", "r-pass"),
                            context=context)
    assert status == 200, body
    result: list[dict[str, object]] = json.loads(body)["data"]["result"]
    return result


@needs_binary("prometheus", package="prometheus")
def test_prometheus_scrapes_and_remote_writes_over_tls_with_basic_auth(tmp_path: Path) -> None:
    certs = make_certs(tmp_path / "certs")
    web = _web_yml(tmp_path / "certs" / "web.yml", certs, USERS)
    with ServerThread(_config(tmp_path, web, web_roles=ROLES)) as running:
        tsdb = f"127.0.0.1:{running.server.http_port}"
        config = f"""global:
  scrape_interval: 1s
scrape_configs:
  - job_name: tsdb-over-tls
    scheme: https
    basic_auth: {{username: reader, password: r-pass}}
    tls_config: {{ca_file: {certs.ca}}}
    static_configs: [{{targets: ["{tsdb}"]}}]
remote_write:
  - url: https://{tsdb}/api/v1/write
    basic_auth: {{username: writer, password: w-pass}}
    tls_config: {{ca_file: {certs.ca}}}
    queue_config: {{batch_send_deadline: 1s}}
"""
        with PrometheusPeer(tmp_path / "prom", config) as prometheus:
            deadline = time.monotonic() + 90
            up: list[dict[str, object]] = []
            while time.monotonic() < deadline and not up:
                up = _query(f"https://{tsdb}", certs.ca, 'up{job="tsdb-over-tls"} == 1')
                time.sleep(0.5)
            assert up, prometheus.log_text()[-3000:]
            assert _query(f"https://{tsdb}", certs.ca, 'tsdb_http_requests_total{job="tsdb-over-tls"}')


def test_promtool_queries_over_tls_with_basic_auth(tmp_path: Path) -> None:
    promtool = require_binary("promtool", package="prometheus")
    certs = make_certs(tmp_path)
    web = _web_yml(tmp_path / "web.yml", certs, USERS)
    with ServerThread(_config(tmp_path, web, web_roles=ROLES)) as running:
        port = running.server.http_port
        env = {**os.environ, "SSL_CERT_FILE": str(certs.ca)}

        def query(url: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([promtool, "query", "instant", url, "vector(42)"], capture_output=True, text=True,
                                  env=env, timeout=60)

        done = query(f"https://reader:r-pass@127.0.0.1:{port}")
        assert done.returncode == 0 and "=> 42" in done.stdout, done.stdout + done.stderr
        done = query(f"https://127.0.0.1:{port}")
        assert done.returncode != 0 and "401" in done.stdout + done.stderr
        done = subprocess.run([promtool, "query", "instant", f"https://reader:r-pass@127.0.0.1:{port}", "1"],
                              capture_output=True, text=True, timeout=60)  # without the CA: refused
        assert done.returncode != 0 and "certificate" in done.stdout + done.stderr


def test_amtool_silences_over_tls_with_http_config(tmp_path: Path) -> None:
    amtool = require_binary("amtool", package="prometheus-alertmanager")
    certs = make_certs(tmp_path)
    web = _web_yml(tmp_path / "web.yml", certs, USERS)
    (tmp_path / "alertmanager.yml").write_text(ALERTMANAGER_YML)
    config = _config(tmp_path, web, web_roles=ROLES,
                     notifications={"config_file": str(tmp_path / "alertmanager.yml")})
    with ServerThread(config) as running:
        url = f"https://127.0.0.1:{running.server.http_port}"

        def http_config(user: str, password: str) -> Path:
            path = tmp_path / f"http-{user}.yml"
            path.write_text(f"basic_auth: {{username: {user}, password: {password}}}\n"
                            f"tls_config: {{ca_file: {certs.ca}}}\n")
            return path

        def amtool_run(user: str, password: str, *args: str) -> subprocess.CompletedProcess[str]:
            flags = [f"--alertmanager.url={url}", f"--http.config.file={http_config(user, password)}"]
            return subprocess.run([amtool, *flags, *args], capture_output=True, text=True, timeout=60)

        added = amtool_run("writer", "w-pass", "silence", "add", "alertname=Probe", "--comment=tls", "--author=t",
                           "--duration=1h")
        assert added.returncode == 0, added.stdout + added.stderr
        listed = amtool_run("reader", "r-pass", "silence", "query", "-q")
        assert listed.returncode == 0 and listed.stdout.strip() == added.stdout.strip()
        refused = amtool_run("reader", "r-pass", "silence", "add", "alertname=Other", "--comment=x", "--duration=1h")
        assert refused.returncode != 0 and "403" in refused.stdout + refused.stderr
        anonymous = subprocess.run([amtool, f"--alertmanager.url={url}", "silence", "query"], capture_output=True,
                                   text=True, timeout=60, env={**os.environ, "SSL_CERT_FILE": str(certs.ca)})
        assert anonymous.returncode != 0 and "401" in anonymous.stdout + anonymous.stderr
