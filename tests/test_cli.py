"""The command line: version, help, error exits."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tsdb import __version__
from tsdb.cli import main


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
