"""HTTP API time, duration and limit parameters (tsdb.server.params): InvalidArgumentError naming the
parameter, or int64 milliseconds."""

from __future__ import annotations

from hypothesis import strategies as st

from tests.fuzz.harness import doc_fuzzer, seed_fuzzer, text_fuzzer
from tests.fuzz.strategies import corpus_seeds

ALPHABET = st.sampled_from([*"0123456789.eE+-:TZzt smhdwyn_xInfa", "ms", "µs"])
SEEDS = ["1h30m", "2015-07-01T20:10:51.781Z", "1435781451.781", "-292273086-05-16T16:47:06Z", "5m",
         "1e308", *corpus_seeds("params")]
numbers = st.one_of(st.floats().map(repr), st.integers(-(2**80), 2**80).map(str),
                    st.builds(lambda a, u: f"{a}{u}", st.integers(-(2**70), 2**70),
                              st.sampled_from(["ms", "s", "m", "h", "d", "w", "y", "x", ""])),
                    st.datetimes().map(lambda d: d.isoformat() + "Z"))

test_arbitrary_text = text_fuzzer("params", 100, max_size=60)
test_param_alphabet = text_fuzzer("params", 200, ALPHABET, max_size=40)
test_schema_values = doc_fuzzer("params", 150, numbers, str)
test_mutated_examples = seed_fuzzer("params", 100, SEEDS)
