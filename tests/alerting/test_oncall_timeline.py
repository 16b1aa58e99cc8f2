"""The on-call timeline: final segments, per-layer segments, overrides and hand-offs over a window."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tsdb.alerting.oncall import OnCall, Override, parse_oncall
from tsdb.alerting.oncall_timeline import MAX_WINDOW_S, Segment, handoffs, timeline

USERS = {"ann": {}, "bob": {}, "cid": {}, "dee": {}}


def _t(text: str, zone: str = "UTC") -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def _oncall(*layers: dict[str, Any], overrides: list[dict[str, Any]] | None = None) -> OnCall:
    return parse_oncall({"users": USERS, "schedules": {"s": {"layers": list(layers), "overrides": overrides or []}}})


def _brief(segments: list[Segment], zone: str = "UTC") -> list[tuple[str, str, str | None, str]]:
    def f(t: float) -> str:
        return dt.datetime.fromtimestamp(t, tz=ZoneInfo(zone)).strftime("%m-%d %H:%M")
    return [(f(s.start), f(s.end), s.user, s.source) for s in segments]


def test_daily_rotation_segments_and_handoffs() -> None:
    oc = _oncall({"users": ["ann", "bob"], "shift": "1d", "start": "2026-01-05", "handoff": "09:00"})
    tl = timeline(oc, "s", _t("2026-01-05T00:00"), _t("2026-01-08T00:00"))
    assert _brief(tl.final) == [("01-05 00:00", "01-05 09:00", None, ""),
                                ("01-05 09:00", "01-06 09:00", "ann", "layer 0"),
                                ("01-06 09:00", "01-07 09:00", "bob", "layer 0"),
                                ("01-07 09:00", "01-08 00:00", "ann", "layer 0")]
    assert _brief(tl.layers[0]) == _brief(tl.final)[1:]  # layers list no gaps
    assert [(h.at, h.from_user, h.to_user) for h in tl.handoffs] == [
        (_t("2026-01-05T09:00"), None, "ann"), (_t("2026-01-06T09:00"), "ann", "bob"),
        (_t("2026-01-07T09:00"), "bob", "ann")]
    assert handoffs(oc, "s", _t("2026-01-05T10:00"), _t("2026-01-07T10:00")) == [
        {"at": _t("2026-01-06T09:00"), "user": "bob", "from": "ann", "source": "layer 0"},
        {"at": _t("2026-01-07T09:00"), "user": "ann", "from": "bob", "source": "layer 0"}]


def test_every_segment_agrees_with_who_is_on_call() -> None:
    oc = _oncall({"users": ["ann", "bob", "cid"], "shift": "8h", "start": "2026-03-01", "handoff": "07:30",
                  "time_zone": "Europe/Berlin"},
                 {"users": ["dee"], "shift": "1w", "start": "2026-03-01", "handoff": "18:00",
                  "time_zone": "America/New_York", "weekdays": ["saturday", "sunday"]},
                 overrides=[{"user": "bob", "start": "2026-03-10T03:00:00Z", "end": "2026-03-10T05:17:00Z"}])
    start, end = _t("2026-03-05T00:00"), _t("2026-04-05T00:00")
    tl = timeline(oc, "s", start, end)
    assert tl.final[0].start == start and tl.final[-1].end == end
    for a, b in itertools.pairwise(tl.final):
        assert a.end == b.start and (a.user, a.source) != (b.user, b.source)
    for seg in tl.final:
        for at in (seg.start, (seg.start + seg.end) / 2, seg.end - 1):
            user, source = oc.schedules["s"].who(at)
            assert (user, source) == (seg.user, seg.source), dt.datetime.fromtimestamp(at, tz=dt.UTC)
    for i, layer in enumerate(oc.schedules["s"].layers):
        for seg in tl.layers[i]:
            assert layer.on_call(seg.start) == layer.on_call(seg.end - 1) == seg.user


def test_weekly_rotation_keeps_local_handoff_across_dst() -> None:
    # Europe/Berlin switches to summer time on 2026-03-29 (02:00 -> 03:00)
    zone = "Europe/Berlin"
    oc = _oncall({"users": ["ann", "bob"], "shift": "1w", "start": "2026-03-23", "handoff": "09:00", "time_zone": zone})
    tl = timeline(oc, "s", _t("2026-03-23T00:00", zone), _t("2026-04-07T00:00", zone))
    assert _brief(tl.final, zone) == [("03-23 00:00", "03-23 09:00", None, ""),
                                      ("03-23 09:00", "03-30 09:00", "ann", "layer 0"),
                                      ("03-30 09:00", "04-06 09:00", "bob", "layer 0"),
                                      ("04-06 09:00", "04-07 00:00", "ann", "layer 0")]
    # the week with the change is one hour short in real time
    assert tl.final[1].end - tl.final[1].start == 7 * 86400 - 3600


def test_daily_handoff_in_skipped_and_repeated_hour() -> None:
    zone = "America/New_York"  # 2026-03-08 02:00 -> 03:00, 2026-11-01 02:00 -> 01:00
    spring = _oncall({"users": ["ann", "bob"], "shift": "1d", "start": "2026-03-01", "handoff": "02:30",
                      "time_zone": zone})
    tl = timeline(spring, "s", _t("2026-03-07T12:00", zone), _t("2026-03-09T12:00", zone))
    # 02:30 does not exist on 03-08: the hand-off happens at 03:30 local time
    assert [dt.datetime.fromtimestamp(h.at, tz=ZoneInfo(zone)).strftime("%m-%d %H:%M") for h in tl.handoffs] == [
        "03-08 03:30", "03-09 02:30"]
    autumn = _oncall({"users": ["ann", "bob"], "shift": "1d", "start": "2026-10-25", "handoff": "01:30",
                      "time_zone": zone})
    tl = timeline(autumn, "s", _t("2026-10-31T12:00", zone), _t("2026-11-02T12:00", zone))
    # 01:30 happens twice on 11-01: one hand-off, at the first, and no flip back in the repeated hour
    assert len(tl.handoffs) == 2
    assert tl.handoffs[0].at == _t("2026-11-01T05:30")  # 01:30 EDT


def test_weekday_limited_layer_over_base_layer() -> None:
    oc = _oncall({"users": ["ann"], "shift": "1w", "start": "2026-01-05", "handoff": "00:00"},
                 {"users": ["bob", "cid"], "shift": "1d", "start": "2026-01-05", "handoff": "09:00",
                  "weekdays": ["saturday", "sunday"]})
    # 2026-01-10 is a Saturday
    tl = timeline(oc, "s", _t("2026-01-09T00:00"), _t("2026-01-13T00:00"))
    assert _brief(tl.final) == [("01-09 00:00", "01-10 00:00", "ann", "layer 0"),
                                ("01-10 00:00", "01-10 09:00", "bob", "layer 1"),
                                ("01-10 09:00", "01-11 09:00", "cid", "layer 1"),
                                ("01-11 09:00", "01-12 00:00", "bob", "layer 1"),
                                ("01-12 00:00", "01-13 00:00", "ann", "layer 0")]
    assert _brief(tl.layers[1]) == _brief(tl.final)[1:4]
    assert _brief(tl.layers[0]) == [("01-09 00:00", "01-13 00:00", "ann", "layer 0")]


def test_overrides_cover_parts_of_shifts() -> None:
    oc = _oncall({"users": ["ann", "bob"], "shift": "1d", "start": "2026-01-05", "handoff": "09:00"},
                 overrides=[{"user": "cid", "start": "2026-01-06T08:00:00Z", "end": "2026-01-06T10:00:00Z"},
                            {"user": "ann", "start": "2026-01-06T12:00:00Z", "end": "2026-01-06T13:00:00Z"}])
    tl = timeline(oc, "s", _t("2026-01-06T00:00"), _t("2026-01-07T00:00"))
    assert _brief(tl.final) == [("01-06 00:00", "01-06 08:00", "ann", "layer 0"),
                                ("01-06 08:00", "01-06 10:00", "cid", "override"),
                                ("01-06 10:00", "01-06 12:00", "bob", "layer 0"),
                                ("01-06 12:00", "01-06 13:00", "ann", "override"),
                                ("01-06 13:00", "01-07 00:00", "bob", "layer 0")]
    assert tl.final[1].override_id == "config-0"
    assert [o.id for o in tl.overrides] == ["config-0", "config-1"]
    # the layer row is unaffected by overrides; the hand-off at 09:00 is hidden by the override
    assert [h.to_user for h in tl.handoffs] == ["cid", "bob", "ann", "bob"]
    assert _t("2026-01-06T09:00") not in [h.at for h in tl.handoffs]


def test_runtime_overrides_win_over_config_ones() -> None:
    oc = _oncall({"users": ["ann"], "shift": "1w", "start": "2026-01-05"},
                 overrides=[{"user": "bob", "start": "2026-01-06T00:00:00Z", "end": "2026-01-07T00:00:00Z"}])
    runtime = [Override("cid", _t("2026-01-06T06:00"), _t("2026-01-06T07:00"), "r1", True, created_at=1.0),
               Override("dee", _t("2026-01-06T06:30"), _t("2026-01-06T08:00"), "r2", True, created_at=2.0),
               Override("dee", _t("2026-01-06T06:00"), _t("2026-01-06T08:00"), "x", True)]
    merged = oc.with_runtime_overrides({"s": runtime, "gone": runtime})
    assert [o.id for o in oc.schedules["s"].overrides] == ["config-0"]  # the original is untouched
    tl = timeline(merged, "s", _t("2026-01-06T05:00"), _t("2026-01-06T09:00"))
    assert [(s.user, s.override_id) for s in tl.final] == [("bob", "config-0"), ("cid", "r1"), ("dee", "r2"),
                                                           ("bob", "config-0")]
    assert merged.who_is_on_call("s", _t("2026-01-06T06:45"))[0].name == "dee"  # type: ignore[union-attr]
    # merging again replaces the runtime overrides instead of adding to them
    again = merged.with_runtime_overrides({})
    assert [o.id for o in again.schedules["s"].overrides] == ["config-0"]


def test_gaps_with_nobody_on_call() -> None:
    oc = _oncall({"users": ["ann", "bob"], "shift": "1d", "start": "2026-01-05", "handoff": "09:00",
                  "weekdays": ["monday", "tuesday", "wednesday", "thursday", "friday"]})
    tl = timeline(oc, "s", _t("2026-01-09T00:00"), _t("2026-01-13T00:00"))  # Fri .. Mon
    nobody = [(s.start, s.end) for s in tl.final if s.user is None]
    assert nobody == [(_t("2026-01-10T00:00"), _t("2026-01-12T00:00"))]
    assert [(h.from_user, h.to_user) for h in tl.handoffs] == [("bob", "ann"), ("ann", None), (None, "ann"),
                                                               ("ann", "bob")]
    assert all(s.user is not None for s in tl.layers[0])


def test_schedule_without_layers_and_window_errors() -> None:
    oc = _oncall()
    tl = timeline(oc, "s", 0, 3600)
    assert tl.final == [Segment(0, 3600, None, "")] and tl.layers == [] and tl.handoffs == []
    with pytest.raises(KeyError):
        timeline(oc, "nope", 0, 1)
    with pytest.raises(ValueError, match="after start"):
        timeline(oc, "s", 10, 10)
    with pytest.raises(ValueError, match="longer"):
        timeline(oc, "s", 0, MAX_WINDOW_S + 1)


def test_sub_day_shifts_are_real_time() -> None:
    zone = "Europe/Berlin"
    oc = _oncall({"users": ["ann", "bob"], "shift": "12h", "start": "2026-03-28", "handoff": "08:00",
                  "time_zone": zone})
    tl = timeline(oc, "s", _t("2026-03-28T08:00", zone), _t("2026-03-30T08:00", zone))
    # 12 h shifts count real hours, so after the change to summer time they start at 09:00 / 21:00 local
    starts = [dt.datetime.fromtimestamp(s.start, tz=ZoneInfo(zone)).strftime("%d %H:%M") for s in tl.final]
    assert starts == ["28 08:00", "28 20:00", "29 09:00", "29 21:00"]
