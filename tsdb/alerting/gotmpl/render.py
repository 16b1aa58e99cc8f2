"""The notification template set: Alertmanager's default templates, then the ``templates:`` files.

:meth:`NotificationTemplates.load` parses the defaults shipped in ``tsdb/alerting/templates/`` and every
file matching the ``templates:`` globs (relative paths are relative to the configuration's directory);
a file that does not parse is a :class:`ConfigError` naming the file and line, as ``amtool check-config``
reports it. :meth:`text` and :meth:`html` execute one configured text field (Alertmanager's
``ExecuteTextString`` / ``ExecuteHTMLString``): an empty field renders empty, and a failure raises
:class:`NotificationTemplateError`.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path

from tsdb.alerting.gotmpl.data import Data
from tsdb.alerting.gotmpl.funcs import DEFAULT_FUNCS
from tsdb.alerting.gotmpl.html import HTML_FUNCS, escaped
from tsdb.errors import ConfigError
from tsdb.gotemplate.template import TemplateError, TemplateSet

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
DEFAULT_FILES = ("default.tmpl", "email.tmpl", "tsdb.tmpl")


class NotificationTemplateError(Exception):
    """A template that failed to parse or execute while rendering a notification."""


def template_files(patterns: Iterable[str], base_dir: Path | None) -> list[Path]:
    """The files the ``templates:`` globs match, in order (each glob's matches sorted; none is fine)."""
    found: list[Path] = []
    for pattern in patterns:
        full = Path(pattern) if base_dir is None or Path(pattern).is_absolute() else base_dir / pattern
        found.extend(Path(p) for p in sorted(glob.glob(str(full))) if Path(p).is_file())
    return found


class NotificationTemplates:
    """A parsed template set; safe to share (each execution parses its text into a copy of the set)."""

    def __init__(self, templates: TemplateSet, files: tuple[Path, ...] = ()) -> None:
        self._set = templates
        self._html_set = templates.clone().add_funcs(HTML_FUNCS)
        self.files = files

    @classmethod
    def load(cls, patterns: Iterable[str] = (), base_dir: Path | None = None,
             source: str = "alertmanager.yml") -> NotificationTemplates:
        """The defaults plus the files of ``patterns``; :class:`ConfigError` names a file that fails."""
        templates = TemplateSet(DEFAULT_FUNCS).option("missingkey=zero")
        for name in DEFAULT_FILES:
            templates.parse_files([TEMPLATE_DIR / name])
        files = template_files(patterns, base_dir)
        for path in files:
            try:
                templates.parse_files([path])
            except TemplateError as err:
                raise ConfigError(f"{source}: templates: {path}: {err}") from err
            except OSError as err:
                raise ConfigError(f"{source}: templates: cannot read {path}: {err}") from err
        return cls(templates, tuple(files))

    def has(self, name: str) -> bool:
        return self._set.has(name)

    def text(self, template: str, data: Data) -> str:
        """``template`` executed over ``data``; "" for ""; :class:`NotificationTemplateError` when it fails."""
        return self._execute(self._set, template, data)

    @staticmethod
    def _execute(templates: TemplateSet, template: str, data: Data) -> str:
        if not template:
            return ""
        try:
            return templates.execute_text(template, data)
        except TemplateError as err:
            raise NotificationTemplateError(str(err)) from err

    def html(self, template: str, data: Data) -> str:
        """As :meth:`text`, with the data escaped for HTML (see :mod:`tsdb.alerting.gotmpl.html`)."""
        return self._execute(self._html_set, template, escaped(data))


_DEFAULT: NotificationTemplates | None = None


def default_templates() -> NotificationTemplates:
    """The template set without ``templates:`` files (parsed once)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = NotificationTemplates.load()
    return _DEFAULT
