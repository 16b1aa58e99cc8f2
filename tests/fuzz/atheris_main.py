"""Coverage-guided fuzzing of one parser with atheris (optional; not part of the test run).

    python -m tests.fuzz.atheris_main <parser> [libFuzzer options, e.g. -max_total_time=600 -max_len=4096]

``<parser>`` is one of :data:`tests.fuzz.targets.TARGETS`. Unless corpus folders are given, new inputs go to a
temporary folder and tests/fuzz/corpus/<parser> seeds the run (read only). A contract violation raises and
atheris writes the input to ``crash-<sha1>``: minimise it, fix the parser, and add it to the corpus.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"


def main(argv: list[str]) -> int:
    """Run atheris on the parser named by ``argv[1]``; 2 on bad usage or when atheris is missing."""
    try:
        import atheris  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        print("atheris is not installed (pip install atheris; it needs clang/libFuzzer to build where no wheel "
              "exists). The hypothesis fuzzers in tests/fuzz run without it.", file=sys.stderr)
        return 2
    with atheris.instrument_imports(include=["tsdb", "yaml"]):
        from tests.fuzz.targets import TARGETS, check_bytes
    if len(argv) < 2 or argv[1] not in TARGETS:
        print(f"usage: python -m tests.fuzz.atheris_main <{'|'.join(TARGETS)}> [libFuzzer options]", file=sys.stderr)
        return 2
    parser = argv[1]

    def one_input(data: bytes) -> None:
        check_bytes(parser, data)

    args = [argv[0], *argv[2:]]
    if all(a.startswith("-") for a in argv[2:]):
        args += [tempfile.mkdtemp(prefix=f"tsdb-atheris-{parser}-"), str(CORPUS / parser)]
    atheris.Setup(args, one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
