"""Limits on the series the head accepts: how many, and how large their label sets may be.

Every limit is off (0) by default. :class:`SeriesLimits` is checked when a commit would create a new
series (:meth:`tsdb.storage.head.state.HeadState.get_or_create`); the samples of a refused series are
rejected under the reason :func:`label_violation` or the head names, the rest of the batch is stored.
Lengths count UTF-8 bytes, as Prometheus-compatible servers do.
"""

from __future__ import annotations

from dataclasses import dataclass

SERIES_LIMIT = "series_limit"
METRIC_SERIES_LIMIT = "metric_series_limit"
LABEL_COUNT = "label_count"
LABEL_NAME_LENGTH = "label_name_length"
LABEL_VALUE_LENGTH = "label_value_length"


@dataclass(frozen=True)
class SeriesLimits:
    """Series limits; 0 turns a limit off.

    ``max_series`` bounds the series in the head, ``max_series_per_metric`` those of one metric name;
    both refuse only new series (existing ones keep ingesting). The label limits apply to every series.
    """

    max_series: int = 0
    max_series_per_metric: int = 0
    max_label_names_per_series: int = 0
    max_label_name_length: int = 0
    max_label_value_length: int = 0

    def __post_init__(self) -> None:
        for name in ("max_series", "max_series_per_metric", "max_label_names_per_series", "max_label_name_length",
                     "max_label_value_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0 (0 = no limit), got {value!r}")

    @property
    def labels_limited(self) -> bool:
        """Whether any label limit is on."""
        return bool(self.max_label_names_per_series or self.max_label_name_length or self.max_label_value_length)

    @property
    def enabled(self) -> bool:
        """Whether any limit is on."""
        return bool(self.max_series or self.max_series_per_metric or self.labels_limited)


def _too_long(text: str, limit: int) -> bool:
    """Whether ``text`` is longer than ``limit`` UTF-8 bytes (no encoding for short ASCII text)."""
    if len(text) > limit:
        return True
    return not text.isascii() and len(text.encode("utf-8", "surrogatepass")) > limit


def label_violation(flat: tuple[str, ...], limits: SeriesLimits) -> str | None:
    """The reason a flat ``(name, value, ...)`` label set breaks a label limit of ``limits``, or None."""
    if limits.max_label_names_per_series and len(flat) // 2 > limits.max_label_names_per_series:
        return LABEL_COUNT
    if limits.max_label_name_length:
        limit = limits.max_label_name_length
        if any(_too_long(name, limit) for name in flat[::2]):
            return LABEL_NAME_LENGTH
    if limits.max_label_value_length:
        limit = limits.max_label_value_length
        if any(_too_long(value, limit) for value in flat[1::2]):
            return LABEL_VALUE_LENGTH
    return None
