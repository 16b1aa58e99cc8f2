"""The ``bucket:`` and ``store:`` sections: validation errors name the field, secrets are masked, and
``--store-only`` needs a bucket."""

from __future__ import annotations

from pathlib import Path

import pytest

from tsdb.cli.main import main
from tsdb.config import BucketOptions, StoreOptions, load_server_config
from tsdb.errors import ConfigError
from tsdb.server.status import config_yaml

GOOD = """
bucket:
  endpoint: http://127.0.0.1:8333
  bucket: tsdb-long-term
  prefix: prod/eu
  region: eu-west-1
  access_key: AKIAEXAMPLE
  secret_key: very-secret-value
  insecure: true
  upload_interval: 10s
  local_retention: 2h
store:
  enabled: true
  cache_dir: cache
  cache_max_bytes: 1000000
  refresh_interval: 30s
"""


def test_a_full_section_loads_and_its_keys_are_masked(tmp_path: Path) -> None:
    path = tmp_path / "tsdb.yml"
    path.write_text(GOOD)
    config = load_server_config(path)
    assert config.bucket == BucketOptions(endpoint="http://127.0.0.1:8333", bucket="tsdb-long-term",
                                          prefix="prod/eu", region="eu-west-1", access_key="AKIAEXAMPLE",
                                          secret_key="very-secret-value", insecure=True, upload_interval_ms=10_000,
                                          local_retention_ms=2 * 3_600_000)
    assert config.store == StoreOptions(enabled=True, cache_dir="cache", cache_max_bytes=1_000_000,
                                        refresh_interval_ms=30_000)
    assert (config.bucket.scheme, config.bucket.host) == ("http", "127.0.0.1:8333")
    shown = config_yaml(config)
    assert "AKIAEXAMPLE" not in shown and "very-secret-value" not in shown
    assert "access_key: <secret>" in shown and "secret_key: <secret>" in shown


def test_defaults_are_off() -> None:
    assert not BucketOptions().enabled and not StoreOptions().enabled
    assert (BucketOptions(bucket="abc", endpoint="s3.example.com").scheme, BucketOptions(
        bucket="abc", endpoint="minio:9000", insecure=True).scheme) == ("https", "http")


@pytest.mark.parametrize(("section", "message"), [
    ("bucket: {bucket: Bad_Name}", "bucket.bucket: invalid bucket name 'Bad_Name'"),
    ("bucket: {bucket: ab}", "bucket.bucket: invalid bucket name"),
    ("bucket: {bucket: abc, endpoint: 'ftp://x'}", "bucket.endpoint: expected http(s)://host[:port]"),
    ("bucket: {bucket: abc, endpoint: 'http://x:99999', insecure: true}", "bucket.endpoint"),
    ("bucket: {bucket: abc, endpoint: 'http://x/path', insecure: true}", "bucket.endpoint"),
    ("bucket: {bucket: abc, endpoint: 'http://x:9000'}", "bucket.insecure: the endpoint uses plain http://"),
    ("bucket: {bucket: abc, insecure: true}", "bucket.insecure: needs an endpoint"),
    ("bucket: {bucket: abc, insecure: 'yes'}", "bucket.insecure: expected true or false"),
    ("bucket: {bucket: abc, access_key: AK}", "bucket.secret_key: access_key and secret_key go together"),
    ("bucket: {bucket: abc, secret_key: SK}", "bucket.access_key: access_key and secret_key go together"),
    ("bucket: {bucket: abc, prefix: /lead}", "bucket.prefix"),
    ("bucket: {bucket: abc, prefix: 'a/../b'}", "bucket.prefix"),
    ("bucket: {bucket: abc, region: 5}", "bucket.region: expected a string"),
    ("bucket: {bucket: abc, upload_interval: 0}", "bucket.upload_interval: must be positive"),
    ("bucket: {bucket: abc, upload_interval: soon}", "bucket.upload_interval: invalid duration"),
    ("bucket: {bucket: abc, local_retention: -1}", "bucket.local_retention: must not be negative"),
    ("bucket: {bucket: abc, colour: red}", "unknown key 'colour'"),
    ("bucket: {bucket: abc}\nstore: {enabled: 1}", "store.enabled: expected true or false"),
    ("bucket: {bucket: abc}\nstore: {enabled: true, cache_max_bytes: 0}", "store.cache_max_bytes"),
    ("bucket: {bucket: abc}\nstore: {enabled: true, cache_dir: 5}", "store.cache_dir"),
    ("bucket: {bucket: abc}\nstore: {enabled: true, refresh_interval: 0}", "store.refresh_interval"),
    ("bucket: {bucket: abc}\nstore: {only: true}", "store.only: needs store.enabled"),
    ("store: {enabled: true}", "store.enabled: serving from object storage needs a bucket section"),
    ("bucket: 5", "bucket: expected a mapping"),
])
def test_bad_values_name_the_field(tmp_path: Path, section: str, message: str) -> None:
    path = tmp_path / "tsdb.yml"
    path.write_text(section + "\n")
    with pytest.raises(ConfigError) as info:
        load_server_config(path)
    assert message in str(info.value)


def test_store_only_needs_a_bucket(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--data-dir", str(tmp_path / "d"), "--store-only"]) == 2
    assert "--store-only: needs a config file with a bucket section" in capsys.readouterr().err


def test_the_documented_example_loads(tmp_path: Path) -> None:
    doc = Path(__file__).resolve().parents[3] / "docs" / "object-storage.md"
    example = doc.read_text().split("## Configuration", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "tsdb.yml"
    path.write_text(example)
    config = load_server_config(path)
    assert config.bucket.enabled and config.bucket.scheme == "https" and not config.store.enabled
    assert config.external_labels == {"cluster": "eu-1", "replica": "a"}
