"""``query.stores`` and its companions: accepted forms, errors naming the offending part, secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from tsdb.config import Authorization, BasicAuth, QueryOptions, StoreSpec, StoreTls, load_server_config
from tsdb.errors import ConfigError
from tsdb.server import status


def _load(tmp_path: Path, text: str) -> QueryOptions:
    path = tmp_path / "tsdb.yml"
    path.write_text(text)
    return load_server_config(path).query


def test_forms(tmp_path: Path) -> None:
    query = _load(tmp_path, """
query:
  stores:
    - http://127.0.0.1:9211/
    - url: https://store-b:9211
      name: b
      basic_auth: {username: u, password: hunter2}
      tls_config: {ca_file: /etc/ca.pem, insecure_skip_verify: false}
    - url: http://u:pw@store-c:9211
      authorization: {credentials: s3cret}
  replica_labels: [replica]
  partial_response: false
  store_timeout: 5s
""")
    assert query.stores == (
        StoreSpec("http://127.0.0.1:9211", "http://127.0.0.1:9211"),
        StoreSpec("https://store-b:9211", "b", BasicAuth("u", "hunter2"), None, StoreTls(ca_file="/etc/ca.pem")),
        StoreSpec("http://u:pw@store-c:9211", "http://store-c:9211", None, Authorization("s3cret", "Bearer")))
    assert query.replica_labels == ("replica",)
    assert query.partial_response is False
    assert query.store_timeout_ms == 5000
    assert QueryOptions().stores == () and QueryOptions().partial_response is True
    text = status.config_yaml(load_server_config(tmp_path / "tsdb.yml"))
    assert "hunter2" not in text and "s3cret" not in text and "u:pw@" not in text
    assert "https://store-b:9211" in text


@pytest.mark.parametrize(("yaml_text", "error"), [
    ("stores: http://a", "query.stores: expected a list"),
    ("stores: [http://a, 7]", r"query.stores\[1\]: expected a URL or a mapping"),
    ("stores: [ftp://a]", r"query.stores\[0\]: expected a URL \(http:// or https://\)"),
    ("stores: [{name: x}]", r"query.stores\[0\]: expected a URL"),
    ("stores: [{url: 'http://a', colour: red}]", r"query.stores\[0\]: unknown key 'colour'"),
    ("stores: [{url: 'http://a', name: 3}]", r"query.stores\[0\].name: expected a string"),
    ("stores: [{url: 'http://a', basic_auth: {password: p}}]", r"query.stores\[0\].basic_auth: expected username"),
    ("stores: [{url: 'http://a', authorization: {type: Bearer}}]", r"query.stores\[0\].authorization: expected"),
    ("stores: [{url: 'http://a', basic_auth: {username: u}, authorization: {credentials: c}}]",
     r"query.stores\[0\]: at most one of basic_auth and authorization"),
    ("stores: [{url: 'http://a', tls_config: {cafile: x}}]", r"query.stores\[0\].tls_config: unknown key 'cafile'"),
    ("stores: [{url: 'http://a', tls_config: {insecure_skip_verify: 'yes'}}]",
     r"query.stores\[0\].tls_config.insecure_skip_verify: expected a boolean"),
    ("stores: [http://a, http://a/]", r"query.stores\[1\]: duplicate store 'http://a'"),
    ("replica_labels: replica", "query.replica_labels: expected a list"),
    ("replica_labels: ['']", r"query.replica_labels\[0\]: expected a label name"),
    ("partial_response: maybe", "query.partial_response: expected true or false"),
    ("store_timeout: 0", "query.store_timeout: expected a positive duration"),
])
def test_errors_name_the_field(tmp_path: Path, yaml_text: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        _load(tmp_path, "query:\n  " + yaml_text + "\n")
