"""The command line: version, help, error exits."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from tsdb import __version__
from tsdb.cli.main import build_parser, join_negative_values, main


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
    from tsdb.storage.block.writer import write_block_from_samples

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


def _subcommand_helps(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                out[f"{prefix}{name}"] = helps.get(name)
                out.update(_subcommand_helps(sub, f"{prefix}{name} "))
    return out


def test_every_subcommand_has_a_one_line_description(capsys: pytest.CaptureFixture[str]) -> None:
    helps = _subcommand_helps(build_parser())
    assert {"serve", "repl", "query", "check", "check config", "test-rules", "bench", "bench ingest"} <= set(helps)
    missing = [name for name, text in helps.items() if not text or "\n" in text]
    assert not missing, f"subcommands without a one-line help: {missing}"
    with pytest.raises(SystemExit):
        main(["--help"])
    top = capsys.readouterr().out
    for name, text in helps.items():
        if " " not in name:
            assert name in top and str(text)[:30] in " ".join(top.split()), name


@pytest.mark.parametrize("argv, expected", [
    (["query", "up", "--time", "-1m"], ["query", "up", "--time=-1m"]),
    (["query", "up", "--start", "-5m", "--end", "-1h30m", "--step", "15s"],
     ["query", "up", "--start=-5m", "--end=-1h30m", "--step", "15s"]),
    (["query", "up", "--time", "now"], ["query", "up", "--time", "now"]),
    (["query", "up", "--time", "--output"], ["query", "up", "--time", "--output"]),
    (["query", "--", "--time", "-1m"], ["query", "--", "--time", "-1m"]),
])
def test_negative_time_values_are_joined_to_their_option(argv: list[str], expected: list[str]) -> None:
    assert join_negative_values(argv) == expected


def test_query_accepts_relative_times_in_the_past(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import time

    import numpy as np

    import tsdb

    now_ms = int(time.time() * 1000)
    with tsdb.open(str(tmp_path / "db")) as db:
        db.append({"__name__": "m"}, np.array([now_ms - 120_000, now_ms - 60_000], dtype=np.int64),
                  np.array([1.0, 2.0]))
    base = ["query", "--data-dir", str(tmp_path / "db"), "--output", "csv"]
    assert main([*base, "m", "--time", "-90s"]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1].endswith(",1"), out
    assert main([*base, "m", "--time", "-1m"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].endswith(",2")
    assert main([*base, "m", "--start", "-2m", "--end", "-1m", "--step", "1m"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()[1:]
    assert [row.rsplit(",", 1)[1] for row in rows] == ["1", "2"]
    # through the console entry point, as a user types it
    out = subprocess.run([sys.executable, "-m", "tsdb.cli", *base, "m", "--time", "-1m"], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip().splitlines()[-1].endswith(",2")


RULES = """groups:
  - name: g
    rules:
      - alert: High
        expr: up > 1
        for: 1m
"""
ALERTMANAGER = """route: {receiver: team}
receivers: [{name: team}]
"""
PROMETHEUS = """scrape_configs:
  - job_name: node
    static_configs: [{targets: ["127.0.0.1:9100"]}]
"""


def _config_tree(tmp_path: Path, **overrides: str) -> Path:
    files = {"rules.yml": RULES, "alertmanager.yml": ALERTMANAGER, "prometheus.yml": PROMETHEUS, **overrides}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    config = tmp_path / "tsdb.yml"
    config.write_text(f"""data_dir: {tmp_path / "data"}
