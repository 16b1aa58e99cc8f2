"""Deletions in downsampled tiers: what ``DB.delete`` removed, kept until every tier file it hit is rewritten.

A :class:`Deletion` is a deleted interval ``[mint, maxt]`` (inclusive ms) of the series matching its
matchers, and the tier files (``<tier>/<file name>``) that still hold such data. Until a file is rewritten
without it (:meth:`~tsdb.storage.tiers.store.TierStore.apply_deletions`), readers drop every window of a
matching series whose samples overlap the interval (:func:`deleted_rows`): a window only partly deleted is
dropped whole, since its aggregates cannot be split. The pending list is ``<data>/tiers/deletions.json``,
written atomically.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tsdb.errors import CorruptionError
from tsdb.labels import Labels, Matcher, matches_all
from tsdb.storage.fileutil import atomic_write

DELETIONS_FILENAME = "deletions.json"


@dataclass
class Deletion:
    """Samples in ``[mint, maxt]`` of series matching ``matchers``, still present in ``files``."""

    matchers: list[Matcher]
    mint: int
    maxt: int
    files: set[str] = field(default_factory=set)

    def to_dict(self) -> dict[str, object]:
        return {"matchers": [[m.type.value, m.name, m.value] for m in self.matchers], "mint": self.mint,
                "maxt": self.maxt, "files": sorted(self.files)}

    @classmethod
    def from_dict(cls, obj: dict[str, object]) -> Deletion:
        matchers = [Matcher(str(t), str(n), str(v)) for t, n, v in obj["matchers"]]  # type: ignore[attr-defined]
        return cls(matchers, int(obj["mint"]), int(obj["maxt"]),  # type: ignore[call-overload]
                   {str(f) for f in obj["files"]})  # type: ignore[attr-defined]


def load_deletions(root: Path) -> list[Deletion]:
    """The pending deletions under the tiers directory ``root`` (none when the file is absent)."""
    path = root / DELETIONS_FILENAME
    try:
        return [Deletion.from_dict(d) for d in json.loads(path.read_text(encoding="utf-8"))]
    except FileNotFoundError:
        return []
    except (ValueError, KeyError, TypeError) as err:
        raise CorruptionError(f"malformed tier deletions file: {err}", str(path)) from err


def save_deletions(root: Path, deletions: Sequence[Deletion]) -> None:
    """Write the pending deletions atomically (the file is removed when none are left)."""
    path = root / DELETIONS_FILENAME
    if not deletions:
        path.unlink(missing_ok=True)
        return
    root.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps([d.to_dict() for d in deletions]), sync_dir=True)


def deleted_rows(deletions: Sequence[Deletion], series: Sequence[Labels], series_id: npt.NDArray[np.int32],
                 first_ts: npt.NDArray[np.int64], last_ts: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Per row (a window of series ``series[series_id[i]]``): does a deletion cover some of its samples?"""
    out = np.zeros(len(series_id), dtype=bool)
    for d in deletions:
        hit = np.asarray([matches_all(d.matchers, lb) for lb in series], dtype=bool)
        if not hit.any():
            continue
        out |= hit[series_id] & (first_ts <= d.maxt) & (last_ts >= d.mint)
    return out
