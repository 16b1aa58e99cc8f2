"""Escaping for HTML templates (email ``html``), approximating Go's ``html/template``.

Alertmanager runs HTML bodies through Go's contextual escaper. tsdb escapes the template *data* instead:
every string of the data is HTML-escaped as ``html/template`` escapes text (``& < > " ' +`` and NUL),
and the URLs (``.ExternalURL``, ``.GeneratorURL``) are first normalised as it normalises ``href`` values.
For values printed as they are (the default email does only that) the output is the same; a template that
transforms a value (``toUpper``, ``reReplaceAll``) sees the escaped text. :data:`HTML_FUNCS` replace two
functions in HTML templates: ``urlquery`` quotes the unescaped text and escapes its result (as Go's
escaper does after it), ``safeHtml`` gives the unescaped text, printed as is.
"""

from __future__ import annotations

import dataclasses
import html
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from tsdb.alerting.gotmpl.data import KV, AlertData, Alerts, Data
from tsdb.alerting.gotmpl.funcs import SafeHtml
from tsdb.gotemplate.gofmt import sprint

_HTML = {"\0": "\ufffd", '"': "&#34;", "'": "&#39;", "&": "&amp;", "+": "&#43;", "<": "&lt;", ">": "&gt;"}
_HTML_RE = re.compile("[\0\"'&+<>]")
_URL_KEEP = re.compile(r"[A-Za-z0-9\-._~!#$&*+,/:;=?@\[\]%]")


def escape_html(text: str) -> str:
    """Go's ``html/template`` escaping of text and attribute values."""
    return _HTML_RE.sub(lambda m: _HTML[m.group(0)], text)


def normalize_url(url: str) -> str:
    """Go's URL normaliser for attributes: bytes outside the URL character set percent-encoded."""
    return "".join(c if _URL_KEEP.fullmatch(c) else "".join(f"%{b:02X}" for b in c.encode()) for c in url)


def _kv(kv: KV) -> KV:
    return KV({escape_html(k): escape_html(v) for k, v in kv.items()})


def escaped(data: Data) -> Data:
    """``data`` with every string escaped for HTML output (see the module docstring)."""
    alerts = Alerts(AlertData(a.Status, _kv(a.Labels), _kv(a.Annotations), a.StartsAt, a.EndsAt,
                              escape_html(normalize_url(a.GeneratorURL)), a.Fingerprint) for a in data.Alerts)
    return dataclasses.replace(data, Receiver=escape_html(data.Receiver), Alerts=alerts,
                               GroupLabels=_kv(data.GroupLabels), CommonLabels=_kv(data.CommonLabels),
                               CommonAnnotations=_kv(data.CommonAnnotations),
                               ExternalURL=escape_html(normalize_url(data.ExternalURL)))


def _urlquery(*args: Any) -> str:
    text = html.unescape(sprint(*args))
    return escape_html(urllib.parse.quote_plus(text, safe=""))


HTML_FUNCS: dict[str, Callable[..., Any]] = {
    "urlquery": _urlquery,
    "safeHtml": lambda s: SafeHtml(html.unescape(str(s))),
}
"""The functions HTML templates use instead of the text ones (see the module docstring)."""
