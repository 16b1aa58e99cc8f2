"""Dashboard JSON (tsdb.ui.grafana.import_grafana and tsdb.ui.model.normalise): DashboardError naming the
offending part, or a dashboard."""

from __future__ import annotations

import json

from hypothesis import strategies as st

from tests.fuzz.harness import doc_fuzzer, seed_fuzzer, text_fuzzer
from tests.fuzz.strategies import corpus_seeds, dump_json, read_seeds, values

KEYS = ["uid", "title", "panels", "rows", "gridPos", "x", "y", "w", "h", "type", "targets", "expr", "refId",
        "datasource", "templating", "list", "name", "query", "options", "current", "time", "from", "to", "refresh",
        "links", "url", "tags", "dashboard", "spec", "kind", "apiVersion", "collapsed", "id", "repeat", "height",
        "fieldConfig", "defaults", "unit", "variables", "schemaVersion", "annotations", "graphTooltip"]
SEEDS = read_seeds(["tests/ui/grafana/*.json"], limit=400_000) + corpus_seeds("dashboard")
panel = st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["timeseries", "graph", "row", "stat", "text", "bogus"]),
    "gridPos": st.one_of(st.fixed_dictionaries({k: st.one_of(st.integers(-2, 30), values(KEYS))
                                                for k in ("x", "y", "w", "h")}), values(KEYS)),
    "targets": st.one_of(st.lists(st.fixed_dictionaries({}, optional={"expr": st.sampled_from(["up", "sum("]),
                                                                      "refId": values(KEYS)}), max_size=2),
                         values(KEYS)),
    "id": values(KEYS), "title": values(KEYS), "panels": values(KEYS)})
dashboards = st.fixed_dictionaries({}, optional={
    "uid": values(KEYS), "title": values(KEYS), "panels": st.one_of(st.lists(panel, max_size=3), values(KEYS)),
    "rows": values(KEYS), "templating": values(KEYS), "time": values(KEYS), "links": values(KEYS),
    "variables": values(KEYS)})

test_arbitrary_text = text_fuzzer("dashboard", 40)
test_schema_documents = doc_fuzzer("dashboard", 120, st.one_of(dashboards, dashboards.map(lambda d: {"dashboard": d})),
                                   dump_json)
test_mutated_examples = seed_fuzzer("dashboard", 60, SEEDS, dump_json, json.loads)
