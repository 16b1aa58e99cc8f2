"""Go's ``time.Time`` as notification templates see it: printing gives Go's default format
(``2006-01-02 15:04:05.999999999 -0700 MST``) and ``.Format`` takes a Go layout.

Times are held as integer nanoseconds since the Unix epoch and print in UTC (Alertmanager stores the zone an
alert was posted with; tsdb keeps Unix seconds), or in the IANA zone that ``tz`` gave them. The zero value is
Go's zero time (``0001-01-01 00:00:00 +0000 UTC``).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from tsdb.gotemplate.golayout import format_layout

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class GoTime:
    """An instant; ``str()`` is Go's ``Time.String()`` without the monotonic clock reading."""

    GO_TYPE = "time.Time"
    __slots__ = ("ns", "zone")

    def __init__(self, ns: int | None, zone: zoneinfo.ZoneInfo | None = None) -> None:
        self.ns = ns  # None: Go's zero time
        self.zone = zone  # None: UTC

    @classmethod
    def from_seconds(cls, seconds: float | None) -> GoTime:
        """``None`` (no time) gives the zero time."""
        return cls(None if seconds is None else round(seconds * 1e9))

    def _datetime(self) -> tuple[dt.datetime, int]:
        if self.ns is None:
            return dt.datetime(1, 1, 1, tzinfo=dt.UTC), 0
        seconds, frac = divmod(self.ns, 1_000_000_000)
        when = _EPOCH + dt.timedelta(seconds=seconds)
        return (when.astimezone(self.zone) if self.zone is not None else when), frac

    def In(self, zone: zoneinfo.ZoneInfo) -> GoTime:  # noqa: N802
        """The same instant shown in ``zone``."""
        return GoTime(self.ns, zone)

    def IsZero(self) -> bool:  # noqa: N802 - Go's method name
        return self.ns is None

    def Unix(self) -> int:  # noqa: N802
        when, _ = self._datetime()
        return int((when - _EPOCH).total_seconds())

    def UnixNano(self) -> int:  # noqa: N802
        return self.ns if self.ns is not None else -6795364578871345152

    def UTC(self) -> GoTime:  # noqa: N802
        return GoTime(self.ns)

    def Local(self) -> GoTime:  # noqa: N802
        return self

    def Format(self, layout: str) -> str:  # noqa: N802
        """The time in Go layout ``layout`` (reference time ``Mon Jan 2 15:04:05 MST 2006``)."""
        when, frac = self._datetime()
        return format_layout(when, frac, layout)

    def String(self) -> str:  # noqa: N802
        return str(self)

    def __str__(self) -> str:
        return self.Format("2006-01-02 15:04:05.999999999 -0700 MST")

    def __repr__(self) -> str:
        return f"GoTime({self})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GoTime) and other.ns == self.ns

    def __hash__(self) -> int:
        return hash(self.ns)
