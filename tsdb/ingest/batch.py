"""What every ingest decoder returns: a columnar :class:`Batch` of samples with its malformed lines,  (raw series
keys map to Labels across requests through :class:`tsdb.labels.LabelsCache`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tsdb.labels import Labels

MAX_REPORTED_ERRORS = 10
"""Line errors named in an answer; the rest are counted."""


@dataclass
class LineError:
    """A malformed line: its 1-based number in the body and what is wrong."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class Batch:
    """Decoded samples: ``labels[i]`` owns ``ts``/``values`` ``[offsets[i]:offsets[i+1]]`` (ms, float64),
    each series' samples in body order. ``errors`` lists malformed lines (at most
    :data:`MAX_REPORTED_ERRORS`; ``bad_lines`` counts them all); ``skipped_strings`` counts string fields."""

    labels: list[Labels]
    offsets: npt.NDArray[np.int64]
    ts: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    errors: list[LineError] = field(default_factory=list)
    bad_lines: int = 0
    skipped_strings: int = 0

    @property
    def num_samples(self) -> int:
        return len(self.ts)

    def error_text(self) -> str:
        """The errors as one message (``line 3: missing fields; ...``)."""
        more = self.bad_lines - len(self.errors)
        return "; ".join(map(str, self.errors)) + (f"; and {more} more malformed lines" if more > 0 else "")


def empty_batch() -> Batch:
    """A batch without samples."""
    return Batch([], np.zeros(1, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))


