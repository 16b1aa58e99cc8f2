"""A storage read-out for comparisons: every series as ``(ts, value bits)`` lists (bits, so NaNs compare)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tsdb.labels import Labels, Matcher
from tsdb.storage.interfaces import Queryable

Dump = dict[Labels, list[tuple[int, int]]]
ALL = (Matcher("=~", "__name__", ".+"),)


def dump(store: Queryable, matchers: Sequence[Matcher] = ALL, mint: int = -(2**62), maxt: int = 2**62) -> Dump:
    """Series matching ``matchers`` with samples in ``[mint, maxt]``."""
    querier = store.querier(mint, maxt)
    try:
        out: Dump = {}
        for s in querier.select(matchers):
            ts, values = s.samples()
            if len(ts):
                out[s.labels] = list(zip(ts.tolist(), values.view(np.uint64).tolist(), strict=True))
        return out
    finally:
        querier.close()
