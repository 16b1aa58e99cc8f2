"""``tsdb slo report`` offline (a data directory, alone or named by tsdb.yml) and ``GET /api/v1/slos/report``
on a real ``tsdb serve`` (also through ``tsdb slo report --url``)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pypdf
import pytest

from tests.integration.serve import ServeProcess
from tests.slo.report_data import utc, write_month, write_spec
from tsdb.alerting.matchers import parse_matchers
from tsdb.alerting.silences import Silence
from tsdb.alerting.store import AlertingStore
from tsdb.cli.main import main
from tsdb.slo.report_period import month_period

OUTAGE = utc("2026-11-10T12:00")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("cli") / "data"
    november = month_period("2026-11")
    write_month(data, november.start_s, november.end_s, [(OUTAGE, OUTAGE + 1800)])
    return data


def _csv_row(text: str) -> dict[str, str]:
    lines = text.splitlines()
    return dict(zip(lines[0].split(","), lines[1].split(","), strict=False))


def test_report_from_a_data_dir_in_every_format(data_dir: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(write_spec(tmp_path))
    assert main(["slo", "report", spec, "--month", "2026-11", "--format", "csv", "--data-dir", str(data_dir),
                 "--trend", "1"]) == 0
    row = _csv_row(capsys.readouterr().out)
    assert (row["slo"], row["attained_percent"], row["budget_remaining_percent"], row["status"]) == \
        ("shop-availability", "99.9306", "30.56", "pass")
    pdf = tmp_path / "r.pdf"
    assert main(["slo", "report", spec, "--month", "2026-11", "--format", "pdf", "-o", str(pdf),
                 "--data-dir", str(data_dir)]) == 0
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.read_bytes())).pages)
    assert "Attained 99.9306%" in text and "30.0 min of 43.2 min" in text
    out = tmp_path / "r.html"
    assert main(["slo", "report", spec, "--start", "2026-11-10", "--end", "2026-11-11", "--format", "html",
                 "-o", str(out), "--data-dir", str(data_dir), "--trend", "0"]) == 0
    assert "99.9306%" not in out.read_text() and "97.9167%" in out.read_text()  # 30 of 1440 minutes


def test_report_with_a_config(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_spec(tmp_path)
    config = tmp_path / "tsdb.yml"
    config.write_text(f"data_dir: {data_dir}\nslos:\n  files: [{spec}]\nnotifications:\n  config:\n"
                      "    route: {receiver: default}\n    receivers: [{name: default}]\n"
                      "    time_intervals:\n      - name: maintenance-db\n        time_intervals:\n"
                      "          - {days_of_month: ['10'], times: [{start_time: '11:00', end_time: '13:00'}]}\n")
    assert main(["slo", "report", "--config", str(config), "--month", "2026-11", "--format", "json"]) == 0
    item = json.loads(capsys.readouterr().out)["slos"][0]
    assert item["attained_percent"] == 100.0 and item["excluded_seconds"] == 7200
    assert item["maintenance"][0]["source"] == "time interval maintenance-db"


def test_bad_input_is_named(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(write_spec(tmp_path))
    for args, message in (
            (["--month", "2026-13"], "bad month '2026-13'"),
            (["--month", "2026-11", "--tz", "Mars/Base"], "unknown time zone 'Mars/Base'"),
            (["--month", "2026-11", "--start", "2026-11-01"], "either a month or start and end"),
            ([], "missing period"),
            (["--month", "2026-11", "--data-dir", str(tmp_path / "nowhere")], "is not a directory")):
        assert main(["slo", "report", spec, *args, *([] if "--data-dir" in args else
                                                     ["--data-dir", str(data_dir)])]) == 1
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["slo", "report", spec, "--month", "2026-11", "--format", "docx"])
    assert "invalid choice: 'docx'" in capsys.readouterr().err


def test_server_api_and_url(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_spec(tmp_path)
    store = AlertingStore(data_dir / "alerting" / "alerting.sqlite")  # a maintenance silence over the outage
    store.save_silence(Silence("m1", parse_matchers('{sloth_slo="availability"}'), OUTAGE - 600, OUTAGE + 3000,
                               "ops", "maintenance: failover test"))
    store.close()
    config = tmp_path / "tsdb.yml"
    config.write_text(f"slos:\n  files: [{spec}]\n")
    server = ServeProcess(data_dir, "--config", str(config))
    try:
        status, body = server.get("/api/v1/slos/report", month="2026-11", format="json", trend="0")
        assert status == 200
        item = body["slos"][0]
        assert item["attained_percent"] == 100.0 and item["excluded_seconds"] == 3600
        assert item["maintenance"][0]["source"] == "silence m1: maintenance: failover test"
        assert len(item["incidents"]) == 1  # incidents are listed even inside maintenance
        import urllib.request

        with urllib.request.urlopen(f"{server.url}/api/v1/slos/report?month=2026-11&format=pdf") as response:
            assert response.headers["Content-Type"] == "application/pdf"
            assert response.headers["Content-Disposition"] == 'attachment; filename="slo-report-2026-11.pdf"'
            assert response.read().startswith(b"%PDF")
        status, error = server.get("/api/v1/slos/report", month="2026-11", format="docx")
        assert status == 400 and "unknown report format 'docx'" in error["error"]
        status, error = server.get("/api/v1/slos/report", month="11/2026")
        assert status == 400 and "bad month '11/2026'" in error["error"]

        assert main(["slo", "report", "--url", server.url, "--month", "2026-11", "--format", "csv"]) == 0
        assert _csv_row(capsys.readouterr().out)["maintenance_minutes"] == "60.0"
        assert main(["slo", "report", str(spec), "--url", server.url, "--month", "2026-11", "--format", "csv",
                     "--trend", "0"]) == 0  # computed here through the server's query and silence APIs
        row = _csv_row(capsys.readouterr().out)
        assert (row["attained_percent"], row["maintenance_minutes"], row["incidents"]) == ("100.0000", "60.0", "1")
        assert main(["slo", "report", "--url", server.url, "--month", "2026-13"]) == 1
        assert "bad month" in capsys.readouterr().err
    finally:
        server.stop()
