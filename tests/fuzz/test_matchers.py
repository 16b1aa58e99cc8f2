"""Alertmanager matchers and silence recurrences (tsdb.alerting.matchers.parse_matchers,
tsdb.alerting.silences.recurrence_of): ConfigError naming the matcher, or the matchers."""

from __future__ import annotations

from hypothesis import strategies as st

from tests.fuzz.harness import doc_fuzzer, seed_fuzzer, text_fuzzer
from tests.fuzz.strategies import corpus_seeds, dump_json, values

ALPHABET = st.sampled_from([*'ab_{}=!~",\\ .*()[]^$|+?x0\n', "é", "\\x", "\\u", "\\N{"])
SEEDS = ['{a="b", c=~"d.*"}', "a=b", 'alertname!~"Watchdog|Info"', '{job="x\\"y", k!="a,b"}',
         *corpus_seeds("matchers")]
KEYS = ["times", "start_time", "end_time", "weekdays", "days_of_month", "months", "years", "location"]
matcher = st.builds(lambda n, op, v: f"{n}{op}{v}", st.sampled_from(["a", '"a"', "a b", "", "__name__"]),
                    st.sampled_from(["=", "!=", "=~", "!~", "==", "~"]), st.lists(ALPHABET, max_size=10).map("".join))
lists = st.builds(lambda ms, braces: ("{%s}" if braces else "%s") % ",".join(ms), st.lists(matcher, max_size=4),
                  st.booleans())
recurrences = st.lists(st.fixed_dictionaries({}, optional={
    "times": st.one_of(st.just([{"start_time": "02:00", "end_time": "04:00"}]), values(KEYS)),
    "weekdays": st.one_of(st.sampled_from([["sunday"], ["monday:friday"], ["friday:monday"], ["x"]]), values(KEYS)),
    "days_of_month": st.one_of(st.sampled_from([["1:5"], ["-1"], ["0"], ["32"]]), values(KEYS)),
    "months": st.one_of(st.sampled_from([["january"], ["1:13"]]), values(KEYS)),
    "years": st.one_of(st.sampled_from([["2020:2030"], ["x"]]), values(KEYS)),
    "location": st.sampled_from(["UTC", "Europe/Berlin", "Nowhere/Else", "../../etc/passwd", ""])}), max_size=3)

test_arbitrary_text = text_fuzzer("matchers", 100)
test_matcher_alphabet = text_fuzzer("matchers", 150, ALPHABET, max_size=100)
test_schema_matchers = doc_fuzzer("matchers", 150, lists, str)
test_recurrences = doc_fuzzer("matchers", 100, st.one_of(recurrences, values(KEYS)), dump_json)
test_mutated_examples = seed_fuzzer("matchers", 100, SEEDS)
