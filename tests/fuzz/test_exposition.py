"""The Prometheus text exposition (tsdb.scrape.exposition.parse_text): ExpositionError naming the line, or
the samples."""

from __future__ import annotations

from hypothesis import strategies as st

from tests.fuzz.harness import doc_fuzzer, seed_fuzzer, text_fuzzer
from tests.fuzz.strategies import corpus_seeds

SEEDS = corpus_seeds("exposition")
ALPHABET = st.sampled_from([*'abc_:{}=",\\ \t\n#01.eE+-xXpPInfNa', "HELP ", "TYPE ", "# ", "\r", "é"])

names = st.sampled_from(["up", "a_b:c", "x", "0bad", "", "__name__"])
label = st.tuples(st.sampled_from(["job", "le", "__name__", "a b", ""]), st.lists(ALPHABET, max_size=8).map("".join))
line = st.one_of(
    st.builds(lambda n, ls, v, t: n + ("{" + ",".join(f'{k}="{x}"' for k, x in ls) + "}" if ls else "") + f" {v}"
              + (f" {t}" if t is not None else ""),
              names, st.lists(label, max_size=3),
              st.one_of(st.sampled_from(["1", "NaN", "+Inf", "-inf", "0x1p3", "0x1p99999", "1_0", "1e999", ".5", "-"]),
                        st.floats().map(repr)),
              st.one_of(st.none(), st.integers(-(2**70), 2**70).map(str), st.sampled_from(["1.5", "x"]))),
    st.builds(lambda kind, n, rest: f"# {kind} {n} {rest}", st.sampled_from(["HELP", "TYPE", "EOF", "UNIT"]), names,
              st.one_of(st.sampled_from(["counter", "gauge", "histogram", "bogus", ""]),
                        st.lists(ALPHABET, max_size=10).map("".join))))

test_arbitrary_text = text_fuzzer("exposition", 100)
test_exposition_alphabet = text_fuzzer("exposition", 100, ALPHABET, max_size=400)
test_schema_documents = doc_fuzzer("exposition", 100, st.lists(line, max_size=8), "\n".join)
test_mutated_examples = seed_fuzzer("exposition", 100, SEEDS)