storage: {{retention: 30d}}
rules: {{files: ["{tmp_path / "rules.yml"}"], evaluation_interval: 15s}}
notifications: {{config_file: "{tmp_path / "alertmanager.yml"}"}}
scrape: {{config_file: "{tmp_path / "prometheus.yml"}"}}
""")
    return config


def test_check_config_accepts_a_valid_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config_tree(tmp_path)
    assert main(["check", "config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "SUCCESS" in out and "FAILED" not in out
    assert "components: remote_write, notifications, escalation, incidents, rules, slo_reports, scrape" in out
    assert f"rule files {tmp_path / 'rules.yml'}" in out
    assert not (tmp_path / "data").exists(), "checking must not create the server's data directory"


@pytest.mark.parametrize("overrides, message", [
    ({"rules.yml": RULES.replace("up > 1", "up >")}, "rules.yml"),
    ({"alertmanager.yml": "route: {receiver: nobody}\nreceivers: [{name: team}]\n"}, "nobody"),
    ({"prometheus.yml": "scrape_configs:\n  - static_configs: []\n"}, "job_name"),
])
def test_check_config_reports_errors_in_the_files_it_names(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           overrides: dict[str, str], message: str) -> None:
    config = _config_tree(tmp_path, **overrides)
    assert main(["check", "config", str(config)]) == 1
    captured = capsys.readouterr()
    assert "FAILED" in captured.err and "SUCCESS" not in captured.out
    assert message in captured.err


@pytest.mark.parametrize("text, message", [
    ("bogus: 1\n", "unknown key 'bogus'"),
    ("storage: {retention: forever}\n", "retention"),
    ("http_listen: nohostport\n", "nohostport"),
    ("rules: {files: [/nonexistent/rules.yml]}\n", "/nonexistent/rules.yml"),
    ("notifications: {config_file: /nonexistent/am.yml}\n", "/nonexistent/am.yml"),
    ("collect: {host: true, colour: blue}\n", "colour"),
    ("[unclosed\n", "invalid YAML"),
])
def test_check_config_gives_the_servers_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                               message: str) -> None:
    config = tmp_path / "tsdb.yml"
    config.write_text(text)
    assert main(["check", "config", str(config)]) == 1
    err = capsys.readouterr().err
    assert message in err
    # the same words as the server refusing to start with this config
    from tsdb.cli.check import check_config

    ok, server_message = check_config(str(config))
    assert not ok and server_message in err


def test_check_config_error_matches_serve(tmp_path: Path) -> None:
    config = _config_tree(tmp_path, **{"rules.yml": RULES.replace("up > 1", "up >")})
    checked = subprocess.run([sys.executable, "-m", "tsdb.cli", "check", "config", str(config)],
                             capture_output=True, text=True)
    served = subprocess.run([sys.executable, "-m", "tsdb.cli", "serve", "--config", str(config),
                             "--http-listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0"],
                            capture_output=True, text=True, timeout=120)
    assert checked.returncode == 1 and served.returncode != 0
    first_line = next(line for line in checked.stderr.splitlines() if "rules.yml" in line)
    assert first_line.strip() in served.stderr + served.stdout


def test_query_max_concurrency_flag_overrides_the_config_file(tmp_path: Path) -> None:
    """``--query.max-concurrency`` (Prometheus's flag) sets ``query.max_concurrency``; the file's other query
    settings stay."""
    from tsdb.cli.main import _serve_config
    from tsdb.errors import ConfigError

    config_file = tmp_path / "tsdb.yml"
    config_file.write_text("query: {max_concurrency: 3, max_queue: 7, max_series: 1000}\n")
    parser = build_parser()
    config = _serve_config(parser.parse_args(["serve", "--config", str(config_file)]))
    assert (config.query.max_concurrency, config.query.max_queue, config.query.max_series) == (3, 7, 1000)
    config = _serve_config(parser.parse_args(["serve", "--config", str(config_file), "--query.max-concurrency", "20"]))
    assert (config.query.max_concurrency, config.query.max_queue) == (20, 7)
    with pytest.raises(ConfigError, match="max-concurrency"):
        _serve_config(parser.parse_args(["serve", "--query.max-concurrency", "-1"]))
    config_file.write_text("query: {max_queue: -1}\n")
    with pytest.raises(ConfigError, match=r"query\.max_queue"):
        _serve_config(parser.parse_args(["serve", "--config", str(config_file)]))
