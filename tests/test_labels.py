"""Labels and Matcher: ordering, hashing, validation, PromQL matcher semantics."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsdb.errors import InvalidLabelsError, InvalidMatcherError
from tsdb.labels import EMPTY_LABELS, Labels, Matcher, MatchType, compare_labels, matches_all
from tsdb.regex import backtracking_risk, compile_python

names = st.text(alphabet="abcxyz_", min_size=1, max_size=4)
values = st.text(min_size=1, max_size=6)
label_dicts = st.dictionaries(names, values, max_size=5)


def test_sorted_and_flat() -> None:
    labels = Labels({"job": "api", "__name__": "up", "instance": "a:1"})
    assert labels.names() == ("__name__", "instance", "job")
    assert labels.values() == ("up", "a:1", "api")
    assert list(labels) == ["__name__", "instance", "job"]
    assert len(labels) == 3
    assert labels["job"] == "api"
    assert labels.get("missing") == ""
    assert labels.get("missing", None) is None
    assert "job" in labels and "nope" not in labels
    assert labels.metric_name == "up"
    assert labels.to_dict() == {"__name__": "up", "instance": "a:1", "job": "api"}
    with pytest.raises(KeyError):
        labels["nope"]


def test_empty_values_are_absent_and_duplicates_rejected() -> None:
    assert Labels({"a": "", "b": "1"}) == Labels({"b": "1"})
    with pytest.raises(InvalidLabelsError, match="duplicate label name 'a'"):
        Labels([("a", "1"), ("a", "2")])
    with pytest.raises(InvalidLabelsError, match="even number"):
        Labels.from_strings("a")
    assert Labels.from_strings("b", "2", "a", "1") == Labels({"a": "1", "b": "2"})


def test_derivations() -> None:
    labels = Labels({"__name__": "m", "a": "1", "b": "2"})
    assert labels.without(["a"]) == Labels({"__name__": "m", "b": "2"})
    assert labels.keep(["a", "zz"]) == Labels({"a": "1"})
    assert labels.without_metric_name() == Labels({"a": "1", "b": "2"})
    assert Labels({"a": "1"}).without_metric_name() == Labels({"a": "1"})
    assert labels.with_labels({"a": "", "c": "3"}) == Labels({"__name__": "m", "b": "2", "c": "3"})


def test_string_forms() -> None:
    assert str(Labels({"__name__": "up"})) == "up"
    assert str(Labels({"__name__": "up", "job": 'a"b\\'})) == 'up{job="a\\"b\\\\"}'
    assert str(Labels({"job": "x"})) == '{job="x"}'
    assert str(Labels({"__name__": "my.metric", "lab.el": "v"})) == '{"my.metric", "lab.el"="v"}'
    assert str(EMPTY_LABELS) == "{}"
    assert "Labels(" in repr(Labels({"a": "1"}))


def test_validate() -> None:
    Labels({"__name__": "up", "job": "x"}).validate()
    Labels({"__name__": "my.metric"}).validate()
    with pytest.raises(InvalidLabelsError, match="empty label set"):
        EMPTY_LABELS.validate()
    with pytest.raises(InvalidLabelsError, match="empty label name"):
        Labels({"": "x"}).validate()
    with pytest.raises(InvalidLabelsError, match="invalid metric name"):
        Labels({"__name__": "my.metric"}).validate("legacy")
    with pytest.raises(InvalidLabelsError, match="invalid label name 'a-b'"):
        Labels({"__name__": "m", "a-b": "1"}).validate("legacy")


def test_stable_hash_is_the_same_in_another_process() -> None:
    labels = Labels({"__name__": "up", "job": "node"})
    code = "from tsdb.labels import Labels; print(Labels({'__name__': 'up', 'job': 'node'}).stable_hash())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123"})
    assert int(out.stdout) == labels.stable_hash()
    assert labels.stable_hash() != Labels({"__name__": "up", "job": "nod"}).stable_hash()
    # the separator makes the encoding unambiguous
    assert Labels({"a": "bc"}).encode() != Labels({"ab": "c"}).encode()


def test_pickle_round_trip() -> None:
    labels = Labels({"a": "1"})
    assert pickle.loads(pickle.dumps(labels)) == labels


@given(label_dicts, label_dicts)
def test_order_matches_prometheus(a: dict[str, str], b: dict[str, str]) -> None:
    la, lb = Labels(a), Labels(b)
    expected = (sorted(a.items()) > sorted(b.items())) - (sorted(a.items()) < sorted(b.items()))
    assert compare_labels(la, lb) == expected
    assert (la < lb) == (expected < 0) and (la <= lb) == (expected <= 0)
    assert (la > lb) == (expected > 0) and (la >= lb) == (expected >= 0)
    assert (la == lb) == (a == b) and (la != lb) == (a != b)
    if a == b:
        assert hash(la) == hash(lb) and la.stable_hash() == lb.stable_hash()


@pytest.mark.parametrize(
    ("op", "value", "subject", "expected"),
    [
        ("=", "a", "a", True), ("=", "a", "b", False), ("=", "", "", True),
        ("!=", "a", "a", False), ("!=", "a", "", True),
        ("=~", "a|b", "b", True), ("=~", "a|b", "ab", False), ("=~", "a.*", "abc", True),
        ("=~", "a.*", "xa", False), ("=~", ".*", "", True), ("=~", ".+", "", False),
        ("=~", "a.c", "a\nc", True), ("!~", "a|b", "c", True), ("!~", "a+", "aaa", False),
        ("=~", "[[:digit:]]+", "123", True), ("=~", "(?i)ABC", "abc", True), ("=~", "a\\z", "a", True),
    ],
)
def test_matcher_semantics(op: str, value: str, subject: str, expected: bool) -> None:
    assert Matcher(op, "x", value).matches(subject) is expected


def test_matcher_identity_and_helpers() -> None:
    m = Matcher(MatchType.REGEX, "job", "a|b")
    assert m == Matcher("=~", "job", "a|b") and hash(m) == hash(Matcher("=~", "job", "a|b"))
    assert m != Matcher("=~", "job", "a")
    assert m.set_matches() == frozenset({"a", "b"})
    assert Matcher.equal("a", "1").set_matches() == frozenset({"1"})
    assert Matcher("!=", "a", "1").set_matches() is None
    assert Matcher("=~", "a", "a.*").set_matches() is None
    assert Matcher("=~", "a", ".*").matches_empty()
    assert not Matcher("=", "a", "x").matches_empty()
    assert str(Matcher("=~", "job", 'a"b')) == 'job=~"a\\"b"'
    assert str(Matcher("=", "la.bel", "v")) == '"la.bel"="v"'
    assert "Matcher(" in repr(m)
    labels = Labels({"job": "a", "env": "prod"})
    assert matches_all([m, Matcher("=", "env", "prod"), Matcher("=", "missing", "")], labels)
    assert not matches_all([m, Matcher("!=", "env", "prod")], labels)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [("(?=a)", "invalid perl operator"), ("(?<!a)b", "invalid perl operator"), ("(a)\\1", "invalid escape"),
     ("(?P<x>a)(?P=x)", "invalid perl operator"), ("[[:nope:]]", "invalid character class range"),
     ("a(", "missing \\)")],
)
def test_matcher_rejects_non_re2(pattern: str, message: str) -> None:
    with pytest.raises(InvalidMatcherError, match=message):
        Matcher("=~", "x", pattern)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [("(?=a)", "look-around"), ("(?<!a)b", "look-around"), ("(a)\\1", "back-references"),
     ("(?P<x>a)(?P=x)", "back-references"), ("[[:nope:]]", "unknown class"),
     ("[[:^digit:]]", "negated POSIX"), ("a(", "invalid regular expression")],
)
def test_translation_to_python_re_refuses_what_it_cannot_express(pattern: str, message: str) -> None:
    """Where google-re2 is missing, patterns are translated; what RE2 refuses is refused there too."""
    with pytest.raises(InvalidMatcherError, match=message):
        compile_python(pattern)


def test_re2_syntax_python_cannot_translate_runs_on_re2() -> None:
    m = Matcher("=~", "x", "[[:^digit:]]+")  # a negated POSIX class: RE2 (and Prometheus) accept it
    assert m.matches("abc") and not m.matches("a1")


@pytest.mark.parametrize(
    ("pattern", "risky"),
    [("(a+)+b", True), ("(a|aa)*", True), ("(x(a*))+", True), (".*.*.*x", True), ("a{2,}b+c*", True),
     (".*foo.*", False), ("(a|b)c+", False), ("[(+)*]+x", False), ("(ab)+", False), ("a{2}(b)?", False),
     ("\\(a+\\)+", False), ("node_.*_total", False)],
)
def test_backtracking_risk(pattern: str, risky: bool) -> None:
    assert backtracking_risk(pattern) is risky


def test_catastrophic_patterns_run_in_linear_time() -> None:
    """``(a+)+b`` against forty a's and a c takes a backtracking engine about 2**40 steps; RE2 answers at once."""
    value = "a" * 40 + "c"
    done: list[bool] = []
    worker = threading.Thread(target=lambda: done.append(Matcher("=~", "x", "(a+)+b").matches(value)),
                              daemon=True)
    worker.start()
    worker.join(timeout=30)  # a hang guard, not a timing
    assert done == [False]


def test_unknown_operator() -> None:
    with pytest.raises(InvalidMatcherError, match="unknown matcher operator '<>' for label 'x'"):
        Matcher("<>", "x", "1")
