"""Hypothesis strategies shared by the fuzzers: bounded arbitrary text, schema-shaped documents, mutations.

Every strategy is bounded (sizes, depth), so one example is parsed in bounded time. ``TSDB_FUZZ_EXAMPLES``
raises the number of examples of every fuzzer for a longer local run.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]

_LONG_RUN = os.environ.get("TSDB_FUZZ_EXAMPLES")


def fuzz_settings(examples: int) -> settings:
    """``examples`` per fuzzer in the suite (CI keeps the whole fuzz run under a minute), or
    ``TSDB_FUZZ_EXAMPLES`` when set."""
    return settings(max_examples=int(_LONG_RUN) if _LONG_RUN else examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


INTERESTING = ["", " ", "0", "-1", "1", "1e400", "-1e400", ".inf", "-.inf", ".nan", "NaN", "+Inf",
               "9223372036854775808",
               "5m", "1h30m", "0s", "-5m", "90d", "1y", "500ms", "1.5h", "10MB", "512KiB", "true", "null", "~", "...",
               "up", "up{job=\"a\"}", "rate(x[5m])", "sum(", "{{ .window }}", "rate(x[{{.window}}])", "{{", "}}",
               "{{ $labels.x }}", "{{ end }}", "http://a", "https://a/", "a=b", "{a=~\"(\"}", "x\\", "\"", "'",
               "\x00", "\ufeff", "é", "\U0001f600", "\\x", "\\N{", "\\u12", "$2y$10$" + "a" * 53, "TLS13", "TLS99",
               "NoClientCert", "RequireAndVerifyClientCert", "openslo/v1", "prometheus/v1", "Occurrences", "30d",
               "now-6h", "timeseries", "row", "graph", "a" * 300]


def scalars() -> st.SearchStrategy[Any]:
    """YAML/JSON scalars, weighted to the values parsers trip over (infinities, huge ints, odd strings)."""
    return st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                     st.sampled_from([0, -1, 1, 24, 25, 2**63, -(2**63), 10**30]),
                     st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(INTERESTING),
                     st.text(max_size=20))


def values(keys: Sequence[str]) -> st.SearchStrategy[Any]:
    """Nested values whose mapping keys are mostly ``keys`` (the schema's), bounded in depth and width."""
    key = st.one_of(st.sampled_from(list(keys)), st.sampled_from(list(keys)), st.text(max_size=8)) if keys \
        else st.text(max_size=8)
    return st.recursive(scalars(), lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(key, inner, max_size=6)),
                        max_leaves=25)


def documents(keys: Sequence[str], top: Sequence[str] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Mappings keyed by ``top`` (default ``keys``) whose values are :func:`values` over ``keys``."""
    return st.dictionaries(st.sampled_from(list(top or keys)), values(keys), max_size=6)


def dump_yaml(doc: Any) -> str:
    """``doc`` as YAML (what a user would have written)."""
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def dump_json(doc: Any) -> str:
    """``doc`` as JSON; NaN and infinities as Python writes them (``NaN``, ``Infinity``)."""
    return json.dumps(doc)


def read_seeds(patterns: Iterable[str], limit: int = 60_000) -> list[str]:
    """Texts of the repository files matching ``patterns`` (globs from the repository root) under ``limit``
    characters, sorted by path."""
    out = []
    for pattern in patterns:
        for path in sorted(ROOT.glob(pattern)):
            text = path.read_text(encoding="utf-8")
            if len(text) <= limit:
                out.append(text)
    return out


def corpus_seeds(parser: str) -> list[str]:
    """The corpus inputs of ``parser`` (tests/fuzz/corpus/<parser>/*): they seed the mutation fuzzers too."""
    folder = Path(__file__).parent / "corpus" / parser
    return [p.read_bytes().decode("utf-8", errors="replace") for p in sorted(folder.iterdir()) if p.is_file()]


def doc_blocks(language: str) -> list[str]:
    """The fenced ``language`` code blocks of the user docs (docs/*.md)."""
    blocks = []
    for path in sorted((ROOT / "docs").glob("*.md")):
        inside: list[str] | None = None
        for line in path.read_text(encoding="utf-8").splitlines():
            if inside is None and line.strip() == f"```{language}":
                inside = []
            elif inside is not None and line.strip() == "```":
                blocks.append("\n".join(inside) + "\n")
                inside = None
            elif inside is not None:
                inside.append(line)
    return blocks


def _paths(doc: Any, prefix: tuple[Any, ...] = (), depth: int = 0) -> list[tuple[Any, ...]]:
    out = [prefix]
    if depth >= 12:
        return out
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.extend(_paths(v, (*prefix, k), depth + 1))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.extend(_paths(v, (*prefix, i), depth + 1))
    return out


def mutate_doc(doc: Any, rnd: random.Random, new_value: Any, steps: int = 3) -> Any:
    """``doc`` with up to ``steps`` nodes replaced by ``new_value``, deleted, or duplicated (a new object)."""
    doc = json.loads(json.dumps(doc, default=str))
    for _ in range(steps):
        path = rnd.choice(_paths(doc))
        if not path:
            doc = new_value
            continue
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        action = rnd.randrange(3)
        if action == 0:
            parent[last] = new_value
        elif action == 1:
            del parent[last]
        elif isinstance(parent, list):
            parent.insert(last, parent[last])
        else:
            parent[f"{last}_"] = parent[last]
    return doc


def mutate_text(text: str, rnd: random.Random, insert: str, steps: int = 3) -> str:
    """``text`` with up to ``steps`` byte-level edits: a cut, an insertion of ``insert``, a repeated line."""
    for _ in range(steps):
        if not text:
            return insert
        i = rnd.randrange(len(text))
        action = rnd.randrange(4)
        if action == 0:
            text = text[:i] + text[i + rnd.randrange(1, 20):]
        elif action == 1:
            text = text[:i] + insert + text[i:]
        elif action == 2:
            lines = text.split("\n")
            j = rnd.randrange(len(lines))
            lines.insert(j, lines[j])
            text = "\n".join(lines)
        else:
            text = text[:i] + chr(rnd.choice([0x20, 0x09, 0x0a, 0x22, 0x27, 0x3a, 0x2d, 0x7b, 0x7d, 0x5b, 0x5d,
                                              0x23, 0x26, 0x2a, 0x21, 0x7c, 0x3e])) + text[i + 1:]
    return text


def is_finite_json(doc: Any) -> bool:
    """No NaN or infinity anywhere in ``doc`` (strict JSON)."""
    if isinstance(doc, float):
        return math.isfinite(doc)
    if isinstance(doc, dict):
        return all(is_finite_json(v) for v in doc.values())
    if isinstance(doc, list):
        return all(is_finite_json(v) for v in doc)
    return True
