"""The metadata store: per-source replacement, distinct entries, Prometheus's limit semantics, targets."""

from __future__ import annotations

from tsdb.scrape.host import collect_host, host_metadata
from tsdb.storage.metadata import MetadataStore, MetricMetadata, normalise_type


def _store() -> MetadataStore:
    store = MetadataStore()
    store.replace("t1", [MetricMetadata("up", "gauge", "Up."), MetricMetadata("req_total", "counter", "Requests.")],
                  target={"job": "api", "instance": "a:1"})
    store.replace("t2", [MetricMetadata("req_total", "counter", "Requests served."),
                         MetricMetadata("up", "gauge", "Up.")], target={"job": "web", "instance": "b:1"})
    store.update("remote_write", [MetricMetadata("lat_seconds", "histogram", "Latency.", "seconds")])
    return store


def test_distinct_entries_per_metric_and_limits() -> None:
    store = _store()
    data = store.metadata()
    assert list(data) == ["lat_seconds", "req_total", "up"]
    assert data["up"] == [{"type": "gauge", "help": "Up.", "unit": ""}]  # the same entry from two targets: once
    assert len(data["req_total"]) == 2 and data["lat_seconds"][0]["unit"] == "seconds"
    assert list(store.metadata(limit=1)) == ["lat_seconds"] and store.metadata(limit=0) == {}
    assert len(store.metadata(limit_per_metric=1)["req_total"]) == 1
    assert list(store.metadata(metric="up")) == ["up"] and store.metadata(metric="nope") == {}


def test_a_source_is_replaced_and_dropped_whole() -> None:
    store = _store()
    store.replace("t1", [MetricMetadata("up", "gauge", "Up.")], target={"job": "api", "instance": "a:1"})
    assert store.metadata()["req_total"] == [{"type": "counter", "help": "Requests served.", "unit": ""}]
    store.drop("t2")
    assert "req_total" not in store.metadata()
    store.update("remote_write", [MetricMetadata("lat_seconds", "histogram", "Latency!", "seconds")])
    assert store.metadata()["lat_seconds"][0]["help"] == "Latency!"


def test_targets_metadata() -> None:
    store = _store()
    everything = store.targets_metadata(lambda labels: True)
    assert [(e["target"]["job"], e["metric"]) for e in everything] == [
        ("api", "req_total"), ("api", "up"), ("web", "req_total"), ("web", "up")]  # remote-write has no target
    one = store.targets_metadata(lambda labels: labels["job"] == "web", metric="up")
    assert one == [{"target": {"job": "web", "instance": "b:1"}, "type": "gauge", "help": "Up.", "unit": ""}]
    assert len(store.targets_metadata(lambda labels: True, limit=3)) == 3
    assert store.targets_metadata(lambda labels: True, limit=0) == []


def test_types_and_host_help() -> None:
    assert normalise_type("untyped") == "unknown" and normalise_type("") == "unknown"
    assert normalise_type("Counter") == "counter"
    described = {name for name, _, _ in host_metadata()}
    collected = {labels["__name__"] for labels, _ in collect_host()}
    assert collected <= described, f"host metrics without metadata: {sorted(collected - described)}"
