"""The one error of the template engine."""

from __future__ import annotations

from tsdb.errors import InvalidArgumentError


class TemplateError(InvalidArgumentError):
    """A template failed to parse or execute; the message is Go's (``template: name:line: ...``)."""


class FuncError(Exception):
    """Raised by a template function to report an error as Go's ``error calling fn: <message>``."""
