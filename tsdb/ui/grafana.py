"""Grafana dashboard JSON to the tsdb model and back (docs/dashboards.md, "Grafana import").

:func:`import_grafana` reads a classic dashboard (bare, wrapped as ``{"dashboard": ...}``, or a Grafana 12
``dashboard.grafana.app`` v1 resource whose ``spec`` is a classic model), including the old schema with
top-level ``rows[]``; it returns ``(dashboard, warnings)``. Only input that is not a dashboard at all raises
:class:`DashboardError`; everything it cannot convert is dropped or becomes a placeholder panel, with a
warning. :func:`export_grafana` writes the classic JSON (schemaVersion 39) that imports back to the same
model. :func:`is_tsdb_model` tells the two formats apart (for provisioned files)."""

from __future__ import annotations

import math
import re
from typing import Any

from tsdb.errors import DashboardError
from tsdb.ui.grafana_panels import DATASOURCE, Warnings, export_panel, grid_pos, import_panel, obj, seq
from tsdb.ui.model import SCHEMA_VERSION, UID_RE, VARIABLE_NAME_RE, VARIABLE_TYPES, new_uid, normalise

GRAFANA_SCHEMA_VERSION = 39
DEFAULT_SPAN = 4  # Grafana's default width (of 12) for old-schema panels without ``span``
_VARIABLE_KEYS = ("name", "type", "label", "description", "query", "regex", "sort", "multi", "includeAll",
                  "allValue", "current", "hide", "refresh", "auto", "auto_count", "auto_min")
_PIXELS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(px)?\s*$")


def is_tsdb_model(raw: dict[str, Any]) -> bool:
    """Whether a dashboard object is a tsdb model (else it is read as Grafana JSON)."""
    if "templating" in raw or "rows" in raw or "dashboard" in raw or "spec" in raw:
        return False
    return raw.get("schemaVersion") == SCHEMA_VERSION or ("variables" in raw and "schemaVersion" not in raw)


def _unwrap(raw: Any) -> tuple[dict[str, Any], str | None]:
    """The classic dashboard object inside ``raw`` and a uid from the resource metadata (if any)."""
    if not isinstance(raw, dict):
        raise DashboardError(f"not a Grafana dashboard: expected a JSON object, got {type(raw).__name__}")
    if isinstance(raw.get("dashboard"), dict):
        raw = raw["dashboard"]
    uid = None
    if isinstance(raw.get("spec"), dict) and ("apiVersion" in raw or "kind" in raw or "metadata" in raw):
        spec = raw["spec"]
        if "elements" in spec or "layout" in spec:
            raise DashboardError("spec: Grafana's v2 dashboard schema (elements/layout) is not supported; "
                                 "export the dashboard as classic JSON")
        metadata = obj(raw.get("metadata"))
        uid = metadata.get("name") if isinstance(metadata.get("name"), str) else None
        raw = spec
    if not any(key in raw for key in ("panels", "rows", "title", "templating")):
        raise DashboardError("not a Grafana dashboard: expected an object with title and panels "
                             "(or rows), bare or as {\"dashboard\": ...}")
    for key in ("panels", "rows"):
        if key in raw and not isinstance(raw[key], list):
            raise DashboardError(f"{key}: expected a list, got {type(raw[key]).__name__}")
    return raw, uid


