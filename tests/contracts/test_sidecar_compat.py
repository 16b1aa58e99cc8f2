"""What a Thanos sidecar reads from its Prometheus, asked of tsdb and of a real Prometheus 2.42 configured alike:
``/api/v1/status/config`` (``global.external_labels``), ``/api/v1/status/flags`` (the flags Thanos's
``promclient.Flags`` parses: same keys, string values Go's duration and bool parsers accept, equal values for
equal settings) and ``/api/v1/status/buildinfo`` (same keys and types). The YAML tsdb prints loads back."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.contracts.prometheus_peer import PrometheusPeer
from tests.needs import needs_binary
from tests.server_thread import ServerThread
from tsdb.config import ServerConfig, StorageOptions, load_server_config

pytestmark = [pytest.mark.external, needs_binary("prometheus", package="prometheus")]

EXTERNAL = {"cluster": "eu-1", "replica": "a"}
H = 3_600_000
# the flags Thanos's promclient.Flags reads, and how it parses each
SIDECAR_FLAGS = {"storage.tsdb.path": "string", "storage.tsdb.retention": "duration",
                 "storage.tsdb.min-block-duration": "duration", "storage.tsdb.max-block-duration": "duration",
                 "web.enable-admin-api": "bool", "web.enable-lifecycle": "bool"}
GO_DURATION = re.compile(r"^(0|(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?)$")  # prometheus/common model


def _get(base: str, path: str) -> Any:
    with urllib.request.urlopen(base + path, timeout=30) as response:
        body = json.loads(response.read())
    assert body["status"] == "success"
    return body["data"]


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("sidecar")
    labels = "".join(f"\n    {k}: {v}" for k, v in EXTERNAL.items())
    with PrometheusPeer(tmp / "prom", f"global:\n  external_labels:{labels}\n",
                        "--storage.tsdb.min-block-duration=2h", "--storage.tsdb.max-block-duration=2h",
                        "--web.enable-admin-api", "--web.enable-lifecycle") as prom:
        config = ServerConfig(data_dir=str(tmp / "data"), http_listen="127.0.0.1:0", grpc_listen="127.0.0.1:0",
                              external_labels=EXTERNAL, web_enable_admin_api=True, web_enable_lifecycle=True,
                              storage=StorageOptions(wal_fsync="never", block_range_ms=2 * H, max_block_range_ms=2 * H))
        with ServerThread(config) as running:
            yield prom.url, f"http://127.0.0.1:{running.server.http_port}"


def test_config_external_labels(both: tuple[str, str], tmp_path: Path) -> None:
    prom, ours = both
    for base in both:
        parsed = yaml.safe_load(_get(base, "/api/v1/status/config")["yaml"])
        assert parsed["global"]["external_labels"] == EXTERNAL, base
    assert prom != ours
    text = _get(ours, "/api/v1/status/config")["yaml"]
    (tmp_path / "tsdb.yml").write_text(text)  # the printed config loads back as the same settings
    assert load_server_config(tmp_path / "tsdb.yml").external_labels == EXTERNAL


def test_flags_a_sidecar_reads(both: tuple[str, str]) -> None:
    prom, ours = (_get(base, "/api/v1/status/flags") for base in both)
    for name, kind in SIDECAR_FLAGS.items():
        assert name in prom and name in ours, name
        for value in (prom[name], ours[name]):
            assert isinstance(value, str), (name, value)
            if kind == "duration":
                assert GO_DURATION.match(value), (name, value)
            elif kind == "bool":
                assert value in ("true", "false"), (name, value)
    for name in ("storage.tsdb.min-block-duration", "storage.tsdb.max-block-duration", "storage.tsdb.retention",
                 "web.enable-admin-api", "web.enable-lifecycle", "storage.tsdb.retention.size"):
        assert ours[name] == prom[name], (name, ours[name], prom[name])
    assert ours["storage.tsdb.min-block-duration"] == "2h"
    assert all(isinstance(v, str) for v in ours.values())


def test_buildinfo_shape(both: tuple[str, str]) -> None:
    prom, ours = (_get(base, "/api/v1/status/buildinfo") for base in both)
    assert set(ours) == set(prom)
    assert all(isinstance(v, str) for v in ours.values())
