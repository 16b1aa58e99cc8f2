"""Go method lookup on map and slice types, for the template engine.

In Go, a named map or slice type with methods (Alertmanager's ``KV`` with ``.SortedPairs``/``.Remove``,
``Alerts`` with ``.Firing``/``.Resolved``) answers ``.Name`` with its method before any map key. The
engine (:mod:`tsdb.gotemplate`) reads only keys on a ``dict`` and nothing on a ``list``. :func:`install`
wraps its field evaluation once so that a value whose type lists ``name`` in ``GO_METHODS`` calls that
method (with the template's arguments); every other value is evaluated exactly as before.
"""

from __future__ import annotations

from typing import Any

from tsdb.gotemplate import execute
from tsdb.gotemplate.values import as_go_func

_installed = False


def install() -> None:
    """Idempotent: make ``GO_METHODS`` methods visible to templates."""
    global _installed
    if _installed:
        return
    original = execute.State.eval_field

    def eval_field(self: Any, dot: Any, name: str, node: Any, args: list[Any], final: Any, receiver: Any) -> Any:
        if name in getattr(type(receiver), "GO_METHODS", ()):
            return self.eval_call(dot, as_go_func(getattr(receiver, name)), False, node, name, args, final)
        return original(self, dot, name, node, args, final, receiver)

    execute.State.eval_field = eval_field  # type: ignore[method-assign]
    _installed = True
