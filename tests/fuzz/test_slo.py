"""SLO specs, Sloth and OpenSLO (tsdb.slo.spec.parse_specs): SpecError naming the file, SLO and field, or
the specs."""

from __future__ import annotations

from hypothesis import strategies as st

from tests.fuzz.harness import doc_fuzzer, seed_fuzzer, text_fuzzer
from tests.fuzz.strategies import corpus_seeds, doc_blocks, dump_yaml, read_seeds, values

KEYS = ["version", "service", "labels", "slos", "name", "objective", "description", "sli", "events", "raw",
        "error_query", "total_query", "error_ratio_query", "alerting", "page_alert", "ticket_alert", "disable",
        "annotations", "plugin", "apiVersion", "kind", "metadata", "spec", "indicator", "indicatorRef",
        "ratioMetric", "good", "bad", "total", "metricSource", "type", "query", "timeWindow", "duration",
        "isRolling", "budgetingMethod", "objectives", "target", "targetPercent", "counter", "thresholdMetric"]
SEEDS = read_seeds(["tests/slo/data/**/*.yaml", "tests/slo/data/examples/*.yml"]) \
    + [b for b in doc_blocks("yaml") if "prometheus/v1" in b or "openslo/" in b] + corpus_seeds("slo")

QUERY = st.sampled_from(["sum(rate(x[{{.window}}]))", "rate(x[5m])", "sum(rate(x[{{.window}}])", "{{.window",
                         "{{ .window }} + 1", ""])
slo = st.fixed_dictionaries({"name": st.one_of(st.just("avail"), values(KEYS))}, optional={
    "objective": st.one_of(st.sampled_from([99.9, 100, 0, 101, "99", 1e400]), values(KEYS)),
    "sli": st.one_of(st.fixed_dictionaries({}, optional={
        "events": st.fixed_dictionaries({}, optional={"error_query": QUERY, "total_query": QUERY}),
        "raw": st.fixed_dictionaries({}, optional={"error_ratio_query": QUERY})}), values(KEYS)),
    "alerting": st.one_of(st.fixed_dictionaries({}, optional={
        "name": st.just("A"), "page_alert": values(KEYS), "ticket_alert": st.just({"disable": True})}), values(KEYS)),
    "labels": values(KEYS)})
sloth = st.fixed_dictionaries({"version": st.sampled_from(["prometheus/v1", "prometheus/v2"]),
                               "service": st.one_of(st.just("svc"), values(KEYS))},
                              optional={"slos": st.one_of(st.lists(slo, max_size=2), values(KEYS)),
                                        "labels": values(KEYS)})
openslo = st.fixed_dictionaries({"apiVersion": st.sampled_from(["openslo/v1", "openslo/v1alpha"]),
                                 "kind": st.sampled_from(["SLO", "SLI", "Service"])},
                                optional={"metadata": st.one_of(st.just({"name": "x"}), values(KEYS)),
                                          "spec": values(KEYS)})

test_arbitrary_text = text_fuzzer("slo", 60)
test_schema_documents = doc_fuzzer("slo", 150, st.one_of(sloth, openslo), dump_yaml)
test_mutated_examples = seed_fuzzer("slo", 150, SEEDS, dump_yaml)
