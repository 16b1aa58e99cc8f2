"""The ``cluster`` section: every setting checked, errors naming the key."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from tests.tls_certs import make_certs
from tsdb.errors import ConfigError
from tsdb.server.components.cluster import parse_section

GOOD: dict[str, Any] = {"name": "alerting", "etcd": {"endpoints": ["http://127.0.0.1:2379"]}}


def test_defaults_and_settings(tmp_path: Path) -> None:
    settings = parse_section(GOOD)
    assert settings["lease_ttl_s"] == 10 and settings["key_prefix"] == "/tsdb" and settings["ssl"] is None
    assert settings["rule_groups"] == "replicated" and settings["node"] == "" and settings["timeout_s"] == 5
    certs = make_certs(tmp_path)
    tls = parse_section({**GOOD, "etcd": {"endpoints": "https://127.0.0.1:2379", "timeout": "2s", "tls": {
        "ca_file": str(certs.ca), "cert_file": str(certs.client_cert), "key_file": str(certs.client_key)}},
        "lease_ttl": "4s", "rule_groups": "spread", "node": "a", "key_prefix": "/x"})
    assert isinstance(tls["ssl"], ssl.SSLContext) and tls["endpoints"] == ["https://127.0.0.1:2379"]
    assert (tls["lease_ttl_s"], tls["rule_groups"], tls["node"], tls["key_prefix"], tls["timeout_s"]) == \
        (4, "spread", "a", "/x", 2)


@pytest.mark.parametrize(("section", "message"), [
    ({**GOOD, "nme": 1}, "cluster: unknown key 'nme'"),
    ({**GOOD, "name": ""}, "cluster.name"),
    ({**GOOD, "name": "a/b"}, "cluster.name"),
    ({"name": "x"}, "cluster.etcd: expected a mapping"),
    ({**GOOD, "etcd": {"endpoints": ["127.0.0.1:2379"]}}, "cluster.etcd.endpoints"),
    ({**GOOD, "etcd": {"endpoints": []}}, "cluster.etcd.endpoints"),
    ({**GOOD, "etcd": {"endpoints": ["http://a"], "tls": {"ca": "x"}}}, "cluster.etcd.tls"),
    ({**GOOD, "etcd": {"endpoints": ["http://a"], "tls": {"ca_file": "/nonexistent/ca.pem"}}}, "cluster.etcd.tls"),
    ({**GOOD, "etcd": {"endpoints": ["http://a"], "user": "x"}}, "cluster.etcd: unknown key 'user'"),
    ({**GOOD, "lease_ttl": "1s"}, "cluster.lease_ttl"),
    ({**GOOD, "lease_ttl": "2500ms"}, "cluster.lease_ttl"),
    ({**GOOD, "lease_ttl": "soon"}, "cluster.lease_ttl"),
    ({**GOOD, "key_prefix": "tsdb"}, "cluster.key_prefix"),
    ({**GOOD, "node": 3}, "cluster.node"),
    ({**GOOD, "rule_groups": "sharded"}, "cluster.rule_groups"),
])
def test_errors_name_the_key(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        parse_section(section)
