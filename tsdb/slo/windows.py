"""Multiwindow, multi-burn-rate alert windows: Sloth's default catalog for 30 and 28 day SLO periods.

Numbers from the Google SRE workbook ("Alerting on SLOs", recommended parameters): page when 2% of the
period's error budget burns in 1h (checked with a 5m short window) or 5% in 6h (30m); ticket when 10% burns
in 1d (2h) or 10% in 3d (6h). The burn-rate factor is ``budget% * period_hours / 100 / long_window_hours``:
14.4, 6, 3, 1 for 30 days; 13.44, 5.6, 2.8, 0.933... for 28 days.
"""

from __future__ import annotations

from dataclasses import dataclass

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


@dataclass(frozen=True)
class Window:
    """One alert condition: ``error_budget_percent`` of the budget consumed over ``long_s``."""

    error_budget_percent: float
    short_s: int
    long_s: int


@dataclass(frozen=True)
class AlertWindows:
    """The four windows of an SLO period (seconds)."""

    period_s: int
    page_quick: Window
    page_slow: Window
    ticket_quick: Window
    ticket_slow: Window

    def burn_factor(self, window: Window) -> float:
        """How many times faster than "exactly the budget over the period" the window's condition burns."""
        hours_required = window.error_budget_percent * (self.period_s / HOUR) / 100
        return hours_required / (window.long_s / HOUR)

    def durations(self) -> list[int]:
        """Every distinct short and long window, shortest first (the SLI recording windows)."""
        windows = (self.page_quick, self.page_slow, self.ticket_quick, self.ticket_slow)
        return sorted({w for window in windows for w in (window.short_s, window.long_s)})


def _google(period_s: int) -> AlertWindows:
    return AlertWindows(period_s, Window(2, 5 * MINUTE, HOUR), Window(5, 30 * MINUTE, 6 * HOUR),
                        Window(10, 2 * HOUR, DAY), Window(10, 6 * HOUR, 3 * DAY))


DEFAULT_WINDOWS = {30 * DAY: _google(30 * DAY), 28 * DAY: _google(28 * DAY)}


def prom_duration(seconds: int) -> str:
    """A duration as Prometheus prints it (``model.Duration.String``): 5m, 1h, 1d, 30d, 4w, 1y."""
    ms = seconds * 1000
    if ms == 0:
        return "0s"
    out = ""
    for unit, mult, exact in (("y", 365 * DAY * 1000, True), ("w", 7 * DAY * 1000, True),
                              ("d", DAY * 1000, False), ("h", HOUR * 1000, False),
                              ("m", MINUTE * 1000, False), ("s", 1000, False), ("ms", 1, False)):
        if exact and ms % mult:
            continue
        count = ms // mult
        if count > 0:
            out += f"{count}{unit}"
            ms -= count * mult
    return out


def parse_period(text: str) -> int:
    """An SLO period (``30d``, ``28d``, ``4w``) in seconds; ValueError for others or unsupported ones."""
    units = {"d": DAY, "w": 7 * DAY, "h": HOUR}
    text = text.strip()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise ValueError(f"invalid SLO period {text!r}: use days, e.g. 30d or 28d")
    seconds = int(text[:-1]) * units[text[-1]]
    if seconds not in DEFAULT_WINDOWS:
        raise ValueError(f"SLO period {text!r} is not supported: 30d and 28d are")
    return seconds
