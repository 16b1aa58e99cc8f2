"""The one error tree of tsdb.

Every error inherits :class:`TsdbError` and the builtin it behaves like, so callers may catch either
``TsdbError`` or e.g. ``ValueError``. Messages name the offending series, position, file or offset.
"""

from __future__ import annotations


class TsdbError(Exception):
    """Base of every error raised by tsdb on purpose."""


class InvalidArgumentError(TsdbError, ValueError):
    """A caller passed something malformed (bad option, bad parameter, bad request)."""


class ConfigError(InvalidArgumentError):
    """A configuration file or option is invalid; the message names the file and key."""


class InvalidLabelsError(InvalidArgumentError):
    """A label set is invalid: bad name, empty value, duplicate name."""


class InvalidMatcherError(InvalidArgumentError):
    """A label matcher is invalid (unknown operator, bad regular expression)."""


class ParseError(InvalidArgumentError):
    """A query (or other text) could not be parsed.

    ``query`` is the full text, ``position`` the 0-based character offset of the offending character.
    ``str()`` renders the text with a caret under that character.
    """

    def __init__(self, message: str, query: str = "", position: int = 0) -> None:
        self.message = message
        self.query = query
        self.position = max(0, min(position, len(query)))
        super().__init__(self.render())

    def render(self) -> str:
        """The message, then the query line holding the position, then a caret under it."""
        if not self.query:
            return self.message
        line_start = self.query.rfind("\n", 0, self.position) + 1
        line_end = self.query.find("\n", self.position)
        if line_end < 0:
            line_end = len(self.query)
        line_no = self.query.count("\n", 0, self.position) + 1
        column = self.position - line_start
        line = self.query[line_start:line_end]
        return f"{self.message} (line {line_no}, column {column + 1})\n  {line}\n  {' ' * column}^"


class SampleRejectedError(TsdbError, ValueError):
    """Base of per-sample rejections; ``series`` names the series, ``ts`` the timestamp (ms)."""

    reason = "rejected"

    def __init__(self, message: str, series: str = "", ts: int | None = None) -> None:
        self.series = series
        self.ts = ts
        super().__init__(message)


class OutOfOrderSampleError(SampleRejectedError):
    """A sample is older than the newest sample of its series (outside the out-of-order window)."""

    reason = "out_of_order"


class OutOfBoundsError(SampleRejectedError):
    """A sample is older than the head's lower bound (its block is already persisted)."""

    reason = "out_of_bounds"


class DuplicateSampleError(SampleRejectedError):
    """A sample repeats an existing timestamp with a different value."""

    reason = "duplicate"


class StorageError(TsdbError, OSError):
    """The storage failed to read or write (disk full, permission, I/O error)."""


class DataDirLockedError(StorageError):
    """The data directory is already opened by another process."""


class MaintenanceInterruptedError(TsdbError):
    """Maintenance (a block write, compaction or tier write) gave up at a safe point because the database
    is closing. Its partial output is removed; the data it was writing is still in the WAL or the source
    blocks, so nothing is lost and a later maintenance redoes the work."""


class CorruptionError(TsdbError, ValueError):
    """Persistent data is corrupt. ``path`` and ``offset`` say where (either may be unknown)."""

    def __init__(self, message: str, path: str = "", offset: int | None = None) -> None:
        self.path = path
        self.offset = offset
        where = []
        if path:
            where.append(str(path))
        if offset is not None:
            where.append(f"offset {offset}")
        super().__init__(f"{message} ({', '.join(where)})" if where else message)


class QueryError(TsdbError, RuntimeError):
    """A query failed during evaluation."""


class QueryTimeoutError(QueryError, TimeoutError):
    """A query ran past its timeout."""


class QueryLimitError(QueryError):
    """A query exceeded a limit (samples loaded, points per series, result size)."""


class DashboardError(InvalidArgumentError):
    """A dashboard (or a request about one) is invalid; the message names the offending part
    (``panels[3].gridPos.w: must be 1..24``)."""


class DashboardNotFoundError(TsdbError, LookupError):
    """No dashboard (or no such version of one) with the given uid."""


class DashboardConflictError(TsdbError, ValueError):
    """A save lost a race (the stored version moved on) or would take a uid that is already used."""


class DashboardReadOnlyError(TsdbError, PermissionError):
    """A built-in or provisioned dashboard cannot be changed through the API."""
