"""The dashboard model (docs/dashboards.md): :func:`normalise` validates a dashboard dict and fills in
defaults, returning a new dict; bad input raises :class:`DashboardError` naming the offending part
(``panels[3].gridPos.w: must be 1..24``). Unknown keys are kept unchanged. Normalising is idempotent:
``normalise(normalise(d)) == normalise(d)``."""

from __future__ import annotations

import copy
import re
import uuid
from typing import Any

from tsdb.errors import DashboardError

SCHEMA_VERSION = 1
GRID_COLUMNS = 24
UID_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")
VARIABLE_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PANEL_TYPES = frozenset({"timeseries", "stat", "gauge", "bargauge", "table", "heatmap", "text", "row",
                         "placeholder"})
VARIABLE_TYPES = frozenset({"query", "custom", "constant", "interval", "textbox"})
DEFAULT_GRID = {"x": 0, "y": 0, "w": 12, "h": 8}


def new_uid() -> str:
    """A fresh random uid (12 URL-safe characters)."""
    return uuid.uuid4().hex[:12]


def _fail(where: str, message: str) -> DashboardError:
    return DashboardError(f"{where}: {message}" if where else message)


def _dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, f"expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(where, f"expected a list, got {type(value).__name__}")
    return value


def _str(obj: dict[str, Any], key: str, where: str, default: str = "") -> str:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise _fail(f"{where}{key}", f"expected a string, got {type(value).__name__}")
    return value


def _bool(obj: dict[str, Any], key: str, where: str, default: bool = False) -> bool:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _fail(f"{where}{key}", f"expected true or false, got {value!r}")
    return value