def _height_units(value: Any, default: int) -> int:
    """Old-schema heights ("250px", 250) in 30 px grid units."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        pixels = float(value)
    else:
        match = _PIXELS.match(str(value or ""))
        if not match:
            return default
        pixels = float(match.group(1))
    if not math.isfinite(pixels):
        return default
    return max(1, min(math.ceil(pixels / 30), 1000))


def _rows_to_panels(rows: list[Any]) -> list[dict[str, Any]]:
    """Old schema (schemaVersion < 16) ``rows[].panels[]`` with ``span`` widths as grid-positioned panels
    (a row panel per row when there are several rows or a row shows its title)."""
    out: list[dict[str, Any]] = []
    rows = [row for row in rows if isinstance(row, dict)]
    show_rows = len(rows) > 1 or any(row.get("showTitle") for row in rows)
    y = 0
    for row in rows:
        collapsed = bool(row.get("collapse"))
        row_panel: dict[str, Any] | None = None
        if show_rows:
            row_panel = {"type": "row", "title": str(row.get("title") or ""), "collapsed": collapsed,
                         "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []}
            out.append(row_panel)
            y += 1
        row_height = _height_units(row.get("height"), 8)
        x, line_height, top = 0, 0, y
        for panel in seq(row.get("panels")):
            if not isinstance(panel, dict):
                continue
            span = panel.get("span")
            if not isinstance(span, int | float) or isinstance(span, bool) or not math.isfinite(span):
                span = DEFAULT_SPAN
            w = min(max(round(max(min(span, 12), 0) * 2), 1), 24)
            h = _height_units(panel.get("height"), row_height)
            if x + w > 24:
                top, x, line_height = top + line_height, 0, 0
            placed = {**panel, "gridPos": {"x": x, "y": top, "w": w, "h": h}}
            x += w
            line_height = max(line_height, h)
            if row_panel is not None and collapsed:
                row_panel["panels"].append(placed)
            else:
                out.append(placed)
        if not (row_panel is not None and collapsed):
            y = top + line_height
    return out


def _variable(raw: Any, where: str, seen: set[str], warnings: Warnings) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        warnings.append(f"{where}: not an object; dropped")
        return None
    name, kind = raw.get("name"), raw.get("type")
    where = f"{where} ({name!r})"
    if kind in ("datasource", "adhoc") or kind not in VARIABLE_TYPES:
        reason = {"datasource": "tsdb is the only data source", "adhoc": "ad hoc filters are not supported"}
        warnings.append(f"{where}: {kind!r} variables are not supported ({reason.get(str(kind), 'unknown type')});"
                        " dropped")
        return None
    if not isinstance(name, str) or not VARIABLE_NAME_RE.fullmatch(name) or name in seen:
        warnings.append(f"{where}: invalid or duplicate variable name; dropped")
        return None
    seen.add(name)
    var = {key: raw[key] for key in _VARIABLE_KEYS if key in raw}
    query = raw.get("query")
    if isinstance(query, dict):  # Grafana 9+ query editors store {query, refId, qryType}
        query = query.get("query")
    var["query"] = query if isinstance(query, str) else ""
    if not isinstance(var.get("regex"), str):
        var["regex"] = ""
    for key in ("multi", "includeAll"):
        var[key] = bool(var.get(key))
    var["sort"] = raw["sort"] if isinstance(raw.get("sort"), int) and raw["sort"] >= 0 else 0
    var["hide"] = raw["hide"] if isinstance(raw.get("hide"), int) and 0 <= raw["hide"] <= 2 else 0
    if not isinstance(var.get("allValue"), str) or not var.get("allValue"):
        var["allValue"] = None
    for key in ("label", "description"):
        if key in var and not isinstance(var[key], str):
            del var[key]
    current = obj(raw.get("current"))
    var["current"] = {k: current[k] for k in ("text", "value") if k in current}
    var["options"] = []
    if kind == "query":  # Grafana's "on dashboard load" (1) when absent; 2 = on time range change
        var["refresh"] = raw["refresh"] if raw.get("refresh") in (1, 2) else 1
    return var


def _links(raw: Any, warnings: Warnings) -> list[dict[str, Any]]:
    out = []
    for i, link in enumerate(seq(raw)):
        if not isinstance(link, dict):
            continue
        if not link.get("url"):
            warnings.append(f"links[{i}]: dashboard links by tag are not supported; dropped")
            continue
        out.append({"title": str(link.get("title") or ""), "url": str(link["url"]),
                    "targetBlank": bool(link.get("targetBlank"))})
    return out


def import_grafana(raw: Any) -> tuple[dict[str, Any], list[str]]:
    """A Grafana dashboard as a normalised tsdb model, and the warnings about what did not convert."""
    grafana, resource_uid = _unwrap(raw)
    warnings: Warnings = []
    uid = grafana.get("uid") or resource_uid
    if uid is not None and (not isinstance(uid, str) or not UID_RE.fullmatch(uid)):
        warnings.append(f"uid: {uid!r} is not a valid tsdb uid ([A-Za-z0-9_-]{{1,40}}); a new one was generated")
        uid = None
    title = grafana.get("title")
    if not isinstance(title, str) or not title.strip():
        warnings.append("title: missing; using 'Imported dashboard'")
        title = "Imported dashboard"
    time_range = obj(grafana.get("time"))
    refresh = grafana.get("refresh")
    templating = obj(grafana.get("templating"))
    seen: set[str] = set()
    variables = [_variable(v, f"templating.list[{i}]", seen, warnings)
                 for i, v in enumerate(seq(templating.get("list")))]
    annotations = obj(grafana.get("annotations"))
    if any(isinstance(a, dict) and not a.get("builtIn") for a in annotations.get("list") or []):
        warnings.append("annotations: annotation queries are not supported and were ignored")
    raw_panels = grafana.get("panels") or []
    if not raw_panels and grafana.get("rows"):
        raw_panels = _rows_to_panels(grafana["rows"])
    panels = []
    for i, panel in enumerate(raw_panels):
        if not isinstance(panel, dict):
            warnings.append(f"panels[{i}]: not an object; dropped")
            continue
        if panel.get("type") == "row":
            children = [import_panel(c, f"panels[{i}].panels[{j}]", warnings)
                        for j, c in enumerate(panel.get("panels") or []) if isinstance(c, dict)]
            row = {"type": "row", "title": str(panel.get("title") or ""), "collapsed": bool(panel.get("collapsed")),
                   "gridPos": {**grid_pos(panel.get("gridPos")), "x": 0, "w": 24},
                   "panels": children}
            if isinstance(panel.get("id"), int) and panel["id"] > 0:
                row["id"] = panel["id"]
            if isinstance(panel.get("repeat"), str) and panel["repeat"]:
                row["repeat"] = panel["repeat"]
            panels.append(row)
        else:
            panels.append(import_panel(panel, f"panels[{i}]", warnings))
    _dedupe_ids(panels)
    graph_tooltip = grafana.get("graphTooltip")
    model: dict[str, Any] = {
        "uid": uid, "title": title, "description": str(grafana.get("description") or ""),
        "tags": [str(t) for t in seq(grafana.get("tags")) if isinstance(t, str | int | float)],
        "time": {"from": str(time_range.get("from") or "now-6h"), "to": str(time_range.get("to") or "now")},
        "refresh": refresh if isinstance(refresh, str) else "",
        "timezone": grafana.get("timezone") if isinstance(grafana.get("timezone"), str) and grafana["timezone"]
        else "browser",
        "graphTooltip": graph_tooltip if graph_tooltip in (0, 1, 2) else 0,
        "variables": [v for v in variables if v is not None],
        "links": _links(grafana.get("links"), warnings),
        "panels": panels, "schemaVersion": SCHEMA_VERSION}
    if uid is None:
        model["uid"] = new_uid()
    return normalise(model), warnings


def _dedupe_ids(panels: list[dict[str, Any]]) -> None:
    """Drop repeated panel ids (Grafana tolerates them; normalise() then assigns fresh ones)."""
    seen: set[int] = set()
    for panel in [p for top in panels for p in [top, *(top.get("panels") or [] if top["type"] == "row" else [])]]:
        if "id" in panel:
            if panel["id"] in seen:
                del panel["id"]
            else:
                seen.add(panel["id"])


def export_grafana(model: dict[str, Any]) -> dict[str, Any]:
    """A tsdb dashboard as Grafana classic JSON (schemaVersion 39, Prometheus data source as an input)."""
    dash = normalise(model)
    variables = []
    for var in dash["variables"]:
        out = {key: var[key] for key in _VARIABLE_KEYS if key in var}
        out["options"] = []
        if var["type"] == "query":
            out["datasource"] = dict(DATASOURCE)
            out["definition"] = var["query"]
            out["query"] = {"query": var["query"], "refId": "PrometheusVariableQueryEditor-VariableQuery"}
        variables.append(out)
    return {
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "description": "", "type": "datasource",
                      "pluginId": "prometheus", "pluginName": "Prometheus"}],
        "uid": dash["uid"], "title": dash["title"], "description": dash["description"], "tags": list(dash["tags"]),
        "editable": True, "time": dict(dash["time"]), "refresh": dash["refresh"], "timezone": dash["timezone"],
        "graphTooltip": dash["graphTooltip"],
        "links": [{**link, "type": "link", "icon": "external link", "tags": []} for link in dash["links"]],
        "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                                  "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                                  "name": "Annotations & Alerts", "type": "dashboard"}]},
        "templating": {"list": variables},
        "panels": [export_panel(panel) for panel in dash["panels"]],
        "schemaVersion": GRAFANA_SCHEMA_VERSION, "version": dash.get("version", 1)}
