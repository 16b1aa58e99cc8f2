"""``remote_write:`` validation: errors name the field; secrets are masked in the status config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tsdb.cli.check import check_config
from tsdb.config import ServerConfig, load_server_config
from tsdb.errors import ConfigError
from tsdb.remote.config import parse_remote_write
from tsdb.server.status import config_yaml

URL = "http://127.0.0.1:9090/api/v1/write"


@pytest.mark.parametrize(("entry", "message"), [
    ({"url": URL, "queue_config": {"max_shards": 0}}, "remote_write[1].queue_config.max_shards: must be >= 1"),
    ({"url": URL, "queue_config": {"capacity": "x"}}, "remote_write[1].queue_config.capacity: expected a whole"),
    ({"url": URL, "queue_config": {"min_shards": 5, "max_shards": 2}}, "queue_config.min_shards: must be <="),
    ({"url": URL, "queue_config": {"min_backoff": "10s"}}, "queue_config.min_backoff: must be <= max_backoff"),
    ({"url": URL, "queue_config": {"batch_send_deadline": "0s"}}, "batch_send_deadline: must be positive"),
    ({"url": URL, "queue_config": {"retry_on_http_429": "yes"}}, "retry_on_http_429: expected true or false"),
    ({"url": URL, "queue_config": {"shards": 1}}, "remote_write[1].queue_config: unknown key 'shards'"),
    ({"url": URL, "queue_config": []}, "remote_write[1].queue_config: expected a mapping"),
    ({"url": "ftp://x/y"}, "remote_write[1].url: expected an http:// or https:// URL"),
    ({"name": "x"}, "remote_write[1].url: a URL is required"),
    ({"url": URL, "name": "a b"}, "remote_write[1].name: expected letters"),
    ({"url": URL, "remote_timeout": "soon"}, "remote_write[1].remote_timeout: invalid duration"),
    ({"url": URL, "remote_timeout": 0}, "remote_write[1].remote_timeout: must be positive"),
    ({"url": URL, "headers": {"Authorization": "x"}}, "remote_write[1].headers.Authorization: Authorization is a "
                                                      "reserved header"),
    ({"url": URL, "headers": {"X-A": ["x"]}}, "remote_write[1].headers.X-A: expected a string"),
    ({"url": URL, "basic_auth": {"username": "u"}, "bearer_token": "t"}, "at most one of basic_auth"),
    ({"url": URL, "basic_auth": {"password": "p", "password_file": "f"}}, "basic_auth: at most one of password"),
    ({"url": URL, "basic_auth": {"password_file": "/nonexistent/pw"}}, "basic_auth.password_file: cannot read"),
    ({"url": URL, "authorization": {"type": "Basic"}}, "authorization.type: authorization type cannot be set"),
    ({"url": URL, "tls_config": {"cert_file": "c.pem"}}, "tls_config: cert_file and key_file must be given together"),
    ({"url": URL, "tls_config": {"insecure_skip_verify": 1}}, "insecure_skip_verify: expected true or false"),
    ({"url": URL, "tls_config": {"ca": "x"}}, "tls_config: unknown key 'ca'"),
    ({"url": URL, "write_relabel_configs": [{"action": "nope"}]}, "write_relabel_configs[0].action: unknown"),
    ({"url": URL, "max_disk_bytes": 10}, "remote_write[1].max_disk_bytes: must be >= 1048576"),
    ({"url": URL, "urls": "x"}, "remote_write[1]: unknown key 'urls'"),
    ({"url": "http://u:pw@other/api/v1/write"}, "remote_write[1]: duplicate remote write name 'a'"),
])
def test_errors_name_the_field(entry: dict[str, Any], message: str) -> None:
    first = {"url": "http://other/api/v1/write", "name": "a"}
    if "duplicate" in message:
        entry = {**entry, "name": "a"}
    with pytest.raises(ConfigError) as info:
        parse_remote_write([first, entry])
    assert message in str(info.value)


def test_duplicate_unnamed_urls_and_not_a_list() -> None:
    with pytest.raises(ConfigError, match=r"remote_write\[1\]: duplicate remote write url"):
        parse_remote_write([{"url": URL}, {"url": URL}])
    with pytest.raises(ConfigError, match="remote_write: expected a list"):
        parse_remote_write({"url": URL})
    with pytest.raises(ConfigError, match=r"remote_write\[0\]: expected a mapping"):
        parse_remote_write(["x"])


def test_defaults_ignored_keys_and_files(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("secret-pw\n")
    (tmp_path / "tok").write_text("tok\n")
    first, second, third = parse_remote_write([
        {"url": URL, "send_exemplars": True, "metadata_config": {"send": True},
         "basic_auth": {"username": "u", "password_file": str(tmp_path / "pw")}},
        {"url": URL + "2", "authorization": {"credentials_file": str(tmp_path / "tok")},
         "tls_config": {"insecure_skip_verify": True, "ca_file": "ca.pem"}},
        {"url": URL + "3", "bearer_token_file": str(tmp_path / "tok"), "queue_config": {"max_shards": 3}}])
    assert first.basic_auth == ("u", "secret-pw")
    assert first.queue.max_samples_per_send == 2000 and first.queue.max_shards == 50
    assert len(first.remote_name) == 6 and first.remote_name == first.queue_dir[:6]
    assert second.authorization == ("Bearer", "tok") and second.tls.insecure_skip_verify
    assert third.authorization == ("Bearer", "tok") and third.queue.max_shards == 3
    assert parse_remote_write(None) == ()


def test_server_config_validates_and_masks(tmp_path: Path) -> None:
    path = tmp_path / "tsdb.yml"
    path.write_text(f"""
remote_write:
  - url: {URL}
    name: main
    basic_auth: {{username: u, password: hunter2}}
  - url: {URL}x
    bearer_token: tok-123
    authorization: null
  - url: {URL}y
    authorization: {{credentials: cred-456}}
""")
    config = load_server_config(path)
    text = config_yaml(config)
    assert "hunter2" not in text and "tok-123" not in text and "cred-456" not in text
    assert "<secret>" in text and "name: main" in text
    path.write_text(f"remote_write:\n  - url: {URL}\n    queue_config: {{max_shards: 0}}\n")
    ok, message = check_config(str(path))  # what ``tsdb check config`` and ``tsdb serve`` refuse
    assert not ok and message == "remote_write[0].queue_config.max_shards: must be >= 1"
    assert ServerConfig().remote_write == []
