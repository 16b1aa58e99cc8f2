"""``tsdb bench ingest|query|disk|peers`` end to end at a tiny size (seconds): shapes and counts only."""

from __future__ import annotations

import importlib.util
import io
import json
import re
from pathlib import Path

import pytest

from tsdb.bench import report as rp
from tsdb.bench.progress import Progress
from tsdb.bench.servers import LocalServer, available
from tsdb.cli.main import main

TINY = ["--series", "30", "--duration", "10m", "--no-progress"]


@pytest.mark.external
def test_ingest_query_disk_against_prometheus_and_victoriametrics(
        prometheus: LocalServer, victoriametrics: LocalServer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out_json = tmp_path / "ingest.json"
    for server in (prometheus, victoriametrics):
        assert main(["bench", "ingest", "--target", server.url, "--pid", str(server.pid), "--json", str(out_json),
                     *TINY]) == 0
        [result] = json.loads(out_json.read_text())
        assert (result["accepted"], result["rejected"], result["protocol"]) == (30 * 40, 0, "http")
        assert result["server_peak_rss_bytes"] > 0
    text = capsys.readouterr().out
    assert "accepted 1,200" in text and "sustained ingestion" in text
    victoriametrics.flush()

    query_json = tmp_path / "query.json"
    status = main(["bench", "query", "--target", prometheus.url, "--compare", victoriametrics.url, "--runs", "1",
                   "--json", str(query_json)])
    payload = json.loads(query_json.read_text())
    assert len(payload["timings"]) == len(payload["compare"]["timings"]) == 17
    assert all(not t["error"] for t in payload["timings"])
    # VictoriaMetrics's rate() does not extrapolate like Prometheus's: some answers differ, and are listed
    assert status == (1 if payload["compare"]["disagreements"] else 0)
    assert "24 h dashboard query set" in capsys.readouterr().out

    disk_json = tmp_path / "disk.json"
    assert main(["bench", "disk", "--data-dir", str(victoriametrics.data_dir), "--target", victoriametrics.url,
                 "--json", str(disk_json)]) == 0
    disk = json.loads(disk_json.read_text())
    assert disk["samples"] == 1200 and disk["bytes"] > 0 and disk["note"] == "force_flush"
    assert main(["bench", "disk", "--data-dir", str(prometheus.data_dir), "--samples", "1200"]) == 0
    assert "bytes/sample" in capsys.readouterr().out


@pytest.mark.external
def test_peers_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    targets = [k for k in ("prometheus", "victoriametrics") if available(k)]
    if not targets:
        pytest.skip("needs binary prometheus or victoria-metrics (Debian packages): not installed")
    targets.append("tsdb")
    md, png = tmp_path / "bench.md", tmp_path / "bench.png"
    status = main(["bench", "peers", *TINY, "--runs", "2", "--query-runs", "1", "--targets", ",".join(targets),
                   "--work-dir", str(tmp_path / "work"), "--out-md", str(md), "--out-png", str(png)])
    assert status == 0
    text = md.read_text()
    assert "| metric | " in text and "| ingest samples/s (HTTP remote-write) |" in text
    assert "| bytes/sample on disk (after flush + stop) |" in text and "`cpu_rate_by_instance@24h`" in text
    assert "Workload: 30 series x 0.166667 h at 15 s = 1,200 samples" in text
    # each verdict line is there once and agrees with its own figure (not just "PASS or FAIL")
    ingest = re.findall(r"- (PASS|FAIL): tsdb sustained ingestion ([\d,.e+]+) samples/s", text)
    dashboard = re.findall(r"- (PASS|FAIL): tsdb 24 h dashboard query set ([\d.]+) s ", text)
    assert len(ingest) == 1 and len(dashboard) == 1, text
    assert ingest[0][0] == ("PASS" if float(ingest[0][1].replace(",", "")) >= rp.INGEST_REQUIREMENT else "FAIL")
    assert dashboard[0][0] == ("PASS" if float(dashboard[0][1]) < rp.DASHBOARD_24H_BUDGET_S else "FAIL")
    if "tsdb" in targets:
        assert "tsdb/Prometheus" in text and "gRPC WriteStream" in text
    out = capsys.readouterr().out
    if importlib.util.find_spec("matplotlib") is not None:
        assert "chart written" in out and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert "PNG chart skipped" in out
    assert not list((tmp_path / "work").glob("run*"))  # data dirs removed after each run


@pytest.mark.external
def test_grpc_ingest_against_tsdb(tmp_path: Path) -> None:
    with LocalServer("tsdb", tmp_path / "data") as server:
        out_json = tmp_path / "ingest.json"
        assert main(["bench", "ingest", "--target", server.url, "--grpc", server.grpc, "--pid", str(server.pid),
                     "--json", str(out_json), *TINY]) == 0
        results = json.loads(out_json.read_text())
        assert [r["protocol"] for r in results] == ["http", "grpc-write", "grpc-stream"]
        assert all((r["accepted"], r["rejected"]) == (1200, 0) for r in results)


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "ingest", *TINY]) == 2
    assert main(["bench", "ingest", "--target", "ftp://x", *TINY]) == 2
    assert main(["bench", "peers", "--targets", "influxdb", *TINY]) == 2
    assert main(["bench", "disk", "--data-dir", "."]) == 2
    assert main(["bench"]) in (1, 2)
    err = capsys.readouterr().err
    assert "--target URL" in err and "influxdb" in err and "--samples" in err


def test_peers_with_nothing_available_reports_missing(capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    assert main(["bench", "peers", *TINY, "--targets", "prometheus,victoriametrics", "--runs", "1"]) == 1
    out = capsys.readouterr().out
    assert "Not found (skipped): Prometheus, VictoriaMetrics." in out and "FAIL: tsdb did not run" in out


def test_progress_bar_draws_and_closes() -> None:
    stream = io.StringIO()
    bar = Progress("phase", 10, stream=stream)
    bar.add(5)
    bar.set(10)
    bar.close()
    assert "phase" in stream.getvalue() and "100.0%" in stream.getvalue() and stream.getvalue().endswith("\n")
    quiet = io.StringIO()
    Progress("phase", 10, enabled=False, stream=quiet).close()
    assert quiet.getvalue() == ""
