"""The command line: version, help, error exits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tsdb import __version__
from tsdb.cli.main import main


def test_version_via_console_script() -> None:
    out = subprocess.run([sys.executable, "-m", "tsdb.cli", "--version"], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == f"tsdb {__version__}"


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: tsdb" in capsys.readouterr().out


def test_unknown_command_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_check_chunks_reports_good_and_corrupt_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    from tsdb.labels import Labels
    from tsdb.storage.block import write_block_from_samples

    ts = np.arange(0, 300_000, 1000, dtype=np.int64)
    ulid = write_block_from_samples(tmp_path, [(Labels({"__name__": "m"}), ts, np.ones(len(ts)))])
    segment = tmp_path / ulid / "chunks" / "000001"
    assert main(["check", "chunks", str(segment)]) == 0
    assert "3 chunks, 300 samples, ok" in capsys.readouterr().out
    data = bytearray(segment.read_bytes())
    data[20] ^= 0xFF
    bad = tmp_path / "bad"
    bad.write_bytes(bytes(data))
    assert main(["check", "chunks", str(bad)]) == 1
    assert "bad" in capsys.readouterr().err
