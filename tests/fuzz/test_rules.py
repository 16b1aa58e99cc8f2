"""Rule files (tsdb.rules.loader.parse_rule_text): ConfigError naming the file, group and rule, or groups."""

from __future__ import annotations

from hypothesis import strategies as st

from tests.fuzz.harness import doc_fuzzer, seed_fuzzer, text_fuzzer
from tests.fuzz.strategies import doc_blocks, dump_yaml, read_seeds, values
from tsdb.rules.loader import _GROUP_KEYS, _RULE_KEYS

KEYS = sorted(_GROUP_KEYS | _RULE_KEYS)
SEEDS = read_seeds(["tests/rules/data/*.yml"]) + [b for b in doc_blocks("yaml") if "groups:" in b]

PLAUSIBLE = {"record": ["job:up:sum", "a b"], "alert": ["Down", ""], "expr": ["up", "sum by (job) (up)", "up ==", ""],
             "recovery_expr": ["up > 0", "("], "for": ["5m", "-1s", 1e400, float("nan"), 2**70],
             "keep_firing_for": ["1m", "x"], "labels": [{"severity": "page"}, {"a-b": 1}, {"x": "{{ $value }"}],
             "annotations": [{"summary": "{{ $labels.job }} down"}, {"s": "{{ .Nope"}],
             "no_data": ["ok", "alerting", "never"], "interval": ["1m", "0s", -5, 1e400],
             "query_offset": ["30s", "bad"], "limit": [10, -1, "3", True]}


def field(key: str) -> st.SearchStrategy[object]:
    """A plausible value of ``key`` (valid or nearly), or any value."""
    return st.one_of(st.sampled_from(PLAUSIBLE.get(key, [None])), values(KEYS))


rule = st.fixed_dictionaries({}, optional={k: field(k) for k in sorted(_RULE_KEYS)})
group = st.fixed_dictionaries({"name": st.one_of(st.just("g"), values(KEYS))}, optional={
    **{k: field(k) for k in sorted(_GROUP_KEYS - {"rules", "name"})},
    "rules": st.one_of(st.lists(rule, max_size=3), values(KEYS))})
files = st.one_of(st.fixed_dictionaries({"groups": st.one_of(st.lists(group, max_size=3), values(KEYS))}),
                  values(KEYS))

test_arbitrary_text = text_fuzzer("rules", 60)
test_schema_documents = doc_fuzzer("rules", 100, files, dump_yaml)
test_mutated_examples = seed_fuzzer("rules", 100, SEEDS, dump_yaml)
