"""``TemplateSet``: a set of named Go templates sharing functions, as Go's ``*template.Template``.

``parse`` adds the ``{{define}}``d templates of a text and its body under ``name`` (a later definition of a
name replaces an earlier one, an empty body never replaces a non-empty template, as Go does);
``execute`` runs one; ``execute_text`` parses a text as an extra template that can call the defined ones
and runs it without keeping it. Functions are any callables (see :mod:`tsdb.gotemplate.values`); errors
are :class:`TemplateError` with Go's messages. ``option("missingkey=zero")`` is Go's ``Option``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from tsdb.gotemplate.builtins import BUILTINS
from tsdb.gotemplate.errors import TemplateError
from tsdb.gotemplate.execute import State
from tsdb.gotemplate.nodes import Tree, is_empty_tree
from tsdb.gotemplate.parse import parse
from tsdb.gotemplate.values import GoFunc, as_go_func

__all__ = ["TemplateError", "TemplateSet"]

_MISSINGKEY = {"missingkey=default": "default", "missingkey=invalid": "default", "missingkey=zero": "zero",
               "missingkey=error": "error"}


def _is_func_name(name: str) -> bool:
    """Go's goodName: a letter or '_', then letters, digits or '_'."""
    return bool(name) and (name[0].isalpha() or name[0] == "_") and all(c.isalnum() or c == "_" for c in name)


class TemplateSet:
    """Named templates plus the functions they may call (Go's builtins are always there)."""

    def __init__(self, funcs: Mapping[str, Callable[..., Any]] | None = None) -> None:
        self._funcs: dict[str, GoFunc] = dict(BUILTINS)
        self._trees: dict[str, Tree] = {}
        self._missingkey = "default"
        if funcs:
            self.add_funcs(funcs)

    def add_funcs(self, funcs: Mapping[str, Callable[..., Any]]) -> TemplateSet:
        """Add or replace functions (Go's ``Funcs``); returns self."""
        for name, fn in funcs.items():
            if not _is_func_name(name):
                raise TemplateError(f"function name {name!r} is not a valid identifier")
            self._funcs[name] = as_go_func(fn)
        return self

    def option(self, *options: str) -> TemplateSet:
        """Go's ``Option``: ``missingkey=default|invalid|zero|error``; returns self."""
        for opt in options:
            if opt not in _MISSINGKEY:
                raise TemplateError(f"unrecognized option: {opt}")
            self._missingkey = _MISSINGKEY[opt]
        return self

    def parse(self, text: str, name: str = "") -> TemplateSet:
        """Parse ``text``: its definitions under their names, its body under ``name``; returns self."""
        trees = parse(text, name, self._funcs)
        for tree_name, tree in trees.items():
            old = self._trees.get(tree_name)
            if old is not None and is_empty_tree(tree.root) and not is_empty_tree(old.root):
                continue
            self._trees[tree_name] = tree
        return self

    def parse_files(self, paths: Iterable[str | Path]) -> TemplateSet:
        """Parse each file, its body under the file's base name (Go's ``ParseFiles``); returns self."""
        for path in paths:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as err:
                raise TemplateError(f"template: {err}") from None
            self.parse(text, os.path.basename(str(path)))
        return self

    def has(self, name: str) -> bool:
        return name in self._trees

    def names(self) -> list[str]:
        return sorted(self._trees)

    def execute(self, name: str, data: Any, *, funcs: Mapping[str, Callable[..., Any]] | None = None) -> str:
        """Run template ``name`` on ``data``; raises TemplateError. ``funcs`` replace functions of the
        same names for this execution only (names must exist at parse time)."""
        tree = self._trees.get(name)
        if tree is None:
            raise TemplateError(f'template: no template "{name}" associated with template ""')
        table = self._funcs
        if funcs:
            table = {**self._funcs, **{k: as_go_func(v) for k, v in funcs.items()}}
        return State(self._trees, table, self._missingkey).run(tree, data)

    def execute_text(self, text: str, data: Any, name: str = "") -> str:
        """Parse ``text`` (its definitions included) into a copy of the set and run it under ``name``."""
        scratch = self.clone()
        scratch.parse(text, name)
        tree = scratch._trees[name]
        return State(scratch._trees, scratch._funcs, scratch._missingkey).run(tree, data)

    def clone(self) -> TemplateSet:
        """An independent copy (trees are immutable once parsed, so they are shared)."""
        copy = TemplateSet()
        copy._funcs = dict(self._funcs)
        copy._trees = dict(self._trees)
        copy._missingkey = self._missingkey
        return copy
