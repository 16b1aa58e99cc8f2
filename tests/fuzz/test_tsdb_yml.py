"""tsdb.yml (tsdb.config.load_server_config, then the rules, scrape, slos and dashboards sections as the
server checks them): ConfigError naming the file or section and key, or a config."""

from __future__ import annotations

import dataclasses

import yaml
from hypothesis import strategies as st

from tests.fuzz.harness import doc_fuzzer, seed_fuzzer, text_fuzzer
from tests.fuzz.strategies import corpus_seeds, doc_blocks, dump_yaml, values
from tsdb.config import GraphiteOptions, InfluxOptions, IngestOptions, QueryOptions, ServerConfig, StorageOptions
from tsdb.rules.config import _KEYS as RULES_KEYS
from tsdb.scrape.config import _JOB_KEYS
from tsdb.server.components.dashboards import _KEYS as DASHBOARD_KEYS
from tsdb.slo.config import _KEYS as SLO_KEYS


def _yaml_names(cls: type) -> set[str]:
    return {f.name.removesuffix("_ms") for f in dataclasses.fields(cls)} - {"config_dir"}


TOP = sorted(_yaml_names(ServerConfig))
SECTION_KEYS = {"storage": _yaml_names(StorageOptions), "query": _yaml_names(QueryOptions),
                "ingest": _yaml_names(IngestOptions), "influx": _yaml_names(InfluxOptions),
                "graphite": _yaml_names(GraphiteOptions), "rules": RULES_KEYS, "slos": SLO_KEYS,
                "dashboards": DASHBOARD_KEYS, "scrape": {"global", "scrape_configs"}}
KEYS = sorted(set(TOP).union(*SECTION_KEYS.values(), _JOB_KEYS, {"targets", "labels", "url", "files"}))


def _is_server_config(block: str) -> bool:
    try:
        doc = yaml.safe_load(block)
    except yaml.YAMLError:
        return False
    return isinstance(doc, dict) and bool(doc) and set(map(str, doc)) <= set(TOP)


SEEDS = [b for b in doc_blocks("yaml") if _is_server_config(b)] + corpus_seeds("tsdb_yml")

PLAUSIBLE: dict[str, list[object]] = {
    "retention": ["90d", "0s", 1e400, float("nan"), -1], "block_range": ["2h", "1500ms", 7.5],
    "wal_fsync": ["always", "1s", "sometimes", 5], "evaluation_interval": ["1m", "0s", 1e400],
    "scrape_interval": ["15s", "1s", 1e400], "scrape_timeout": ["10s", "1m"], "body_size_limit": ["10MB", "x"],
    "files": [["rules/*.yml"], "a.yml", [1]], "alertmanagers": [["http://a"], [{"url": 5}]], "period": ["30d", "7x"],
    "static_configs": [[{"targets": ["a:1"]}], [5], [{"labels": 5}]], "params": [{"a": ["b"]}, []],
    "sample_limit": [10, "x", 1e400], "basic_auth": [{"username": "u"}, "x"], "tls_config": [{"ca_file": "c"}, 3],
    "relabel_configs": [[{"action": "drop", "regex": "("}], [3]], "web_roles": [{"a": "read"}, {"a": "root"}, []],
    "alert_relabel_configs": [[{"action": "labeldrop", "regex": "replica"}], [{"action": "bogus"}], "x"],
}
job = st.fixed_dictionaries({"job_name": st.one_of(st.just("node"), values(KEYS))},
                            optional={k: st.one_of(st.sampled_from(PLAUSIBLE.get(k, [None])), values(KEYS))
                                      for k in sorted(_JOB_KEYS - {"job_name"})})


def section(name: str) -> st.SearchStrategy[object]:
    """A section: mostly its own keys with plausible values, sometimes anything."""
    keys = sorted(SECTION_KEYS.get(name, ()))
    if name == "scrape":
        inner = st.fixed_dictionaries({}, optional={"global": values(KEYS), "scrape_configs": st.one_of(
            st.lists(job, max_size=2), values(KEYS))})
    elif keys:
        inner = st.fixed_dictionaries({}, optional={k: st.one_of(st.sampled_from(PLAUSIBLE.get(k, [None])),
                                                                 values(KEYS)) for k in keys})
    else:
        inner = st.sampled_from(PLAUSIBLE.get(name, [None]))
    return st.one_of(inner, values(KEYS))


configs = st.fixed_dictionaries({}, optional={name: section(name) for name in TOP})

test_arbitrary_text = text_fuzzer("tsdb_yml", 40)
test_schema_documents = doc_fuzzer("tsdb_yml", 150, configs, dump_yaml)
test_mutated_examples = seed_fuzzer("tsdb_yml", 80, SEEDS, dump_yaml)
