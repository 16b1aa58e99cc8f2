"""Replay of tests/fuzz/corpus/<parser>/*: past crashes (minimized) and interesting inputs, each a regression
test of its parser's contract. Add the input of every crash a fuzzer finds here, named after what it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.targets import TARGETS, check_bytes

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted((p.parent.name, p) for p in CORPUS.glob("*/*") if p.is_file())


def test_every_parser_has_a_corpus() -> None:
    assert {parser for parser, _ in CASES} == set(TARGETS)
    assert {p.name for p in CORPUS.iterdir() if p.is_dir()} == set(TARGETS)


@pytest.mark.parametrize(("parser", "path"), CASES, ids=[f"{parser}/{path.name}" for parser, path in CASES])
def test_corpus_input_keeps_the_contract(parser: str, path: Path) -> None:
    check_bytes(parser, path.read_bytes())