def _int(obj: dict[str, Any], key: str, where: str, default: int | None, low: int | None = None,
         high: int | None = None) -> int | None:
    value = obj.get(key)
    if value is None:
        return default
    # JSON has one number type: 3.0 is accepted as 3, 3.5 is not
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(f"{where}{key}", f"expected an integer, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise _fail(f"{where}{key}", f"must be {bounds}, got {value}")
    return value


def _grid(raw: Any, where: str) -> dict[str, Any]:
    grid: dict[str, Any] = dict(DEFAULT_GRID) if raw is None else dict(_dict(raw, where))
    for key in ("x", "y", "w", "h"):
        grid.setdefault(key, DEFAULT_GRID[key])
    x = _int(grid, "x", f"{where}.", 0, 0, GRID_COLUMNS - 1) or 0
    w = _int(grid, "w", f"{where}.", 12, 1, GRID_COLUMNS) or 12
    grid["y"] = _int(grid, "y", f"{where}.", 0, 0)
    grid["h"] = _int(grid, "h", f"{where}.", 8, 1)
    if x + w > GRID_COLUMNS:
        raise _fail(f"{where}.w", f"x + w must be <= {GRID_COLUMNS}, got {x} + {w}")
    grid["x"], grid["w"] = x, w
    return grid


def _target(raw: Any, where: str, index: int) -> dict[str, Any]:
    target = dict(_dict(raw, where))
    p = f"{where}."
    target["refId"] = _str(target, "refId", p) or _ref_id(index)
    target["expr"] = _str(target, "expr", p)
    target["legendFormat"] = _str(target, "legendFormat", p)
    target["interval"] = _str(target, "interval", p)
    target["instant"] = _bool(target, "instant", p)
    target["hide"] = _bool(target, "hide", p)
    return target


def _ref_id(index: int) -> str:
    """A, B, ..., Z, AA, AB, ... as Grafana names targets."""
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(ord("A") + rem) + name
    return name


def _panel(raw: Any, where: str, ids: set[int], missing: list[dict[str, Any]], nested: bool) -> dict[str, Any]:
    panel = dict(_dict(raw, where))
    p = f"{where}."
    kind = panel.get("type")
    if kind not in PANEL_TYPES:
        raise _fail(f"{p}type", f"unknown panel type {kind!r} (known: {', '.join(sorted(PANEL_TYPES))})")
    if kind == "row" and nested:
        raise _fail(f"{p}type", "a row cannot hold another row")
    pid = _int(panel, "id", p, None, 1)
    if pid is not None:
        if pid in ids:
            raise _fail(f"{p}id", f"duplicate panel id {pid}")
        ids.add(pid)
    else:
        missing.append(panel)
    panel["title"] = _str(panel, "title", p)
    panel["description"] = _str(panel, "description", p)
    panel["gridPos"] = _grid(panel.get("gridPos"), f"{p}gridPos")
    if kind == "row":
        panel["collapsed"] = _bool(panel, "collapsed", p)
        children = _list(panel.get("panels") or [], f"{p}panels")
        panel["panels"] = [_panel(child, f"{p}panels[{i}]", ids, missing, True) for i, child in enumerate(children)]
    else:
        targets = _list(panel.get("targets") or [], f"{p}targets")
        panel["targets"] = [_target(t, f"{p}targets[{i}]", i) for i, t in enumerate(targets)]
        refs = [t["refId"] for t in panel["targets"]]
        for i, ref in enumerate(refs):
            if ref in refs[:i]:
                raise _fail(f"{p}targets[{i}].refId", f"duplicate refId {ref!r}")
        panel["fieldConfig"] = dict(_dict(panel.get("fieldConfig") or {}, f"{p}fieldConfig"))
        panel["options"] = dict(_dict(panel.get("options") or {}, f"{p}options"))
        panel["links"] = _list(panel.get("links") or [], f"{p}links")
        if kind == "placeholder":
            panel["options"].setdefault("originalType", "")
            panel["options"].setdefault("message", "")
    repeat = panel.get("repeat")
    if repeat is not None and not isinstance(repeat, str):
        raise _fail(f"{p}repeat", "expected a variable name or null")
    panel["repeat"] = repeat or None
    panel["maxPerRow"] = _int(panel, "maxPerRow", p, None, 1)
    return panel


def _variable(raw: Any, where: str, seen: set[str]) -> dict[str, Any]:
    var = dict(_dict(raw, where))
    p = f"{where}."
    name = _str(var, "name", p)
    if not VARIABLE_NAME_RE.fullmatch(name):
        raise _fail(f"{p}name", f"must match {VARIABLE_NAME_RE.pattern}, got {name!r}")
    if name in seen:
        raise _fail(f"{p}name", f"duplicate variable {name!r}")
    seen.add(name)
    kind = var.get("type")
    if kind not in VARIABLE_TYPES:
        raise _fail(f"{p}type", f"unknown variable type {kind!r} (known: {', '.join(sorted(VARIABLE_TYPES))})")
    label = var.get("label")
    if label is not None and not isinstance(label, str):
        raise _fail(f"{p}label", "expected a string or null")
    var["query"] = _str(var, "query", p)
    var["regex"] = _str(var, "regex", p)
    var["sort"] = _int(var, "sort", p, 0, 0)
    var["multi"] = _bool(var, "multi", p)
    var["includeAll"] = _bool(var, "includeAll", p)
    all_value = var.get("allValue")
    if all_value is not None and not isinstance(all_value, str):
        raise _fail(f"{p}allValue", "expected a string or null")
    var["allValue"] = all_value or None
    var["current"] = dict(_dict(var.get("current") or {}, f"{p}current"))
    var["options"] = _list(var.get("options") or [], f"{p}options")
    var["hide"] = _int(var, "hide", p, 0, 0, 2)
    return var


def _link(raw: Any, where: str) -> dict[str, Any]:
    link = dict(_dict(raw, where))
    link["title"] = _str(link, "title", f"{where}.")
    link["url"] = _str(link, "url", f"{where}.")
    link["targetBlank"] = _bool(link, "targetBlank", f"{where}.")
    return link


def normalise(raw: Any) -> dict[str, Any]:
    """A validated copy of dashboard ``raw`` with defaults filled in (uid generated, panel ids assigned)."""
    dash = copy.deepcopy(_dict(raw, "dashboard"))
    uid = dash.get("uid")
    if uid in (None, ""):
        uid = new_uid()
    if not isinstance(uid, str) or not UID_RE.fullmatch(uid):
        raise _fail("uid", f"must match {UID_RE.pattern}, got {uid!r}")
    dash["uid"] = uid
    title = dash.get("title")
    if not isinstance(title, str) or not title.strip():
        raise _fail("title", "required (a non-empty string)")
    dash["description"] = _str(dash, "description", "")
    tags = _list(dash.get("tags") or [], "tags")
    for i, tag in enumerate(tags):
        if not isinstance(tag, str):
            raise _fail(f"tags[{i}]", "expected a string")
    dash["tags"] = list(tags)
    time_range = dict(_dict(dash.get("time") or {}, "time"))
    time_range["from"] = _str(time_range, "from", "time.", "now-6h") or "now-6h"
    time_range["to"] = _str(time_range, "to", "time.", "now") or "now"
    dash["time"] = time_range
    dash["refresh"] = _str(dash, "refresh", "")
    dash["timezone"] = _str(dash, "timezone", "", "browser") or "browser"
    dash["graphTooltip"] = _int(dash, "graphTooltip", "", 0, 0, 2)
    seen: set[str] = set()
    variables = _list(dash.get("variables") or [], "variables")
    dash["variables"] = [_variable(v, f"variables[{i}]", seen) for i, v in enumerate(variables)]
    dash["links"] = [_link(v, f"links[{i}]") for i, v in enumerate(_list(dash.get("links") or [], "links"))]
    ids: set[int] = set()
    missing: list[dict[str, Any]] = []
    panels = _list(dash.get("panels") or [], "panels")
    dash["panels"] = [_panel(p, f"panels[{i}]", ids, missing, False) for i, p in enumerate(panels)]
    next_id = max(ids, default=0) + 1
    for panel in missing:  # in document order, after every explicit id is known
        panel["id"] = next_id
        next_id += 1
    schema = _int(dash, "schemaVersion", "", SCHEMA_VERSION, 1)
    if schema != SCHEMA_VERSION:
        raise _fail("schemaVersion", f"unsupported model version {schema} (this server reads {SCHEMA_VERSION})")
    dash["schemaVersion"] = SCHEMA_VERSION
    version = _int(dash, "version", "", None, 0)
    if version is None:
        dash.pop("version", None)
    else:
        dash["version"] = version
    return dash


def iter_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel of a dashboard, rows' children (collapsed rows) included, in document order."""
    out: list[dict[str, Any]] = []
    for panel in dashboard.get("panels") or []:
        out.append(panel)
        out.extend(panel.get("panels") or [] if panel.get("type") == "row" else [])
    return out
