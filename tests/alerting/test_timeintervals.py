"""Time intervals and route muting; configs verified against amtool check-config."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.alerting.test_dispatcher import Clock, Recorder, _alert
from tests.needs import needs_binary
from tsdb.alerting.config import load_config, parse_config
from tsdb.alerting.dispatcher import Dispatcher
from tsdb.alerting.timeintervals import active, parse_spec
from tsdb.errors import ConfigError

DATA = Path(__file__).parent / "data"


def _ts(text: str, tz: str = "UTC") -> float:
    from zoneinfo import ZoneInfo

    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()


def test_specs() -> None:
    office = parse_spec({"weekdays": ["monday:friday"], "times": [{"start_time": "09:00", "end_time": "17:00"}],
                         "location": "Europe/Berlin"}, "x")
    assert office.contains(_ts("2026-11-23T09:00", "Europe/Berlin"))  # a Monday
    assert not office.contains(_ts("2026-11-23T17:00", "Europe/Berlin"))  # end exclusive
    assert not office.contains(_ts("2026-11-22T10:00", "Europe/Berlin"))  # Sunday
    # across the DST change, local office hours stay local
    assert office.contains(_ts("2026-03-30T09:30", "Europe/Berlin"))
    last_day = parse_spec({"days_of_month": ["-1"], "months": ["february"], "years": ["2028"]}, "x")
    assert last_day.contains(_ts("2028-02-29T12:00")) and not last_day.contains(_ts("2028-02-28T12:00"))
    assert active((office, last_day), _ts("2028-02-29T03:00"))
    for bad, message in (({"times": [{"start_time": "10:00", "end_time": "09:00"}]}, "after start_time"),
                         ({"weekdays": ["funday"]}, "unknown weekday"), ({"location": "Mars/Base"}, "unknown location"),
                         ({"months": ["13"]}, "unknown month"), ({"colour": 1}, "not found")):
        with pytest.raises(ConfigError, match=message):
            parse_spec(bad, "x")


def test_mute_and_active_intervals_in_the_dispatcher() -> None:
    config = load_config(DATA / "full.yml")
    clock, rec = Clock(), Recorder()
    d = Dispatcher(config, rec, clock=clock)
    clock.now = _ts("2026-11-23T23:00")  # night: the db route is muted
    far = clock.now + 10 * 86_400
    d.put([_alert(clock, far, service="db", severity="warning", alertname="Slow")])
    clock.now += 60
    asyncio.run(d.tick())
    assert rec.sent == []
    clock.now = _ts("2026-11-24T07:00")  # morning: no longer muted
    asyncio.run(d.tick())
    assert [n.receiver for n in rec.sent] == ["db"]
    rec.sent.clear()
    d.put([_alert(clock, far + 36_000, team="web", alertname="Err")])  # outside office hours in Berlin (08:00)
    clock.now += 60
    asyncio.run(d.tick())
    assert rec.sent == []  # the web route matched but is only active in office hours
    clock.now = _ts("2026-11-24T10:00", "Europe/Berlin")
    asyncio.run(d.tick())
    assert [n.receiver for n in rec.sent] == ["web"]


@needs_binary("amtool", package="prometheus-alertmanager")
def test_verdicts_equal_amtool_check_config() -> None:
    amtool = shutil.which("amtool")
    assert amtool is not None
    for path in sorted(DATA.glob("*.yml")):
        theirs = subprocess.run([amtool, "check-config", str(path)], capture_output=True, timeout=60).returncode
        try:
            parse_config(path.read_text(), str(path))
            ours = 0
        except ConfigError:
            ours = 1
        assert (ours == 0) == (theirs == 0), path.name
