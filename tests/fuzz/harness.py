"""Builders of the three fuzzers every parser family gets: arbitrary text, schema-shaped documents, and
mutations of the repository's real example files."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.strategies import INTERESTING, fuzz_settings, mutate_doc, mutate_text, scalars
from tests.fuzz.targets import check

Fuzzer = Callable[..., None]


def text_fuzzer(name: str, examples: int, alphabet: st.SearchStrategy[str] | None = None,
                max_size: int = 2000) -> Fuzzer:
    """Arbitrary text (from ``alphabet`` when given) to target ``name``."""
    text = st.lists(alphabet, max_size=max_size).map("".join) if alphabet is not None else st.text(max_size=max_size)

    @fuzz_settings(examples)
    @given(text=text)
    def fuzz(text: str) -> None:
        check(name, text)

    return fuzz


def doc_fuzzer(name: str, examples: int, docs: st.SearchStrategy[Any], dump: Callable[[Any], str]) -> Fuzzer:
    """Documents from ``docs`` (near-valid, built from the schema's keys), written out by ``dump``."""

    @fuzz_settings(examples)
    @given(doc=docs)
    def fuzz(doc: Any) -> None:
        check(name, dump(doc))

    return fuzz


def seed_fuzzer(name: str, examples: int, seeds: list[str], dump: Callable[[Any], str] | None = None,
                load: Callable[[str], Any] = yaml.safe_load) -> Fuzzer:
    """Mutations of ``seeds`` (real files): text edits, and (with ``dump``) edits of the parsed document."""
    assert seeds, f"{name}: no seed files found"
    parsed = [_load(load, seed) for seed in seeds] if dump is not None else [None] * len(seeds)

    @fuzz_settings(examples)
    @given(index=st.integers(0, len(seeds) - 1), rnd=st.randoms(use_true_random=False),
           value=scalars(), insert=st.one_of(st.sampled_from(INTERESTING), st.text(max_size=10)),
           structural=st.booleans() if dump is not None else st.just(False))
    def fuzz(index: int, rnd: random.Random, value: Any, insert: str, structural: bool) -> None:
        seed = seeds[index]
        if structural and dump is not None and parsed[index] is not None:
            text = dump(mutate_doc(parsed[index], rnd, value))
        else:
            text = mutate_text(seed, rnd, insert)
        check(name, text)

    return fuzz


def _load(load: Callable[[str], Any], text: str) -> Any:
    """The parsed seed, or None for a seed that is broken on purpose (an example of an error)."""
    try:
        return load(text)
    except (ValueError, RecursionError, yaml.YAMLError):  # JSON errors are ValueErrors, YAML errors are not
        return None
