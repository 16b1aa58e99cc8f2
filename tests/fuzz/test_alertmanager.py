"""alertmanager.yml (tsdb.alerting.config.parse_config): ConfigError naming the key path, or a config."""

from __future__ import annotations

from hypothesis import strategies as st

from tests.fuzz.harness import doc_fuzzer, seed_fuzzer, text_fuzzer
from tests.fuzz.strategies import corpus_seeds, doc_blocks, dump_yaml, read_seeds, values
from tsdb.alerting.config import _ROUTE_KEYS, _TOP_KEYS

KEYS = sorted(_ROUTE_KEYS | _TOP_KEYS | {"name", "webhook_configs", "url", "source_matchers", "target_matchers",
                                         "source_match", "target_match_re", "equal", "time_intervals", "times",
                                         "weekdays", "start_time", "end_time", "location"})
SEEDS = read_seeds(["tests/alerting/data/*.yml"]) + [b for b in doc_blocks("yaml") if "route:" in b] \
    + corpus_seeds("alertmanager")

route = st.recursive(
    st.fixed_dictionaries({}, optional={"receiver": st.sampled_from(["default", "x", ""]),
                                        "group_by": st.one_of(st.just(["..."]), values(KEYS)),
                                        "group_wait": st.one_of(st.just("30s"), values(KEYS)),
                                        "matchers": st.one_of(st.lists(st.sampled_from(
                                            ['a="b"', "a=~x.*", "{a!=b}", 'a="\\x"', "a=(", "=b"]), max_size=2),
                                            values(KEYS)),
                                        "mute_time_intervals": st.one_of(st.just(["night"]), values(KEYS))}),
    lambda inner: st.fixed_dictionaries({"receiver": st.just("default")},
                                        optional={"routes": st.one_of(st.lists(inner, max_size=2), values(KEYS))}),
    max_leaves=4)
configs = st.fixed_dictionaries(
    {"route": st.one_of(route, values(KEYS))},
    optional={"receivers": st.one_of(st.just([{"name": "default"}, {"name": "x"}]), values(KEYS)),
              "inhibit_rules": st.one_of(st.lists(values(KEYS), max_size=2), values(KEYS)),
              "time_intervals": st.one_of(st.just([{"name": "night", "time_intervals": [
                  {"times": [{"start_time": "00:00", "end_time": "06:00"}]}]}]), values(KEYS)),
              "global": values(KEYS), "templates": values(KEYS)})

test_arbitrary_text = text_fuzzer("alertmanager", 60)
test_schema_documents = doc_fuzzer("alertmanager", 100, configs, dump_yaml)
test_mutated_examples = seed_fuzzer("alertmanager", 100, SEEDS, dump_yaml)
