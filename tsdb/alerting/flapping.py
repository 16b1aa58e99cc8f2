"""Flap detection: an alert changing state more than ``changes`` times within ``window_s`` is flapping;
notifications made only of flapping alerts are held back and summarised (``extras["flapping"]``) in the
next notification of the group that goes out."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence

from tsdb.alerting.model import Alert, DeliveryResult, Notification


class FlapDetector:
    """A DispatchHook (see module docstring)."""

    def __init__(self, changes: int = 4, window_s: float = 3600.0) -> None:
        self.changes, self.window_s = changes, window_s
        self._state: dict[str, bool] = {}
        self._flips: dict[str, deque[float]] = defaultdict(deque)
        self._seen: dict[str, float] = {}
        self._next_prune = 0.0
        self.suppressed: dict[str, int] = defaultdict(int)

    def on_alerts(self, alerts: Sequence[Alert], now: float) -> None:
        for alert in alerts:
            fp = alert.fingerprint
            firing = not (alert.ends_at is not None and alert.ends_at <= now)
            if fp in self._state and self._state[fp] != firing:
                self._flips[fp].append(now)
            self._state[fp] = firing
            self._seen[fp] = now
        if now >= self._next_prune:
            self._next_prune = now + self.window_s / 10
            self.prune(now)

    def prune(self, now: float) -> None:
        """Forget resolved alerts not heard of for a whole window: they can no longer be flapping (one that
        comes back starts a new history)."""
        horizon = now - self.window_s
        for fp in [fp for fp, seen in self._seen.items() if seen < horizon and not self._state.get(fp)]:
            del self._seen[fp]
            self._state.pop(fp, None)
            self._flips.pop(fp, None)

    def tracked(self) -> int:
        """Alerts whose state history is kept."""
        return len(self._state)

    def flapping(self, fingerprint: str, now: float) -> bool:
        flips = self._flips.get(fingerprint)
        if not flips:
            return False
        while flips and flips[0] < now - self.window_s:
            flips.popleft()
        return len(flips) > self.changes

    def before_send(self, notification: Notification) -> Notification | None:
        now = notification.now
        flapping = [a for a in notification.alerts if self.flapping(a.fingerprint, now)]
        if flapping and len(flapping) == len(notification.alerts):
            self.suppressed[notification.group_key] += 1
            return None
        held = self.suppressed.pop(notification.group_key, 0)
        if flapping or held:
            notification.extras = {**notification.extras, "flapping": {
                "alerts": [a.labels for a in flapping], "suppressed_notifications": held}}
        return notification

    async def after_send(self, notification: Notification, results: list[DeliveryResult]) -> None:
        return None
